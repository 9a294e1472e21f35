"""Failed logins: free up to a threshold, then exponential backoff, capped by the lockout window.

Three counters, each with its own threshold, are kept in the `limits` storage
(Redis when configured, so they hold in sum across workers and hosts):

- one account from one address (`pair`): stops one client guessing one password;
- one address, any account (`address`): stops one client spraying many accounts;
- one account, any address (`account`): stops a guess spread over many addresses.

After a counter's threshold, each further failure locks it for 1 s, 2 s, 4 s, ...
up to `lockout_seconds`; a locked attempt is refused (`LoginThrottled` with the
seconds to wait) before the database or argon2 are touched, and is not counted.
A success clears the account's counters (not the address's). Because the pair
threshold is lower than the account's, one address's failures lock out that
address, not the owner signing in from elsewhere; only failures from many
addresses lock the account itself, and then for at most `lockout_seconds`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from limits.aio.storage import Storage

from eventhub.services.errors import LoginThrottled
from eventhub.services.limit_storage import LimitStorage

FAILURE_MEMORY_SECONDS = 24 * 3600  # a counter forgets its failures a day after the first


@dataclass(frozen=True)
class ThrottlePolicy:
    pair_failures: int = 5
    address_failures: int = 20
    account_failures: int = 20
    lockout_seconds: int = 900

    def lock_seconds(self, failures: int, threshold: int) -> int:
        """0 below the threshold, then 1, 2, 4, ... seconds, never above the lockout window."""
        if failures < threshold:
            return 0
        backoff: int = 2 ** min(failures - threshold, 30)
        return min(backoff, self.lockout_seconds)


class LoginThrottle:
    def __init__(self, storage: LimitStorage, policy: ThrottlePolicy) -> None:
        self.storage = storage
        self.policy = policy

    def _counters(self, email: str, address: str | None) -> list[tuple[str, int]]:
        where = address or "unknown"
        return [
            (f"login:pair:{email}:{where}", self.policy.pair_failures),
            (f"login:address:{where}", self.policy.address_failures),
            (f"login:account:{email}", self.policy.account_failures),
        ]

    async def check(self, email: str, address: str | None) -> None:
        """Raise LoginThrottled when any counter is locked, with the longest wait."""

        async def longest_wait(storage: Storage) -> float:
            waits = [0.0]
            for key, _ in self._counters(email, address):
                if await storage.get(f"{key}:lock"):
                    waits.append(await storage.get_expiry(f"{key}:lock") - time.time())
            return max(waits)

        wait = await self.storage.run(longest_wait)
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            raise LoginThrottled(f"too many failed logins; try again in {seconds} s", seconds)

    async def failed(self, email: str, address: str | None) -> None:
        async def count(storage: Storage) -> None:
            for key, threshold in self._counters(email, address):
                failures = await storage.incr(key, FAILURE_MEMORY_SECONDS)
                lock = self.policy.lock_seconds(failures, threshold)
                if lock:
                    await storage.clear(f"{key}:lock")
                    await storage.incr(f"{key}:lock", lock)

        await self.storage.run(count)

    async def succeeded(self, email: str, address: str | None) -> None:
        async def clear(storage: Storage) -> None:
            pair, _, account = self._counters(email, address)
            for key, _ in (pair, account):
                await storage.clear(key)
                await storage.clear(f"{key}:lock")

        await self.storage.run(clear)
