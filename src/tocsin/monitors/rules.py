"""When a run of check outcomes turns a monitor down or up: pure functions, no database.

A monitor goes down when `failure_threshold` (N) of its last `window` (M) outcomes failed,
and comes back up after `recovery_threshold` (K) successes in a row. Each move starts a fresh
history, so failures from before a recovery never count towards the next outage, and an
intermittent service (alternating outcomes) stays down rather than flapping.
"""

from __future__ import annotations

from dataclasses import dataclass

from tocsin.monitors.models import MonitorState

MAX_WINDOW = 50
HISTORY_LENGTH = 64
OK, FAILED = "1", "0"


@dataclass(frozen=True)
class Rule:
    failure_threshold: int = 3
    window: int = 5
    recovery_threshold: int = 2

    def __post_init__(self) -> None:
        if not 1 <= self.failure_threshold <= self.window <= MAX_WINDOW:
            raise ValueError("need 1 <= failure_threshold <= window <= 50")
        if not 1 <= self.recovery_threshold <= MAX_WINDOW:
            raise ValueError("need 1 <= recovery_threshold <= 50")


@dataclass(frozen=True)
class Step:
    state: MonitorState
    history: str
    changed: bool


def step(state: MonitorState, history: str, ok: bool, rule: Rule) -> Step:
    """Add one outcome to `history` (oldest first, "1"/"0") and judge the monitor again.

    The history restarts empty whenever the monitor moves into or out of `down`.
    """
    history = (history + (OK if ok else FAILED))[-HISTORY_LENGTH:]
    new_state = judge(state, history, rule)
    if new_state is state:
        return Step(state, history, changed=False)
    if MonitorState.DOWN in (state, new_state):
        history = ""
    return Step(new_state, history, changed=True)


def judge(state: MonitorState, history: str, rule: Rule) -> MonitorState:
    if state is MonitorState.DOWN:
        recent = history[-rule.recovery_threshold :]
        recovered = len(recent) == rule.recovery_threshold and FAILED not in recent
        return MonitorState.UP if recovered else MonitorState.DOWN
    if history[-rule.window :].count(FAILED) >= rule.failure_threshold:
        return MonitorState.DOWN
    if state is MonitorState.UNKNOWN and history.endswith(OK):
        return MonitorState.UP
    return state
