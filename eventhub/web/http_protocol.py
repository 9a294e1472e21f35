"""uvicorn's HTTP protocol with a deadline and a size cap on request headers.

uvicorn arms its keep-alive timer only after a response, and cancels it on
the first byte of the next request: a connection that sends nothing, or sends
its headers one byte at a time (slowloris), is held forever — 200 of them
were still open after 40 s. `eventhub serve` runs this protocol, which gives
each request EVENTHUB_HTTP_HEADER_TIMEOUT seconds from its first byte (or
from the connection's opening) to finish its headers, then answers 408 and
closes; and refuses headers past MAX_HEADER_BYTES with 431 (llhttp itself sets
no bound). The body's own deadline and size cap are `body_limit.py`'s; idle
keep-alive connections are closed by uvicorn after EVENTHUB_HTTP_KEEP_ALIVE_TIMEOUT.

A response sent before its request's body was read (a 413 or 408 from
`body_limit.py`) would, closed at once, reach most clients as a reset: they
write the whole body before reading. So the rest of the body is read and
dropped (uvicorn keeps none of it) for at most DRAIN_SECONDS, then the
connection is closed; a body that ends in time leaves it open for the next request.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from eventhub.settings import get_settings

MAX_HEADER_BYTES = 65_536  # the request line and every header of one request
LINGER_SECONDS = 1.0  # after a refusal, what the client still sends is read and dropped
DRAIN_SECONDS = 10.0  # after an answer that came before the body, the rest may take this long
_TIMED_OUT = b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"content-length: 0\r\nconnection: close\r\n\r\n"
)


class EventHubHttpProtocol(HttpToolsProtocol):
    """HttpToolsProtocol, plus: headers complete within the deadline and under the cap."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.header_timeout = get_settings().http_header_timeout
        self.header_deadline: asyncio.TimerHandle | None = None
        self.header_bytes = 0
        self.headers_too_large = False
        self.refused = False
        self.drain_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_deadline()  # a connection that never sends a byte is dropped too

    def data_received(self, data: bytes) -> None:
        if not self.refused:  # once refused, the rest is dropped unread until the close
            super().data_received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_deadline()
        self._stop_draining()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.header_bytes = 0
        self._arm_header_deadline()

    def on_url(self, url: bytes) -> None:
        self._count_header_bytes(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count_header_bytes(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._disarm_header_deadline()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.cycle is not None and self.cycle.more_body and not self.transport.is_closing():
            # Answered before the body was in: drop the rest as it comes, for a while.
            self.drain_deadline = self.loop.call_later(DRAIN_SECONDS, self.transport.close)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        if self.drain_deadline is not None:  # drained in time: idle until the next request
            self._stop_draining()
            self._unset_keepalive_if_required()
            self.timeout_keep_alive_task = self.loop.call_later(
                self.timeout_keep_alive, self.timeout_keep_alive_handler
            )

    def _stop_draining(self) -> None:
        if self.drain_deadline is not None:
            self.drain_deadline.cancel()
            self.drain_deadline = None

    def send_400_response(self, msg: str) -> None:
        if not self.headers_too_large:
            super().send_400_response(msg)
            return
        self._refuse(_TOO_LARGE)  # the parser stopped at the header that crossed the cap

    def _count_header_bytes(self, count: int) -> None:
        self.header_bytes += count
        if self.header_bytes > MAX_HEADER_BYTES:
            self.headers_too_large = True
            raise ValueError("request headers too large")  # stops the parser: send_400_response

    def _arm_header_deadline(self) -> None:
        self._disarm_header_deadline()
        self.header_deadline = self.loop.call_later(self.header_timeout, self._headers_timed_out)

    def _disarm_header_deadline(self) -> None:
        if self.header_deadline is not None:
            self.header_deadline.cancel()
            self.header_deadline = None

    def _headers_timed_out(self) -> None:
        """Close; with a 408 when no response is under way on this connection."""
        self.header_deadline = None
        if self.cycle is None or self.cycle.response_complete:
            self._refuse(_TIMED_OUT)
        elif not self.transport.is_closing():
            self.transport.close()

    def _refuse(self, response: bytes) -> None:
        """Answer and close, lingering a moment so the answer is not lost to a reset.

        Closing a socket with unread data makes the kernel send RST, and the
        client may then never read the answer: send it, half-close, drop what
        still arrives for LINGER_SECONDS, then close.
        """
        self._disarm_header_deadline()
        if self.refused or self.transport.is_closing():
            return
        self.refused = True
        self.transport.write(response)
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER_SECONDS, self.transport.close)
