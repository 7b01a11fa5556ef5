"""Signing in: passwords, lockout, two-factor codes and browser sessions.

Every failure a visitor can see reads the same ("email or password is wrong"), whether
the address exists or not, and an unknown address costs the same argon2 work as a known
one, so neither the message nor the timing tells which addresses have accounts.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from tocsin.accounts import service as accounts
from tocsin.accounts.models import SignInSession, User
from tocsin.audit import service as audit
from tocsin.audit.service import Actor
from tocsin.db import utcnow
from tocsin.errors import DomainError, Invalid

SESSION_LIFETIME = timedelta(days=14)
IDLE_TIMEOUT = timedelta(hours=12)
# Between the password and the code: long enough to open an authenticator app.
SECOND_FACTOR_WINDOW = timedelta(minutes=5)
LOCK_AFTER = 5
LOCK_FOR = timedelta(minutes=15)
RECOVERY_CODES = 10
ISSUER = "Tocsin"

WRONG = "email or password is wrong"
_DUMMY_HASH = accounts.hash_password(secrets.token_urlsafe(16))


class SignInFailed(DomainError):
    status_code = 401


class Locked(DomainError):
    status_code = 429


@dataclass(frozen=True)
class Started:
    """A new session: `token` goes in the cookie, once."""

    session: SignInSession
    token: str


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_password(session: Session, *, email: str, password: str, now: datetime) -> User:
    """The user whose password this is, counting failures towards a temporary lockout."""
    user = session.scalars(select(User).where(User.email == email.strip().lower())).first()
    if user is None or not user.password_hash or not user.is_active:
        accounts.verify_password(User(password_hash=_DUMMY_HASH), password)
        raise SignInFailed(WRONG)
    if user.locked_until is not None and user.locked_until > now:
        raise Locked(
            "too many failed sign-ins: this account is locked for a few minutes; "
            "try again later or reset the password"
        )
    if not accounts.verify_password(user, password):
        user.failed_signins += 1
        if user.failed_signins >= LOCK_AFTER:
            user.locked_until = now + LOCK_FOR
            user.failed_signins = 0
            audit.record(
                session,
                actor=Actor(user.email, user_id=user.id),
                action="user.locked",
                page_id=None,
                object_type="user",
                object_id=user.id,
            )
        raise SignInFailed(WRONG)
    user.failed_signins = 0
    user.locked_until = None
    return user


def start_session(
    session: Session,
    *,
    user: User,
    now: datetime,
    ip: str | None,
    user_agent: str | None,
) -> Started:
    """A session for `user`; unverified (good for the TOTP step only) when two-factor is on."""
    token = secrets.token_urlsafe(32)
    verified = user.totp_enabled_at is None
    row = SignInSession(
        token_hash=digest(token),
        user_id=user.id,
        csrf_token=secrets.token_urlsafe(32),
        verified=verified,
        created_at=now,
        last_seen_at=now,
        expires_at=now + (SESSION_LIFETIME if verified else SECOND_FACTOR_WINDOW),
        ip=ip,
        user_agent=(user_agent or "")[:255] or None,
    )
    session.add(row)
    if verified:
        _signed_in(session, user, ip)
    return Started(session=row, token=token)


def _signed_in(session: Session, user: User, ip: str | None) -> None:
    audit.record(
        session,
        actor=Actor(user.email, user_id=user.id, ip=ip),
        action="user.sign_in",
        page_id=None,
        object_type="user",
        object_id=user.id,
    )


def find_session(session: Session, token: str, *, now: datetime) -> SignInSession | None:
    """The live session for a cookie token, its idle clock restarted; None when unknown,
    expired, idle too long or its user disabled."""
    row = session.get(SignInSession, digest(token))
    if row is None:
        return None
    if row.expires_at <= now or (row.verified and row.last_seen_at + IDLE_TIMEOUT <= now):
        session.delete(row)
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.is_active:
        return None
    # Writing on every request would turn each page view into a write; a minute is enough.
    if now - row.last_seen_at > timedelta(minutes=1):
        row.last_seen_at = now
    return row


def end_session(session: Session, row: SignInSession) -> None:
    session.delete(row)


def end_other_sessions(session: Session, *, user_id: str, keep: str | None) -> None:
    """Sign the user out everywhere else (after a password or two-factor change)."""
    query = delete(SignInSession).where(SignInSession.user_id == user_id)
    if keep is not None:
        query = query.where(SignInSession.token_hash != keep)
    session.execute(query)


def verify_second_factor(
    session: Session, *, row: SignInSession, code: str, now: datetime, ip: str | None
) -> None:
    """Finish a two-factor sign-in with a TOTP code or a recovery code."""
    user = session.get(User, row.user_id)
    assert user is not None
    if user.locked_until is not None and user.locked_until > now:
        raise Locked("too many wrong codes: this account is locked for a few minutes")
    if not (check_totp(user, code, now=now) or use_recovery_code(user, code)):
        user.failed_signins += 1
        if user.failed_signins >= LOCK_AFTER:
            user.locked_until = now + LOCK_FOR
            user.failed_signins = 0
            session.delete(row)
        raise SignInFailed("that code is not right; codes change every 30 seconds")
    user.failed_signins = 0
    row.verified = True
    row.expires_at = now + SESSION_LIFETIME
    row.last_seen_at = now
    _signed_in(session, user, ip)


def check_totp(user: User, code: str, *, now: datetime) -> bool:
    """Accept the code of the current 30-second step or its neighbours, each step once."""
    if not user.totp_secret:
        return False
    code = "".join(code.split())
    if not (code.isdigit() and len(code) == 6):
        return False
    totp = pyotp.TOTP(user.totp_secret)
    current = int(now.timestamp()) // totp.interval
    for step in (current - 1, current, current + 1):
        if user.totp_last_step is not None and step <= user.totp_last_step:
            continue
        if secrets.compare_digest(totp.at(step * totp.interval), code):
            user.totp_last_step = step
            return True
    return False


def use_recovery_code(user: User, code: str) -> bool:
    wanted = digest(_normal_recovery(code))
    if wanted in user.recovery_codes:
        user.recovery_codes = [c for c in user.recovery_codes if c != wanted]
        return True
    return False


def _normal_recovery(code: str) -> str:
    return "".join(code.split()).replace("-", "").lower()


def new_totp_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)


def enable_totp(
    session: Session, *, user: User, secret: str, code: str, now: datetime, actor: Actor
) -> list[str]:
    """Turn two-factor on once a code from the new secret checks; returns recovery codes,
    shown once."""
    candidate = User(totp_secret=secret)
    if not check_totp(candidate, code, now=now):
        raise Invalid("that code does not match: check the time on your phone and try again")
    user.totp_secret = secret
    user.totp_last_step = candidate.totp_last_step
    user.totp_enabled_at = now
    codes = [
        f"{secrets.token_hex(3)}-{secrets.token_hex(3)}".lower() for _ in range(RECOVERY_CODES)
    ]
    user.recovery_codes = [digest(_normal_recovery(c)) for c in codes]
    audit.record(
        session,
        actor=actor,
        action="user.totp_enable",
        page_id=None,
        object_type="user",
        object_id=user.id,
    )
    return codes


def disable_totp(session: Session, *, user: User, actor: Actor) -> None:
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    user.recovery_codes = []
    audit.record(
        session,
        actor=actor,
        action="user.totp_disable",
        page_id=None,
        object_type="user",
        object_id=user.id,
    )


def change_password(
    session: Session, *, user: User, new_password: str, now: datetime, actor: Actor
) -> None:
    if len(new_password) < 10:
        raise Invalid("the password must have at least 10 characters")
    if len(new_password) > 1024:
        raise Invalid("the password is too long (1024 characters at most)")
    user.password_hash = accounts.hash_password(new_password)
    user.password_changed_at = now
    user.failed_signins = 0
    user.locked_until = None
    audit.record(
        session,
        actor=actor,
        action="user.password_change",
        page_id=None,
        object_type="user",
        object_id=user.id,
    )


def prune_sessions(session: Session, *, now: datetime | None = None) -> int:
    at = now or utcnow()
    result = session.execute(delete(SignInSession).where(SignInSession.expires_at <= at))
    return int(getattr(result, "rowcount", 0) or 0)
