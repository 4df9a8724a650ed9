"""Login backoff on a hand-driven clock: who waits, how long, and what is forgotten."""

from __future__ import annotations

import tracemalloc

import pytest

from callcenter.login_throttle import (
    ADDRESS_BACKOFF,
    LOGIN_BACKOFF,
    Backoff,
    FailureCounter,
    LoginThrottle,
    address_key,
    login_key,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def fail(throttle: LoginThrottle, login: str, address: str = "192.0.2.1") -> float:
    """One try that turns out wrong: what ``attempt`` answered."""
    return throttle.attempt(login, address)


def test_five_free_failures_then_one_second_doubling_to_five_minutes() -> None:
    clock = Clock()
    throttle = LoginThrottle(clock)
    assert [fail(throttle, "ivanova") for _ in range(5)] == [0.0] * 5
    waits = []
    for _ in range(12):
        wait = fail(throttle, "ivanova")
        waits.append(wait)
        clock.now += wait - 0.01
        assert fail(throttle, "ivanova") == pytest.approx(0.01)  # not yet
        clock.now += 0.01
        assert fail(throttle, "ivanova") == 0.0  # a try, and it failed again
    assert waits == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 300.0, 300.0, 300.0]


def test_the_schedule_itself() -> None:
    assert [LOGIN_BACKOFF.wait_after(n) for n in range(4, 8)] == [0.0, 1.0, 2.0, 4.0]
    assert LOGIN_BACKOFF.wait_after(10_000) == 300.0  # no overflow, the cap
    assert ADDRESS_BACKOFF.wait_after(19) == 0.0 and ADDRESS_BACKOFF.wait_after(20) == 1.0
    with pytest.raises(ValueError, match="forget_after"):
        Backoff(free_failures=1, max_wait=600, forget_after=60)  # a block must not be forgotten


def test_a_refused_try_does_not_prolong_the_wait() -> None:
    clock = Clock()
    throttle = LoginThrottle(clock)
    for _ in range(5):
        fail(throttle, "ivanova")
    assert fail(throttle, "ivanova") == 1.0
    for _ in range(50):  # someone pressing the button again and again
        clock.now += 0.01
        fail(throttle, "ivanova")
    assert throttle.logins.failures("ivanova") == 5
    clock.now += 0.51  # the 1 s since the last counted try is over
    assert fail(throttle, "ivanova") == 0.0


def test_success_clears_the_login_but_only_forgives_one_try_of_the_address() -> None:
    clock = Clock()
    throttle = LoginThrottle(clock)
    for _ in range(4):
        fail(throttle, "ivanova")
    assert throttle.attempt("ivanova", "192.0.2.1") == 0.0
    throttle.succeeded("ivanova", "192.0.2.1")
    assert throttle.logins.failures("ivanova") == 0
    assert throttle.addresses.failures("192.0.2.1") == 4  # the four wrong ones still count
    assert [fail(throttle, "ivanova") for _ in range(5)] == [0.0] * 5  # five free again
    assert fail(throttle, "ivanova") > 0


def test_parallel_tries_see_each_other() -> None:
    """Every try counts when it starts: ten guesses sent at once do not all get through."""
    throttle = LoginThrottle(Clock())
    started = [throttle.attempt("ivanova", "192.0.2.1") for _ in range(10)]
    assert started.count(0.0) == 5  # the other five wait, before any password is checked


def test_unknown_and_known_logins_are_counted_alike() -> None:
    """The throttle never asks whether a login exists: the same schedule for any name."""
    known, unknown = LoginThrottle(Clock()), LoginThrottle(Clock())
    assert [fail(known, "ivanova") for _ in range(8)] == [
        fail(unknown, "no-such-user") for _ in range(8)
    ]


def test_every_spelling_of_a_login_is_one_key() -> None:
    throttle = LoginThrottle(Clock())
    for spelling in ("ivanova", "IVANOVA", "IvAnOvA ", "ｉｖａｎｏｖａ"):  # fullwidth too
        fail(throttle, spelling)
    assert throttle.logins.failures("ivanova") == 4
    assert login_key("Straße") == login_key("STRASSE")


def test_one_address_is_throttled_across_many_logins() -> None:
    """Password spraying: one guess at each of many logins from one address."""
    clock = Clock()
    throttle = LoginThrottle(clock)
    assert [fail(throttle, f"user{n}") for n in range(20)] == [0.0] * 20
    assert fail(throttle, "user20") == 1.0
    assert fail(throttle, "user20", "192.0.2.2") == 0.0  # another address is not held up
    # IPv6: a subscriber's whole /64 is one address
    for n in range(20):
        fail(throttle, f"user{n}", f"2001:db8:1:2::{n:x}")
    assert fail(throttle, "user99", "2001:db8:1:2:ffff::1") == 1.0
    assert fail(throttle, "user99", "2001:db8:1:3::1") == 0.0
    assert address_key("::ffff:192.0.2.7") == "192.0.2.7"
    assert address_key("not-an-address") == "not-an-address"


def test_a_quiet_hour_forgets_the_failures() -> None:
    clock = Clock()
    throttle = LoginThrottle(clock)
    for _ in range(9):
        clock.now += fail(throttle, "ivanova")
    assert throttle.logins.failures("ivanova") >= 5
    clock.now += LOGIN_BACKOFF.forget_after + 1
    assert throttle.logins.wait("ivanova") == 0.0
    assert [fail(throttle, "ivanova") for _ in range(5)] == [0.0] * 5


def test_memory_is_bounded_and_the_oldest_are_forgotten_first() -> None:
    clock = Clock()
    counter = FailureCounter(LOGIN_BACKOFF, clock, max_keys=100)
    for _ in range(5):
        counter.count("target")
    for n in range(99):
        counter.count(f"spray{n}")
        clock.now += 0.001
    counter.count("target")  # the target failed again: it is the newest now
    for n in range(99, 198):
        counter.count(f"spray{n}")
    assert len(counter) == 100
    assert counter.failures("target") == 6  # 99 new keys did not push it out
    assert counter.failures("spray0") == 0  # the least recently failed went
    # keys quiet past forget_after go as soon as anything fails again
    clock.now += LOGIN_BACKOFF.forget_after + 1
    counter.count("late")
    assert len(counter) == 1


def test_a_full_counter_uses_about_twenty_megabytes() -> None:
    """The figure the module's docstring gives, measured on 100,000 keys."""
    counter = FailureCounter(LOGIN_BACKOFF, Clock(), max_keys=100_000)
    tracemalloc.start()
    try:
        for n in range(100_000):
            counter.count(f"someone-{n:06d}@example.org")
        used, _peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(counter) == 100_000
    assert used < 25 * 1024 * 1024, used
