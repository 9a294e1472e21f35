"""A small GraphQL client over the real ASGI app, and one-line account factories."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import httpx

PASSWORD = "correct-horse-battery"
_counter = itertools.count(1)

REGISTER = """
mutation($input: RegisterInput!) {
  register(input: $input) {
    accessToken refreshToken accessTokenExpiresAt
    user { id email name roles }
    errors { code message field }
  }
}"""

LOGIN = """
mutation($email: String!, $password: String!) {
  login(email: $email, password: $password) {
    accessToken refreshToken user { id email roles } errors { code message field }
  }
}"""


@dataclass
class Account:
    id: str
    email: str
    token: str
    refresh_token: str
    roles: list[str]


class GraphQLClient:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def post(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> httpx.Response:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        return await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )

    async def execute(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        """The whole response body (data and errors)."""
        response = await self.post(query, variables, token)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def data(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        """`data`, asserting there were no top-level errors."""
        body = await self.execute(query, variables, token)
        assert not body.get("errors"), body["errors"]
        result: dict[str, Any] = body["data"]
        return result

    async def register(
        self, *, organizer: bool = False, email: str | None = None, **extra: Any
    ) -> Account:
        email = email or f"user{next(_counter)}@example.com"
        payload = (
            await self.data(
                REGISTER,
                {
                    "input": {
                        "email": email,
                        "password": PASSWORD,
                        "name": email.split("@")[0],
                        "asOrganizer": organizer,
                        **extra,
                    }
                },
            )
        )["register"]
        assert payload["errors"] == [], payload["errors"]
        return Account(
            payload["user"]["id"],
            email,
            payload["accessToken"],
            payload["refreshToken"],
            payload["user"]["roles"],
        )

    async def login(self, email: str, password: str = PASSWORD) -> Account:
        payload = (await self.data(LOGIN, {"email": email, "password": password}))["login"]
        assert payload["errors"] == [], payload["errors"]
        return Account(
            payload["user"]["id"],
            email,
            payload["accessToken"],
            payload["refreshToken"],
            payload["user"]["roles"],
        )


async def make_admin(app: Any, client: GraphQLClient, email: str | None = None) -> Account:
    """An ADMIN, created the way `eventhub create-admin` does (the only way to get one)."""
    from eventhub.services import users

    state = app.state.eventhub
    email = email or f"admin{next(_counter)}@example.com"
    data = users.validate_registration(users.Registration(email, PASSWORD, "Admin"))
    async with state.session_factory() as session:
        await users.ensure_admin(session, data, await state.authenticator.hasher.hash(PASSWORD))
    return await client.login(email)


async def make_staff(app: Any, client: GraphQLClient, admin: Account) -> Account:
    account = await client.register()
    body = await client.data(
        "mutation($id: ID!) { setUserRoles(userId: $id, roles: [STAFF]) { errors { code } } }",
        {"id": account.id},
        admin.token,
    )
    assert body["setUserRoles"]["errors"] == []
    return await client.login(account.email)
