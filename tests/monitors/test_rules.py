from __future__ import annotations

import itertools

import pytest

from tocsin.monitors.models import MonitorState
from tocsin.monitors.rules import Rule, step

DOWN, UP, UNKNOWN = MonitorState.DOWN, MonitorState.UP, MonitorState.UNKNOWN


def run(outcomes: str, rule: Rule, state: MonitorState = UP) -> list[MonitorState]:
    """Feed "1"/"0" outcomes through the rules; return the state after each."""
    history = ""
    states = []
    for char in outcomes:
        result = step(state, history, char == "1", rule)
        state, history = result.state, result.history
        states.append(state)
    return states


def moves(states: list[MonitorState], start: MonitorState = UP) -> int:
    return sum(
        1 for before, after in zip([start, *states], states, strict=False) if before != after
    )


def test_it_goes_down_after_n_failures_in_the_last_m() -> None:
    states = run("01010", Rule(failure_threshold=3, window=5, recovery_threshold=2))
    assert states == [UP, UP, UP, UP, DOWN]


def test_it_ignores_failures_that_fell_out_of_the_window() -> None:
    states = run("0011110", Rule(failure_threshold=3, window=5, recovery_threshold=2))
    assert DOWN not in states


def test_it_recovers_after_k_successes_in_a_row() -> None:
    states = run("000" + "1011", Rule(failure_threshold=3, window=3, recovery_threshold=2))
    assert states == [UP, UP, DOWN, DOWN, DOWN, DOWN, UP]


def test_an_alternating_service_goes_down_once_and_stays_down() -> None:
    states = run("01" * 50, Rule(failure_threshold=3, window=5, recovery_threshold=2))
    assert moves(states) == 1
    assert states[-1] is DOWN


def test_old_failures_do_not_take_a_recovered_monitor_straight_back_down() -> None:
    rule = Rule(failure_threshold=3, window=5, recovery_threshold=2)
    states = run("000" + "11" + "0", rule)
    assert states[-2:] == [UP, UP]


@pytest.mark.parametrize(
    "outcomes",
    ["0001100011000110001100", "0100100100100100", "0011001100110011", "1" * 3 + "0" * 3 + "1"],
)
def test_it_never_flaps_faster_than_the_thresholds_allow(outcomes: str) -> None:
    rule = Rule(failure_threshold=3, window=5, recovery_threshold=3)
    states = run(outcomes, rule)
    # Every move down needs 3 fresh failures and every move up 3 successes in a row,
    # so moves are at least 3 outcomes apart.
    changes = [i for i, (a, b) in enumerate(zip([UP, *states], states, strict=False)) if a != b]
    assert all(later - earlier >= 3 for earlier, later in itertools.pairwise(changes))


def test_a_new_monitor_is_up_after_its_first_success() -> None:
    assert run("1", Rule(), state=UNKNOWN) == [UP]
    assert run("000", Rule(), state=UNKNOWN) == [UNKNOWN, UNKNOWN, DOWN]


def test_a_single_failure_rule_reacts_at_once() -> None:
    rule = Rule(failure_threshold=1, window=1, recovery_threshold=1)
    assert run("0101", rule) == [DOWN, UP, DOWN, UP]


@pytest.mark.parametrize(("n", "m", "k"), [(0, 5, 2), (6, 5, 2), (3, 51, 2), (3, 5, 0), (3, 5, 51)])
def test_it_refuses_impossible_rules(n: int, m: int, k: int) -> None:
    with pytest.raises(ValueError, match="threshold"):
        Rule(failure_threshold=n, window=m, recovery_threshold=k)
