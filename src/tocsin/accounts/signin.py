"""Signing in: passwords, lockout, two-factor codes and browser sessions.

Every failure a visitor can see reads the same ("email or password is wrong"), whether
the address exists or not, and an unknown address costs the same argon2 work as a known
one and locks after as many tries, so neither the message, the timing nor the lockout
tells which addresses have accounts.
"""

from __future__ import annotations

import hashlib
import hmac
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
from tocsin.errors import Conflict, DomainError, Invalid
from tocsin.lib import ratelimit
from tocsin.settings import Settings

SESSION_LIFETIME = timedelta(days=14)
IDLE_TIMEOUT = timedelta(hours=12)
# Between the password and the code: long enough to open an authenticator app.
SECOND_FACTOR_WINDOW = timedelta(minutes=5)
LOCK_AFTER = 5
LOCK_FOR = timedelta(minutes=15)
RECOVERY_CODES = 10
ISSUER = "Tocsin"

WRONG = "email or password is wrong"
LOCKED = (
    "too many failed attempts: this account is locked for a few minutes; "
    "try again later or reset the password"
)
_DUMMY_HASH = accounts.hash_password(secrets.token_urlsafe(16))
# An unknown address "locks" as an account does: refused after LOCK_AFTER quick tries,
# for LOCK_FOR (its bucket refills one try per LOCK_FOR).
_UNKNOWN_ADDRESS = ratelimit.Limit(
    limit=LOCK_AFTER, per_seconds=LOCK_AFTER * LOCK_FOR.total_seconds()
)


class SignInFailed(DomainError):
    status_code = 401


class Locked(DomainError):
    status_code = 429


@dataclass(frozen=True)
class Started:
    """A new session: `token` goes in the cookie, once."""

    session: SignInSession
    token: str


def check_password(session: Session, *, email: str, password: str, now: datetime) -> User:
    """The user whose password this is, counting failures towards a temporary lockout."""
    email = email.strip().lower()
    user = accounts.find_user(session, email)
    if user is None or not user.password_hash or not user.is_active:
        bucket = f"signin-unknown:{email}"
        if not ratelimit.hit(session, bucket, _UNKNOWN_ADDRESS, now=now.timestamp()).allowed:
            raise Locked(LOCKED)
        accounts.verify_password(User(password_hash=_DUMMY_HASH), password)
        raise SignInFailed(WRONG)
    if is_locked(user, now=now):
        raise Locked(LOCKED)
    if not accounts.verify_password(user, password):
        _failed(session, user, now=now)
        raise SignInFailed(WRONG)
    # With two-factor on, wrong codes keep counting until a code is right: otherwise
    # someone holding the password could re-enter it between guesses, never locking.
    if user.totp_enabled_at is None:
        user.failed_signins = 0
    return user


def is_locked(user: User, *, now: datetime) -> bool:
    return user.locked_until is not None and user.locked_until > now


def _failed(session: Session, user: User, *, now: datetime) -> None:
    """Count a wrong password or code; the LOCK_AFTER-th in a row locks the account."""
    user.failed_signins += 1
    if user.failed_signins < LOCK_AFTER:
        return
    user.locked_until = now + LOCK_FOR
    user.failed_signins = 0
    _audit(session, Actor(user.email, user_id=user.id), "user.locked", user)


def _audit(session: Session, actor: Actor, action: str, user: User) -> None:
    audit.record(
        session, actor=actor, action=action, page_id=None, object_type="user", object_id=user.id
    )


def confirm_identity(
    session: Session, *, user: User, password: str, code: str = "", now: datetime
) -> None:
    """Before a change to the account itself: its password or, with two-factor on, a code
    (TOTP or recovery). Failures count towards the same lockout as signing in."""
    if is_locked(user, now=now):
        raise Locked(LOCKED)
    if password and accounts.verify_password(user, password):
        return
    two_factor = bool(code) and user.totp_enabled_at is not None
    if two_factor and (check_totp(user, code, now=now) or use_recovery_code(user, code)):
        return
    _failed(session, user, now=now)
    raise Invalid("that password (or code) is not right")


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
        token_hash=accounts.digest(token),
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
    _audit(session, Actor(user.email, user_id=user.id, ip=ip), "user.sign_in", user)


