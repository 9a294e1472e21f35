"""The one place the services learn the time.

Services take `now` (or, for long-running loops such as the hold sweeper, a
`Clock`) rather than reading the wall clock themselves: a hold that expires in
ten minutes can then be tested by moving a clock forward, not by waiting, and
one request sees one instant throughout. The web layer holds the process's
clock (`AppState.clock`) and reads it once per request.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class SystemClock:
    """The wall clock: what every process uses outside tests."""

    def now(self) -> datetime:
        return datetime.now(UTC)


SYSTEM_CLOCK = SystemClock()
