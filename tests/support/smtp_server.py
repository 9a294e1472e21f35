"""A real SMTP server (aiosmtpd, on its own thread) that keeps what it accepts.

`refuse(n)` makes it answer the next n messages' DATA with 451 (try again
later), as a server with a full queue or greylisting does, or with another
code (550: refused for good); each refusal is numbered in its text, so a test
can tell which attempt the sender recorded.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import ssl
import threading
import time
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class SmtpServer:
    def __init__(
        self,
        credentials: tuple[str, str] | None = None,
        starttls: ssl.SSLContext | None = None,
        implicit_tls: ssl.SSLContext | None = None,
    ) -> None:
        """With `credentials`, AUTH (PLAIN or LOGIN) with them is required before MAIL;
        with `starttls`, STARTTLS is offered and required; `implicit_tls`: TLS from the start.
        """
        self.port = _free_port()
        self.credentials = credentials
        self.logins: list[str] = []
        self.received: list[tuple[list[str], EmailMessage]] = []
        self.refused = 0
        self._refuse_next = 0
        self._refuse_code = 451
        self._lock = threading.Lock()
        options: dict[str, Any] = {}
        if credentials is not None:
            options |= {
                "authenticator": self._authenticate,
                "auth_required": True,
                "auth_require_tls": starttls is not None,
            }
        if starttls is not None:
            options |= {"tls_context": starttls, "require_starttls": True}
        if implicit_tls is not None:
            options |= {"ssl_context": implicit_tls}
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port, **options)
        self.secure: list[bool] = []

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        login, password = data.login.decode(), data.password.decode()
        self.logins.append(login)
        return AuthResult(success=(login, password) == self.credentials)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> SmtpServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def refuse(self, count: int, code: int = 451) -> None:
        with self._lock:
            self._refuse_next = count
            self._refuse_code = code

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        with self._lock:
            if self._refuse_next > 0:
                self._refuse_next -= 1
                self.refused += 1
                code = self._refuse_code
                return f"{code} {code // 100}.3.0 refused (refusal {self.refused})"
            self.secure.append(server.transport.get_extra_info("ssl_object") is not None)
            parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
            assert isinstance(parsed, EmailMessage)
            self.received.append((list(envelope.rcpt_tos), parsed))
        return "250 OK"

    async def arrived(
        self, count: int, within: float = 10.0
    ) -> list[tuple[list[str], EmailMessage]]:
        """At least `count` messages (waiting up to `within` s), else fail."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.received) >= count:
                    return list(self.received)
            await asyncio.sleep(0.05)
        raise AssertionError(f"{len(self.received)} messages arrived, {count} awaited")
