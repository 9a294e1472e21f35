"""Where outgoing e-mail goes: an SMTP server (EVENTHUB_SMTP_URL) or a folder of .eml files.

`smtp://[user:pass@]host[:587]` uses STARTTLS whenever the server offers it;
`smtps://…[:465]` is TLS from the first byte. Without a URL each message is
written to EVENTHUB_MAIL_DIR as `<Message-ID>.eml` (so a developer sees the
mail with no server, and a retry overwrites rather than duplicates).
"""

from __future__ import annotations

import asyncio
import os
import re
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

import aiosmtplib


@dataclass(frozen=True)
class SendResult:
    accepted: bool
    error: str | None = None
    permanent: bool = False  # a 5xx answer: retrying will not change it


class MailTransport(Protocol):
    async def send(self, message: EmailMessage) -> SendResult: ...


class SmtpTransport:
    def __init__(self, url: str, timeout: float) -> None:
        parts = urlsplit(url)
        self.implicit_tls = parts.scheme == "smtps"
        self.hostname = parts.hostname or "localhost"
        self.port = parts.port or (465 if self.implicit_tls else 587)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.timeout = timeout

    async def send(self, message: EmailMessage) -> SendResult:
        """One attempt, within the time limit; 4xx and network errors retry, 5xx do not."""
        try:
            async with asyncio.timeout(self.timeout):  # the whole attempt, within the lease
                await aiosmtplib.send(
                    message,
                    hostname=self.hostname,
                    port=self.port,
                    username=self.username,
                    password=self.password,
                    use_tls=self.implicit_tls,
                    start_tls=False if self.implicit_tls else None,  # None: if offered
                    timeout=self.timeout,
                )
        except aiosmtplib.SMTPRecipientsRefused as error:
            codes = [refused.code for refused in error.recipients]
            return SendResult(False, f"recipient refused: {codes}", all(c >= 500 for c in codes))
        except aiosmtplib.SMTPResponseException as error:
            return SendResult(False, f"{error.code} {error.message}", error.code >= 500)
        except (TimeoutError, aiosmtplib.SMTPException, OSError) as error:
            return SendResult(False, f"{type(error).__name__}: {error}"[:300])
        return SendResult(True)


class FolderTransport:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def send(self, message: EmailMessage) -> SendResult:
        await asyncio.to_thread(self._write, message)
        return SendResult(True)

    def _write(self, message: EmailMessage) -> None:
        """Written whole under a temporary name, then renamed: a reader never sees half."""
        self.folder.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9._@-]", "_", str(message["Message-ID"]).strip("<>"))
        path = self.folder / f"{name}.eml"
        partial = path.with_suffix(".eml.part")
        partial.write_bytes(bytes(message))
        os.replace(partial, path)


def transport_for(smtp_url: str, mail_dir: Path, timeout: float) -> MailTransport:
    return SmtpTransport(smtp_url, timeout) if smtp_url else FolderTransport(mail_dir)
