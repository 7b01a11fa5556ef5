from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from tocsin.accounts.models import ApiKey, Membership, Role, User
from tocsin.accounts.schemas import ApiKeyCreate, UserCreate
from tocsin.audit import service as audit
from tocsin.audit.service import Actor
from tocsin.db import utcnow
from tocsin.errors import Conflict, NotFound
from tocsin.pages.models import Page

KEY_PREFIX = "tocsin_"
_hasher = PasswordHasher()


@dataclass(frozen=True)
class NewApiKey:
    key: ApiKey
    secret: str
    """Shown once; only its digest is stored."""


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(user: User, password: str) -> bool:
    if not user.password_hash:
        return False
    try:
        return _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def get_user_by_email(session: Session, email: str) -> User:
    user = session.scalars(select(User).where(User.email == email.strip().lower())).first()
    if user is None:
        raise NotFound(f"no user with email {email}")
    return user


def create_user(session: Session, *, page: Page, data: UserCreate, actor: Actor) -> User:
    if session.scalars(select(User.id).where(User.email == data.email)).first():
        raise Conflict(f"a user with email {data.email} already exists")
    return _add_user(
        session, page=page, email=data.email, password=data.password, role=data.role, actor=actor
    )


def create_service_user(session: Session, *, page: Page, email: str, actor: Actor) -> User:
    """An account without a password, owning keys that scripts use; it cannot sign in."""
    existing = session.scalars(select(User).where(User.email == email)).first()
    if existing is not None:
        return existing
    return _add_user(session, page=page, email=email, password=None, role=Role.OWNER, actor=actor)


def _add_user(
    session: Session, *, page: Page, email: str, password: str | None, role: Role, actor: Actor
) -> User:
    user = User(email=email, password_hash=hash_password(password) if password else None)
    session.add(user)
    session.flush()
    session.add(Membership(user_id=user.id, page_id=page.id, role=role))
    audit.record(
        session,
        actor=actor,
        action="user.create",
        page_id=page.id,
        object_type="user",
        object_id=user.id,
        changes={"email": email, "role": role.value, "can_sign_in": password is not None},
    )
    return user


def role_on(session: Session, *, user_id: str, page_id: str) -> Role | None:
    membership = session.get(Membership, (user_id, page_id))
    return None if membership is None else membership.role


def pages_of_user(session: Session, *, user_id: str) -> list[tuple[Page, Role]]:
    """The pages the user has a role on, with that role, by page name."""
    rows = session.execute(
        select(Page, Membership.role)
        .join(Membership, Membership.page_id == Page.id)
        .where(Membership.user_id == user_id)
        .order_by(Page.name, Page.id)
    )
    return [(page, role) for page, role in rows]


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_api_key(session: Session, *, user: User, data: ApiKeyCreate, actor: Actor) -> NewApiKey:
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(user_id=user.id, name=data.name, prefix=secret[:12], key_hash=digest(secret))
    session.add(key)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="api_key.create",
        page_id=None,
        object_type="api_key",
        object_id=key.id,
        changes={"name": data.name, "user": user.email},
    )
    return NewApiKey(key=key, secret=secret)


def authenticate_api_key(session: Session, secret: str) -> ApiKey | None:
    """Return the live key matching `secret`, stamping its last use; None if unknown or revoked."""
    key = session.scalars(select(ApiKey).where(ApiKey.key_hash == digest(secret))).first()
    if key is None or key.revoked_at is not None:
        return None
    key.last_used_at = utcnow()
    return key


def revoke_api_key(session: Session, *, key: ApiKey, actor: Actor) -> None:
    key.revoked_at = utcnow()
    audit.record(
        session,
        actor=actor,
        action="api_key.revoke",
        page_id=None,
        object_type="api_key",
        object_id=key.id,
    )


ROLE_ORDER = (Role.VIEWER, Role.EDITOR, Role.ADMIN, Role.OWNER)


def has_role(role: Role | None, needed: Role) -> bool:
    return role is not None and ROLE_ORDER.index(role) >= ROLE_ORDER.index(needed)
