from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tocsin.lib import ratelimit
from tocsin.lib.ratelimit import Limit, RateLimit

T = 1_800_000_000.0
FIVE_AN_HOUR = Limit(limit=5, per_seconds=3600)


def hits(session: Session, key: str, limit: Limit, times: int, *, now: float = T) -> list[bool]:
    return [ratelimit.hit(session, key, limit, now=now).allowed for _ in range(times)]


def test_it_allows_a_burst_up_to_the_limit_then_refuses(session: Session) -> None:
    assert hits(session, "ip:192.0.2.1", FIVE_AN_HOUR, 6) == [True] * 5 + [False]


def test_it_says_when_the_next_hit_will_be_allowed(session: Session) -> None:
    hits(session, "ip:192.0.2.1", FIVE_AN_HOUR, 5)
    refused = ratelimit.hit(session, "ip:192.0.2.1", FIVE_AN_HOUR, now=T + 100)
    assert not refused.allowed
    assert refused.retry_after == 720 - 100
    allowed = ratelimit.hit(session, "ip:192.0.2.1", FIVE_AN_HOUR, now=T + 720)
    assert allowed.allowed and allowed.retry_after == 0


def test_it_refills_one_token_per_interval(session: Session) -> None:
    hits(session, "k", FIVE_AN_HOUR, 5)
    assert hits(session, "k", FIVE_AN_HOUR, 2, now=T + 1440) == [True, True]
    assert hits(session, "k", FIVE_AN_HOUR, 1, now=T + 1440) == [False]


def test_it_is_full_again_after_a_whole_period(session: Session) -> None:
    hits(session, "k", FIVE_AN_HOUR, 5)
    assert hits(session, "k", FIVE_AN_HOUR, 6, now=T + 3600) == [True] * 5 + [False]


def test_it_takes_the_last_token_of_a_burst_at_wall_clock_times(session: Session) -> None:
    assert hits(session, "k", Limit(limit=3, per_seconds=86400), 4, now=T + 0.123456) == [
        True,
        True,
        True,
        False,
    ]


def test_it_keeps_buckets_apart(session: Session) -> None:
    one_a_day = Limit(limit=1, per_seconds=86400)
    assert hits(session, "address:a", one_a_day, 1) == [True]
    assert hits(session, "address:b", one_a_day, 1) == [True]
    assert hits(session, "address:a", one_a_day, 1) == [False]


def test_it_stores_no_readable_key(session: Session) -> None:
    ratelimit.hit(session, "address:ann@example.com", FIVE_AN_HOUR, now=T)
    keys = session.scalars(select(RateLimit.key)).all()
    assert len(keys) == 1
    assert "ann" not in keys[0] and len(keys[0]) == 64


def test_it_prunes_only_full_buckets(session: Session) -> None:
    ratelimit.hit(session, "old", FIVE_AN_HOUR, now=T - 4000)
    ratelimit.hit(session, "new", FIVE_AN_HOUR, now=T)
    assert ratelimit.prune(session, now=T) == 1
    assert hits(session, "new", FIVE_AN_HOUR, 5) == [True] * 4 + [False]


def test_it_never_hands_out_more_than_the_limit_to_concurrent_processes(
    factory: sessionmaker[Session],
) -> None:
    limit = Limit(limit=3, per_seconds=3600)

    def one_request(_: int) -> bool:
        with factory() as session, session.begin():
            return ratelimit.hit(session, "shared", limit, now=T).allowed

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(one_request, range(16)))
    assert outcomes.count(True) == 3
