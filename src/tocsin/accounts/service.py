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
from tocsin.errors import Conflict, Invalid, NotFound, PermissionDenied
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


def find_user(session: Session, email: str) -> User | None:
    """The account of an address, compared as stored: trimmed and lower-case."""
    return session.scalars(select(User).where(User.email == email.strip().lower())).first()


def get_user_by_email(session: Session, email: str) -> User:
    user = find_user(session, email)
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
    """A key for `user`, limited to `data.page_ids` (pages the user is a member of) or,
    without them, good for every page the user has a role on now or later."""
    page_ids = _checked_scope(session, user_id=user.id, page_ids=data.page_ids)
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        user_id=user.id,
        name=data.name,
        prefix=secret[:12],
        key_hash=digest(secret),
        page_ids=page_ids,
    )
    session.add(key)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="api_key.create",
        page_id=None,
        object_type="api_key",
        object_id=key.id,
        changes={"name": data.name, "user": user.email, "pages": page_ids or "all"},
    )
    return NewApiKey(key=key, secret=secret)


def _checked_scope(
    session: Session, *, user_id: str, page_ids: list[str] | None
) -> list[str] | None:
    if page_ids is None:
        return None
    wanted = sorted(set(page_ids))
    if not wanted:
        raise Invalid("choose at least one page for the key, or all your pages")
    mine = set(
        session.scalars(
            select(Membership.page_id).where(
                Membership.user_id == user_id, Membership.page_id.in_(wanted)
            )
        )
    )
    if mine != set(wanted):
        raise Invalid("a key can only be scoped to pages you are a member of")
    return wanted


def authenticate_api_key(session: Session, secret: str) -> ApiKey | None:
    """Return the live key matching `secret`, stamping its last use; None if unknown or revoked."""
    key = session.scalars(select(ApiKey).where(ApiKey.key_hash == digest(secret))).first()
    if key is None or key.revoked_at is not None:
        return None
    key.last_used_at = utcnow()
    return key


def revoke_api_key(session: Session, *, key: ApiKey, actor: Actor) -> None:
    if key.revoked_at is not None:
        return
    key.revoked_at = utcnow()
    audit.record(
        session,
        actor=actor,
        action="api_key.revoke",
        page_id=None,
        object_type="api_key",
        object_id=key.id,
        changes={"name": key.name},
    )


def list_keys(session: Session, *, user_id: str) -> list[ApiKey]:
    """The user's keys, revoked ones included, newest first."""
    return list(
        session.scalars(
            select(ApiKey)
            .where(ApiKey.user_id == user_id)
            .order_by(ApiKey.created_at.desc(), ApiKey.id)
        )
    )


def get_own_key(session: Session, *, user_id: str, key_id: str) -> ApiKey:
    key = session.get(ApiKey, key_id)
    if key is None or key.user_id != user_id:
        raise NotFound("there is no such API key")
    return key


def key_covers(key: ApiKey, page_id: str) -> bool:
    """Whether the key's scope includes the page (its user's role is checked apart)."""
    return key.page_ids is None or page_id in key.page_ids


@dataclass(frozen=True)
class MemberKey:
    key: ApiKey
    user: User
    role: Role


def member_keys(session: Session, *, page_id: str) -> list[MemberKey]:
    """The keys that can act on the page: its members' keys whose scope covers it."""
    rows = session.execute(
        select(ApiKey, User, Membership.role)
        .join(User, User.id == ApiKey.user_id)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.page_id == page_id)
        .order_by(User.email, ApiKey.created_at.desc(), ApiKey.id)
    )
    return [MemberKey(key, user, role) for key, user, role in rows if key_covers(key, page_id)]


def revoke_member_key(
    session: Session, *, page_id: str, key_id: str, acting_role: Role, actor: Actor
) -> ApiKey:
    """Revoke a key that can act on the page, as one of its owners or admins."""
    found = next((k for k in member_keys(session, page_id=page_id) if k.key.id == key_id), None)
    if found is None:
        raise NotFound("there is no such API key on this page")
    _check_can_manage(acting_role, found.role)
    revoke_api_key(session, key=found.key, actor=actor)
    return found.key


# --- team ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Member:
    user: User
    role: Role


def members(session: Session, *, page_id: str) -> list[Member]:
    rows = session.execute(
        select(User, Membership.role)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.page_id == page_id)
        .order_by(User.email)
    )
    return [Member(user, role) for user, role in rows]


def check_can_grant(acting_role: Role, role: Role) -> None:
    """Owners and admins manage a team; only owners can make (or invite) owners."""
    if not has_role(acting_role, Role.ADMIN):
        raise PermissionDenied("only owners and admins can manage the team")
    if role == Role.OWNER and acting_role != Role.OWNER:
        raise PermissionDenied("only an owner can make someone an owner")


def _check_can_manage(acting_role: Role, target_role: Role) -> None:
    if not has_role(acting_role, Role.ADMIN):
        raise PermissionDenied("only owners and admins can manage the team")
    if target_role == Role.OWNER and acting_role != Role.OWNER:
        raise PermissionDenied("only an owner can change an owner")


def _membership(session: Session, *, page_id: str, user_id: str) -> Membership:
    # Locked on PostgreSQL: two owners demoting each other at once must not both pass
    # the last-owner check.
    membership = session.scalars(
        select(Membership)
        .where(Membership.page_id == page_id, Membership.user_id == user_id)
        .with_for_update()
    ).first()
    if membership is None:
        raise NotFound("there is no such member of this page")
    return membership


def _check_not_last_owner(session: Session, membership: Membership) -> None:
    if membership.role != Role.OWNER:
        return
    owners = session.scalars(
        select(Membership.user_id)
        .where(Membership.page_id == membership.page_id, Membership.role == Role.OWNER)
        .with_for_update()
    ).all()
    if len(owners) <= 1:
        raise Conflict("a page needs an owner: make someone else owner first")


def change_role(
    session: Session,
    *,
    page_id: str,
    user_id: str,
    role: Role,
    acting_role: Role,
    actor: Actor,
) -> Membership:
    membership = _membership(session, page_id=page_id, user_id=user_id)
    _check_can_manage(acting_role, membership.role)
    check_can_grant(acting_role, role)
    if membership.role == role:
        return membership
    if role != Role.OWNER:
        _check_not_last_owner(session, membership)
    before = membership.role
    membership.role = role
    audit.record(
        session,
        actor=actor,
        action="member.role_change",
        page_id=page_id,
        object_type="user",
        object_id=user_id,
        changes={"role": [before.value, role.value]},
    )
    return membership


def remove_member(
    session: Session, *, page_id: str, user_id: str, acting_role: Role, actor: Actor
) -> None:
    membership = _membership(session, page_id=page_id, user_id=user_id)
    _check_can_manage(acting_role, membership.role)
    _check_not_last_owner(session, membership)
    user = session.get(User, user_id)
    session.delete(membership)
    audit.record(
        session,
        actor=actor,
        action="member.remove",
        page_id=page_id,
        object_type="user",
        object_id=user_id,
        changes={"email": user.email if user else None, "role": membership.role.value},
    )


ROLE_ORDER = (Role.VIEWER, Role.EDITOR, Role.ADMIN, Role.OWNER)


def has_role(role: Role | None, needed: Role) -> bool:
    return role is not None and ROLE_ORDER.index(role) >= ROLE_ORDER.index(needed)
