"""GET /graphql/schema.graphql: the SDL as `eventhub schema` prints it, for code generators."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

SDL_MEDIA_TYPE = "text/plain; charset=utf-8"


def schema_route(schema: Any) -> Route:
    """Printed once: the schema does not change while the process runs."""
    sdl = schema.as_str().rstrip("\n") + "\n"

    async def schema_sdl(_request: Request) -> Response:
        return Response(sdl, media_type=SDL_MEDIA_TYPE)

    return Route("/graphql/schema.graphql", schema_sdl, methods=["GET"])
