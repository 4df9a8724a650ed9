"""Login backoff: after repeated failed sign-ins, the same login name and, separately, the
same client address must wait before the next try, the wait doubling with each further
failure (by default from 1 s after the fifth failure of a login up to 5 minutes).

A login name is counted whether or not such a user exists, and a refused try is answered
before any password is checked, so the answers tell nothing about which logins exist.
A try is counted as a failure when it starts and forgiven when it succeeds: guesses sent
in parallel see each other. A success clears its login's count; the address's count only
loses that one try, so signing in to one's own account does not buy more guesses at
others'. A refused try counts nothing: a person retrying does not prolong their wait.

Kept in memory, per web process: behind several workers a guesser gets that many times
the allowance, still a bound; a restart forgets. Each counter holds at most ``MAX_KEYS``
keys: past that the one that failed least recently is forgotten, and keys with no
failure for ``forget_after`` are dropped as new failures come, so an attacker cannot
grow memory without end (about 22 MB per counter when full of 30-character keys,
measured in tests/unit/test_login_throttle.py; a login is cut at 200 characters).
"""

from __future__ import annotations

import ipaddress
import time
import unicodedata
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

MAX_KEYS = 100_000
_MAX_DOUBLINGS = 30  # past this the wait is long at the cap anyway; keeps 2**n small


@dataclass(frozen=True)
class Backoff:
    free_failures: int
    """Failures in a row that cost nothing; the next try waits ``first_wait``."""
    first_wait: float = 1.0
    max_wait: float = 300.0
    forget_after: float = 3600.0
    """A key that has not failed for this long starts afresh."""

    def __post_init__(self) -> None:
        if self.forget_after <= self.max_wait:
            raise ValueError("forget_after must be longer than max_wait")

    def wait_after(self, failures: int) -> float:
        """Seconds between the last of ``failures`` failures and the next allowed try."""
        if failures < self.free_failures:
            return 0.0
        doublings = min(failures - self.free_failures, _MAX_DOUBLINGS)
        return min(self.max_wait, self.first_wait * float(2**doublings))


# one person mistyping a password five times; an office of operators behind one address
LOGIN_BACKOFF = Backoff(free_failures=5)
ADDRESS_BACKOFF = Backoff(free_failures=20)


class FailureCounter:
    """Failures per key and when the last one was, least recently failed first."""

    def __init__(
        self, backoff: Backoff, clock: Callable[[], float], max_keys: int = MAX_KEYS
    ) -> None:
        self.backoff = backoff
        self._clock = clock
        self._max_keys = max_keys
        self._records: OrderedDict[str, tuple[int, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._records)

    def failures(self, key: str) -> int:
        failures, at = self._records.get(key, (0, 0.0))
        return 0 if self._clock() - at > self.backoff.forget_after else failures

    def wait(self, key: str) -> float:
        """Seconds until ``key`` may try again; 0 when it may now."""
        record = self._records.get(key)
        if record is None:
            return 0.0
        failures, at = record
        now = self._clock()
        if now - at > self.backoff.forget_after:
            return 0.0
        return max(0.0, at + self.backoff.wait_after(failures) - now)

    def count(self, key: str) -> None:
        failures = self.failures(key)
        now = self._clock()
        self._records[key] = (failures + 1, now)
        self._records.move_to_end(key)
        self._drop_stale(now)
        while len(self._records) > self._max_keys:
            self._records.popitem(last=False)

    def forgive(self, key: str) -> None:
        """One failure less: a try counted when it started turned out right."""
        record = self._records.get(key)
        if record is None:
            return
        failures, at = record
        if failures <= 1:
            del self._records[key]
        else:
            self._records[key] = (failures - 1, at)

    def clear(self, key: str) -> None:
        self._records.pop(key, None)

    def _drop_stale(self, now: float) -> None:
        # the oldest come first: stop at the first that still counts
        while self._records:
            key, (_failures, at) = next(iter(self._records.items()))
            if now - at <= self.backoff.forget_after:
                return
            del self._records[key]


def login_key(login: str) -> str:
    """One key for every spelling of a login the database matches case-insensitively."""
    return unicodedata.normalize("NFKC", login).casefold().strip()


def address_key(address: str) -> str:
    """One key per IPv4 address and per IPv6 /64 (what one subscriber usually has)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


class LoginThrottle:
    def __init__(
        self, clock: Callable[[], float] = time.monotonic, max_keys: int = MAX_KEYS
    ) -> None:
        self.logins = FailureCounter(LOGIN_BACKOFF, clock, max_keys)
        self.addresses = FailureCounter(ADDRESS_BACKOFF, clock, max_keys)

    def attempt(self, login: str, address: str) -> float:
        """0: go ahead (the try counts as a failure until ``succeeded``); otherwise the
        seconds to wait, and the password must not be checked."""
        login, address = login_key(login), address_key(address)
        wait = max(self.logins.wait(login), self.addresses.wait(address))
        if wait > 0:
            return wait
        self.logins.count(login)
        self.addresses.count(address)
        return 0.0

    def succeeded(self, login: str, address: str) -> None:
        self.logins.clear(login_key(login))
        self.addresses.forgive(address_key(address))
