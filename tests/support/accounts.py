"""Accounts with exactly the roles a test needs, tokens as an attacker would craft them,
the audit trail as admins read it, and the `@requiresRole` guards read from an SDL."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from graphql import (
    EnumValueNode,
    InterfaceTypeDefinitionNode,
    ListValueNode,
    ObjectTypeDefinitionNode,
    ObjectTypeExtensionNode,
    parse,
)

from tests.support.graphql import Account, GraphQLClient

ROLES = ("CUSTOMER", "ORGANIZER", "STAFF", "ADMIN")
USER_ERRORS = "errors { code message field }"
REFRESH = f"""mutation($token: String!) {{
  refreshToken(refreshToken: $token) {{
    accessToken refreshToken accessTokenExpiresAt user {{ id email roles }} {USER_ERRORS}
  }}
}}"""
LOGOUT = "mutation($token: String!) { logout(refreshToken: $token) }"
SET_ROLES = f"""mutation($id: ID!, $roles: [Role!]!) {{
  setUserRoles(userId: $id, roles: $roles) {{ user {{ id email roles }} {USER_ERRORS} }}
}}"""
DEACTIVATE = f"""mutation($id: ID!) {{
  deactivateUser(userId: $id) {{ user {{ id email }} {USER_ERRORS} }}
}}"""
AUDIT_LOG = """query($first: Int, $after: String, $action: String, $actorId: ID) {
  auditLog(first: $first, after: $after, action: $action, actorId: $actorId) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { cursor node { id at action targetType targetId ip details actor { id email } } }
  }
}"""
# A field every signed-in account may read, and nobody else.
SIGNED_IN_ONLY = "{ myOrders { totalCount } }"


async def refresh(client: GraphQLClient, token: str) -> dict[str, Any]:
    """The refreshToken payload."""
    payload: dict[str, Any] = (await client.data(REFRESH, {"token": token}))["refreshToken"]
    return payload


async def set_roles(
    client: GraphQLClient, admin: Account, user_id: str, roles: list[str]
) -> dict[str, Any]:
    """The setUserRoles payload."""
    variables = {"id": user_id, "roles": roles}
    payload: dict[str, Any] = (await client.data(SET_ROLES, variables, admin.token))["setUserRoles"]
    return payload


async def account_with_roles(client: GraphQLClient, admin: Account, roles: list[str]) -> Account:
    """A fresh account holding exactly `roles` (set by an admin), signed in again after."""
    account = await client.register()
    assert (await set_roles(client, admin, account.id, roles))["errors"] == []
    return await client.login(account.email)


async def audit_log(client: GraphQLClient, admin: Account, **variables: Any) -> dict[str, Any]:
    """The auditLog connection for the given filters (None values are left out)."""
    sent = {name: value for name, value in variables.items() if value is not None}
    log: dict[str, Any] = (await client.data(AUDIT_LOG, sent, admin.token))["auditLog"]
    return log


async def audit_entries(
    client: GraphQLClient, admin: Account, action: str | None = None
) -> list[dict[str, Any]]:
    """Audit entries (newest first) of one action, or all of them, up to 100."""
    log = await audit_log(client, admin, action=action, first=100)
    return [edge["node"] for edge in log["edges"]]


def top_level_code(body: dict[str, Any]) -> str:
    assert body.get("errors"), body
    code: str = body["errors"][0]["extensions"]["code"]
    return code


# --- JWTs as a client (or an attacker) sees them ---------------------------------------------


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def jwt_header(token: str) -> dict[str, Any]:
    header: dict[str, Any] = json.loads(_b64decode(token.split(".")[0]))
    return header


def jwt_claims(token: str) -> dict[str, Any]:
    """The payload of a compact JWS, read without checking the signature."""
    claims: dict[str, Any] = json.loads(_b64decode(token.split(".")[1]))
    return claims


def sign_hs256(claims: dict[str, Any], secret: str) -> str:
    """A compact HS256 JWT, made by hand so the tests do not share the app's JWT library."""
    header = _b64encode(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = _b64encode(json.dumps(claims).encode())
    mac = hmac.new(secret.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64encode(mac)}"


def with_claims(token: str, **changes: Any) -> str:
    """The same token with its payload edited and the original signature kept (tampered)."""
    header, _, signature = token.split(".")
    payload = _b64encode(json.dumps({**jwt_claims(token), **changes}).encode())
    return f"{header}.{payload}.{signature}"


def unsigned(claims: dict[str, Any]) -> str:
    """An `alg: none` token: no signature at all."""
    header = _b64encode(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{_b64encode(json.dumps(claims).encode())}."


# --- guards as the SDL prints them ------------------------------------------------------------


def guarded_fields(sdl: str) -> dict[str, frozenset[str]]:
    """{"Type.field": roles} for every field carrying `@requiresRole(roles: [...])`."""
    guards: dict[str, frozenset[str]] = {}
    kinds = (ObjectTypeDefinitionNode, ObjectTypeExtensionNode, InterfaceTypeDefinitionNode)
    for definition in parse(sdl).definitions:
        if not isinstance(definition, kinds):
            continue
        for field in definition.fields or ():
            for directive in field.directives or ():
                if directive.name.value != "requiresRole":
                    continue
                [argument] = [a for a in directive.arguments or () if a.name.value == "roles"]
                assert isinstance(argument.value, ListValueNode), argument
                roles = frozenset(
                    v.value for v in argument.value.values if isinstance(v, EnumValueNode)
                )
                guards[f"{definition.name.value}.{field.name.value}"] = roles
    return guards


def root_fields(sdl: str) -> set[str]:
    """Every "Query.x", "Mutation.x" and "Subscription.x" the SDL defines."""
    names: set[str] = set()
    for definition in parse(sdl).definitions:
        if isinstance(definition, ObjectTypeDefinitionNode | ObjectTypeExtensionNode) and (
            definition.name.value in ("Query", "Mutation", "Subscription")
        ):
            names |= {f"{definition.name.value}.{f.name.value}" for f in definition.fields or ()}
    return names
