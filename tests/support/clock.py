"""Clocks a test can move: expiry is tested by advancing time, never by sleeping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class ManualClock:
    """Stands still until the test advances it."""

    def __init__(self, at: datetime | None = None) -> None:
        self.at = at or datetime.now(UTC)

    def now(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


class SteppedClock:
    """The wall clock plus however far the test has advanced it.

    The app fixtures use this one: time still passes between requests (created_at
    orders rows as before), and a test can jump past a hold's expiry at once.
    """

    def __init__(self) -> None:
        self.ahead = timedelta()

    def now(self) -> datetime:
        return datetime.now(UTC) + self.ahead

    def advance(self, seconds: float) -> None:
        self.ahead += timedelta(seconds=seconds)