def find_session(session: Session, token: str, *, now: datetime) -> SignInSession | None:
    """The live session for a cookie token, its idle clock restarted; None when unknown,
    expired, idle too long or its user disabled."""
    row = session.get(SignInSession, accounts.digest(token))
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
    if is_locked(user, now=now):
        session.delete(row)
        raise Locked(LOCKED)
    if not (check_totp(user, code, now=now) or use_recovery_code(user, code)):
        _failed(session, user, now=now)
        if is_locked(user, now=now):
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
    wanted = accounts.digest(_normal_recovery(code))
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


def begin_totp(user: User) -> str:
    """A new secret for the user to scan, kept until a code from it confirms it."""
    if user.totp_enabled_at is not None:
        raise Conflict("two-factor is already on: turn it off first to use a new device")
    user.totp_secret = new_totp_secret()
    return user.totp_secret


def enable_totp(
    session: Session, *, user: User, code: str, now: datetime, actor: Actor
) -> list[str]:
    """Turn two-factor on once a code from the secret of `begin_totp` checks; returns
    recovery codes, shown once."""
    if user.totp_enabled_at is not None:
        raise Conflict("two-factor is already on")
    if not user.totp_secret:
        raise Invalid("start the two-factor set-up again: there is no secret to confirm")
    if not check_totp(user, code, now=now):
        raise Invalid("that code does not match: check the time on your phone and try again")
    user.totp_enabled_at = now
    codes = [
        f"{secrets.token_hex(3)}-{secrets.token_hex(3)}".lower() for _ in range(RECOVERY_CODES)
    ]
    user.recovery_codes = [accounts.digest(_normal_recovery(c)) for c in codes]
    _audit(session, actor, "user.totp_enable", user)
    return codes


def disable_totp(session: Session, *, user: User, actor: Actor) -> None:
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    user.recovery_codes = []
    _audit(session, actor, "user.totp_disable", user)


def check_new_password(password: str) -> None:
    """Invalid unless `password` is long enough (and not absurdly long) to be chosen."""
    if len(password) < 10:
        raise Invalid("the password must have at least 10 characters")
    if len(password) > 1024:
        raise Invalid("the password is too long (1024 characters at most)")


def change_password(
    session: Session, *, user: User, new_password: str, now: datetime, actor: Actor
) -> None:
    check_new_password(new_password)
    user.password_hash = accounts.hash_password(new_password)
    user.password_changed_at = now
    user.failed_signins = 0
    user.locked_until = None
    _audit(session, actor, "user.password_change", user)


def live_sessions(session: Session, *, user_id: str, now: datetime) -> list[SignInSession]:
    """The user's signed-in browsers, most recently seen first."""
    return list(
        session.scalars(
            select(SignInSession)
            .where(
                SignInSession.user_id == user_id,
                SignInSession.verified.is_(True),
                SignInSession.expires_at > now,
                SignInSession.last_seen_at > now - IDLE_TIMEOUT,
            )
            .order_by(SignInSession.last_seen_at.desc())
        )
    )


def prune_sessions(session: Session, *, now: datetime | None = None) -> int:
    at = now or utcnow()
    result = session.execute(delete(SignInSession).where(SignInSession.expires_at <= at))
    return int(getattr(result, "rowcount", 0) or 0)


def setup_token(settings: Settings) -> str:
    """The first-run token: derived from the secret key, so every process of the install
    prints the same one, and useless once an account exists."""
    key = settings.resolved_secret_key().encode()
    return hmac.new(key, b"tocsin first-run setup", hashlib.sha256).hexdigest()[:32]


def setup_link(settings: Settings) -> str:
    return f"{settings.base_url.rstrip('/')}/admin/setup?token={setup_token(settings)}"


def nobody_can_sign_in(session: Session) -> bool:
    """True until the first account exists: any account at all (even a CLI key's service
    account) closes the first-run setup for good."""
    return session.scalars(select(User.id)).first() is None
