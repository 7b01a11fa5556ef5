"""Judging heartbeats from the time of the last ping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tocsin.monitors.probes import ProbeConfigError, validate_config
from tocsin.monitors.probes.heartbeat import Config, evaluate_heartbeat, format_span

NOW = datetime(2026, 2, 10, 17, 6, tzinfo=UTC)
FIVE_MIN = timedelta(minutes=5)
ONE_MIN = timedelta(minutes=1)


def test_it_passes_when_the_last_ping_is_recent() -> None:
    result = evaluate_heartbeat(NOW - timedelta(minutes=2), FIVE_MIN, ONE_MIN, NOW)
    assert (result.ok, result.error, result.latency_ms) == (True, None, None)
    assert result.details["late"] is False
    assert result.details["due_at"] == "2026-02-10T17:09:00+00:00"


def test_it_passes_but_marks_a_ping_late_within_the_grace() -> None:
    result = evaluate_heartbeat(NOW - timedelta(minutes=5, seconds=30), FIVE_MIN, ONE_MIN, NOW)
    assert result.ok
    assert result.details["late"] is True


def test_it_passes_at_the_exact_deadline() -> None:
    assert evaluate_heartbeat(NOW - FIVE_MIN - ONE_MIN, FIVE_MIN, ONE_MIN, NOW).ok


def test_it_fails_after_the_grace() -> None:
    result = evaluate_heartbeat(NOW - timedelta(minutes=6, seconds=1), FIVE_MIN, ONE_MIN, NOW)
    assert not result.ok
    assert result.error == "last ping 6 min 1 s ago (expected every 5 min, grace 1 min)"
    assert result.details["deadline"] == "2026-02-10T17:05:59+00:00"


def test_it_fails_without_any_ping_or_start_time() -> None:
    result = evaluate_heartbeat(None, FIVE_MIN, ONE_MIN, NOW)
    assert (result.ok, result.error) == (False, "no ping received yet")


def test_it_counts_the_first_wait_from_the_start_time() -> None:
    assert evaluate_heartbeat(None, FIVE_MIN, ONE_MIN, NOW, since=NOW - FIVE_MIN).ok
    result = evaluate_heartbeat(None, FIVE_MIN, ONE_MIN, NOW, since=NOW - timedelta(hours=2))
    assert result.error == "no ping received in 2 h (expected every 5 min, grace 1 min)"
    assert result.details["last_ping_at"] is None


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0 s"), (45, "45 s"), (60, "1 min"), (320, "5 min 20 s"), (7_500, "2 h 5 min"),
     (7_205, "2 h"), (90_000, "1 d 1 h")],
)  # fmt: skip
def test_it_formats_spans(seconds: int, text: str) -> None:
    assert format_span(timedelta(seconds=seconds)) == text


def test_it_validates_the_grace() -> None:
    assert Config.model_validate({}).grace_seconds == 60
    _, config = validate_config("heartbeat", "token", {"grace_seconds": 300})
    assert config == Config(grace_seconds=300)
    with pytest.raises(ProbeConfigError) as caught:
        validate_config("heartbeat", "token", {"grace_seconds": -1})
    assert caught.value.message == "grace_seconds: Input should be greater than or equal to 0"
