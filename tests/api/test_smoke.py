"""The app answers GraphQL and health checks on both databases."""

from __future__ import annotations

from tests.support.graphql import GraphQLClient


async def test_register_then_me(client: GraphQLClient) -> None:
    account = await client.register()
    data = await client.data("{ me { email roles } }", token=account.token)
    assert data["me"] == {"email": account.email, "roles": ["CUSTOMER"]}


async def test_readyz_answers_while_database_does(client: GraphQLClient) -> None:
    response = await client.http.get("/readyz")
    assert response.status_code == 200
