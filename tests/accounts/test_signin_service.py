"""The sign-in rules below the screens: TOTP windows and replays, recovery codes, session
expiry, lockout, and confirming identity before an account change."""

from __future__ import annotations

from datetime import datetime, timedelta

import pyotp
import pytest
from sqlalchemy.orm import Session

from adminkit import PASSWORD
from conftest import Persona
from tocsin.accounts import service as accounts
from tocsin.accounts import signin
from tocsin.accounts.models import SignInSession, User
from tocsin.audit.service import CLI
from tocsin.db import utcnow
from tocsin.errors import Conflict, Invalid

START = datetime(2026, 3, 2, 9, 0, 0, tzinfo=utcnow().tzinfo)


def enrolled(session: Session, user: User, at: datetime = START) -> tuple[pyotp.TOTP, list[str]]:
    authenticator = pyotp.TOTP(signin.begin_totp(user))
    codes = signin.enable_totp(session, user=user, code=authenticator.at(at), now=at, actor=CLI)
    session.flush()
    return authenticator, codes


def test_a_code_from_the_step_before_or_after_is_accepted(session: Session, alice: Persona) -> None:
    authenticator, _ = enrolled(session, alice.user)
    later = START + timedelta(minutes=5)
    assert signin.check_totp(alice.user, authenticator.at(later - timedelta(seconds=30)), now=later)
    assert signin.check_totp(alice.user, authenticator.at(later + timedelta(seconds=30)), now=later)


def test_a_code_two_steps_away_is_refused(session: Session, alice: Persona) -> None:
    authenticator, _ = enrolled(session, alice.user)
    later = START + timedelta(minutes=5)
    assert not signin.check_totp(
        alice.user, authenticator.at(later - timedelta(seconds=60)), now=later
    )
    assert not signin.check_totp(
        alice.user, authenticator.at(later + timedelta(seconds=60)), now=later
    )


def test_a_code_or_an_earlier_one_cannot_be_used_again(session: Session, alice: Persona) -> None:
    authenticator, _ = enrolled(session, alice.user)
    later = START + timedelta(minutes=5)
    newest = authenticator.at(later + timedelta(seconds=30))
    assert signin.check_totp(alice.user, newest, now=later)
    assert not signin.check_totp(alice.user, newest, now=later)
    assert not signin.check_totp(alice.user, authenticator.at(later), now=later)
    # Nor the enrolment's own code, in its own step.
    assert not signin.check_totp(alice.user, authenticator.at(START), now=START)


@pytest.mark.parametrize("code", ["", "12345", "1234567", "abcdef", "12 34 5x"])
def test_malformed_codes_are_refused(session: Session, alice: Persona, code: str) -> None:
    enrolled(session, alice.user)
    assert not signin.check_totp(alice.user, code, now=START + timedelta(minutes=5))


def test_a_recovery_code_is_forgiving_in_form_and_works_once(
    session: Session, alice: Persona
) -> None:
    _, codes = enrolled(session, alice.user)
    typed = " " + codes[3].upper().replace("-", " - ") + " "
    assert signin.use_recovery_code(alice.user, typed)
    assert not signin.use_recovery_code(alice.user, codes[3])
    assert len(alice.user.recovery_codes) == signin.RECOVERY_CODES - 1
    assert codes[3] not in str(alice.user.recovery_codes)


def test_two_factor_needs_a_started_set_up_and_cannot_start_twice(
    session: Session, alice: Persona, bob: Persona
) -> None:
    with pytest.raises(Invalid):
        signin.enable_totp(session, user=bob.user, code="123456", now=START, actor=CLI)
    enrolled(session, alice.user)
    with pytest.raises(Conflict):
        signin.begin_totp(alice.user)


def start(session: Session, user: User, at: datetime) -> str:
    started = signin.start_session(session, user=user, now=at, ip="192.0.2.1", user_agent="t")
    session.flush()
    return started.token


def test_a_session_ends_when_idle_too_long_or_past_its_lifetime(
    session: Session, alice: Persona
) -> None:
    idle = start(session, alice.user, START)
    assert signin.find_session(session, idle, now=START + timedelta(hours=11)) is not None
    assert signin.find_session(session, idle, now=START + timedelta(hours=23, minutes=1)) is None
    busy = start(session, alice.user, START)
    lifetime_hours = int(signin.SESSION_LIFETIME.total_seconds() // 3600)
    for hours in range(10, lifetime_hours, 10):
        assert signin.find_session(session, busy, now=START + timedelta(hours=hours)) is not None
    assert signin.find_session(session, busy, now=START + signin.SESSION_LIFETIME) is None


def test_a_disabled_users_sessions_stop_working(session: Session, alice: Persona) -> None:
    token = start(session, alice.user, START)
    alice.user.is_active = False
    assert signin.find_session(session, token, now=START) is None


def test_a_second_factor_session_lives_only_minutes_and_signs_nothing_in(
    session: Session, alice: Persona
) -> None:
    enrolled(session, alice.user)
    token = start(session, alice.user, START)
    row = signin.find_session(session, token, now=START)
    assert row is not None and not row.verified
    assert signin.find_session(session, token, now=START + timedelta(minutes=6)) is None


def test_an_unknown_address_gets_one_more_try_per_lock_time(
    session: Session, alice: Persona
) -> None:
    def outcome(at: datetime) -> type[Exception]:
        with pytest.raises((signin.SignInFailed, signin.Locked)) as caught:
            signin.check_password(session, email="nobody@example.com", password="x", now=at)
        return caught.type

    assert [outcome(START) for _ in range(6)] == [signin.SignInFailed] * 5 + [signin.Locked]
    after = START + signin.LOCK_FOR + timedelta(seconds=1)
    assert outcome(after) is signin.SignInFailed
    assert outcome(after) is signin.Locked


def test_confirming_identity_counts_failures_towards_the_lockout(
    session: Session, alice: Persona
) -> None:
    for _ in range(signin.LOCK_AFTER):
        with pytest.raises(Invalid):
            signin.confirm_identity(session, user=alice.user, password="wrong", now=START)
    with pytest.raises(signin.Locked):
        signin.confirm_identity(session, user=alice.user, password=PASSWORD, now=START)
    after = START + signin.LOCK_FOR + timedelta(seconds=1)
    signin.confirm_identity(session, user=alice.user, password=PASSWORD, now=after)


def test_a_code_confirms_identity_only_with_two_factor_on(
    session: Session, alice: Persona, bob: Persona
) -> None:
    authenticator, codes = enrolled(session, alice.user)
    later = START + timedelta(minutes=5)
    signin.confirm_identity(
        session, user=alice.user, password="", code=authenticator.at(later), now=later
    )
    signin.confirm_identity(session, user=alice.user, password="", code=codes[0], now=later)
    bob.user.totp_secret = alice.user.totp_secret
    with pytest.raises(Invalid):
        signin.confirm_identity(
            session, user=bob.user, password="", code=authenticator.at(later), now=later
        )


def test_pruning_removes_expired_sessions_only(session: Session, alice: Persona) -> None:
    expired = start(session, alice.user, START - signin.SESSION_LIFETIME - timedelta(hours=1))
    live = start(session, alice.user, START)
    assert signin.prune_sessions(session, now=START) == 1
    assert signin.find_session(session, live, now=START) is not None
    assert session.get(SignInSession, accounts.digest(expired)) is None
