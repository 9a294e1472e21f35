"""One "database unreachable" line and one "database back" line per outage, across workers.

Each worker process sees the outage for itself, but an operator wants one line
when it starts and one when it ends, with how many requests were refused in
between. The workers share a folder (the metrics folder `eventhub serve`
makes for them); in it:

- `db-outage` exists while an outage is on. Creating it is atomic (a hard
  link to a file of our own, which fails if it exists), so exactly one worker
  writes the "unreachable" line; renaming it away is atomic too, so exactly
  one writes the "back" line.
- `db-refused` counts refused requests, under an exclusive lock; the worker
  that writes "back" reads it and starts it again from zero.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

logger = logging.getLogger("eventhub.database")


class OutageBoard:
    def __init__(self, folder: Path | None, where: str) -> None:
        self._shared = folder  # None: a process of its own (made when first needed)
        self.where = where  # the database, as logs may show it (password hidden)

    @property
    def folder(self) -> Path:
        if self._shared is None:
            self._shared = Path(tempfile.mkdtemp(prefix="eventhub-outage-"))
        return self._shared

    @property
    def _marker(self) -> Path:
        return self.folder / "db-outage"

    @property
    def _counter(self) -> Path:
        return self.folder / "db-refused"

    def start(self, reason: str) -> bool:
        """Record that an outage began; True (and the log line) for the first worker only."""
        own = self.folder / f"db-outage.{os.getpid()}"
        own.write_text(repr(time.time()))
        try:
            os.link(own, self._marker)
        except FileExistsError:
            return False
        finally:
            own.unlink(missing_ok=True)
        logger.error(
            "database unreachable (%s at %s): answering 503 UNAVAILABLE until it is back",
            reason,
            self.where,
        )
        return True

    def end(self) -> bool:
        """Record that the outage ended; True (and the log line) for the first worker only."""
        claimed = self.folder / f"db-outage.ended.{os.getpid()}"
        try:
            os.rename(self._marker, claimed)
        except FileNotFoundError:
            return False
        try:
            began = float(claimed.read_text())
        except (OSError, ValueError):
            began = time.time()
        claimed.unlink(missing_ok=True)
        refused = self._take_count()
        logger.warning(
            "database back after %.1fs; %d requests refused meanwhile", time.time() - began, refused
        )
        return True

    def count_refusal(self) -> None:
        with self._locked() as handle:
            count = _read_int(handle)
            handle.seek(0)
            handle.truncate()
            handle.write(str(count + 1))

    def _take_count(self) -> int:
        with self._locked() as handle:
            count = _read_int(handle)
            handle.seek(0)
            handle.truncate()
            handle.write("0")
        return count

    @contextlib.contextmanager
    def _locked(self) -> Iterator[IO[str]]:
        with open(self._counter, "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield handle
            finally:
                handle.flush()
                fcntl.flock(handle, fcntl.LOCK_UN)


def _read_int(handle: IO[str]) -> int:
    handle.seek(0)
    text = handle.read().strip()
    return int(text) if text.isdigit() else 0
