"""The per-token token bucket, on a fake clock."""

from __future__ import annotations

import pytest

from streams.ingest.rate_limit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_up_to_the_rate_then_retry_after_one_refill():
    clock = Clock()
    limiter = RateLimiter(60, clock)  # one request per second on average
    assert [limiter.acquire("t") for _ in range(60)] == [0.0] * 60
    assert limiter.acquire("t") == pytest.approx(1.0)
    clock.now += 0.5
    assert limiter.acquire("t") == pytest.approx(0.5)
    clock.now += 0.5
    assert limiter.acquire("t") == 0.0
    assert limiter.acquire("t") > 0


def test_the_long_run_rate_is_the_limit():
    clock = Clock()
    limiter = RateLimiter(6, clock)
    allowed = 0
    for _ in range(600):  # ten minutes, a request every second
        allowed += limiter.acquire("t") == 0.0
        clock.now += 1.0
    assert allowed == 6 + 60 - 1  # the first burst, then one per 10 s


def test_buckets_are_per_token_and_refill_no_higher_than_the_rate():
    clock = Clock()
    limiter = RateLimiter(2, clock)
    assert limiter.acquire("a") == limiter.acquire("a") == 0.0
    assert limiter.acquire("a") > 0
    assert limiter.acquire("b") == 0.0
    clock.now += 3600
    assert [limiter.acquire("a") == 0.0 for _ in range(3)] == [True, True, False]


def test_a_limit_below_one_is_refused():
    with pytest.raises(ValueError, match="at least 1 request per minute"):
        RateLimiter(0)
