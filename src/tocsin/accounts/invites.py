"""Invitations to a page, password resets, and the emails that carry their links.

Both links carry a random or signed token; the emails are rows in `account_emails`,
written in the same transaction as the change and sent by the worker (`mailer.py`).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tocsin.accounts import service as accounts
from tocsin.accounts import signin
from tocsin.accounts.models import AccountEmail, Invitation, Membership, Role, User
from tocsin.audit import service as audit
from tocsin.audit.service import Actor
from tocsin.errors import Conflict, Invalid, NotFound
from tocsin.lib import signing
from tocsin.pages.models import Page

INVITATION_LIFETIME = timedelta(days=7)
RESET_LIFETIME = timedelta(hours=1)
_RESET = "password-reset"


@dataclass(frozen=True)
class NewInvitation:
    invitation: Invitation
    token: str


def queue_email(session: Session, *, to: str, subject: str, body: str) -> AccountEmail:
    email = AccountEmail(to_address=to, subject=subject[:255], body=body[:10000])
    session.add(email)
    return email


def invite(
    session: Session,
    *,
    page: Page,
    email: str,
    role: Role,
    base_url: str,
    now: datetime,
    actor: Actor,
    acting_role: Role,
) -> NewInvitation:
    """Invite `email` to `page` as `role`, replacing any earlier pending invitation of
    that address there (only the newest link works); `acting_role` is the inviter's."""
    accounts.check_can_grant(acting_role, role)
    email = email.strip().lower()
    existing = accounts.find_user(session, email)
    if existing is not None and accounts.role_on(session, user_id=existing.id, page_id=page.id):
        raise Conflict(f"{email} is already a member of this page")
    for earlier in pending_invitations(session, page_id=page.id, now=now):
        if earlier.email == email:
            earlier.revoked_at = now
    token = secrets.token_urlsafe(32)
    invitation = Invitation(
        page_id=page.id,
        email=email,
        role=role,
        token_hash=accounts.digest(token),
        invited_by=actor.user_id,
        created_at=now,
        expires_at=now + INVITATION_LIFETIME,
    )
    session.add(invitation)
    session.flush()
    link = f"{base_url.rstrip('/')}/admin/invitations/{token}"
    queue_email(
        session,
        to=email,
        subject=f"You are invited to manage {page.name}'s status page",
        body=(
            f"{actor.label} invited you to {page.name}'s status page on Tocsin as "
            f"{role.value}.\n\nAccept the invitation (the link works for 7 days):\n{link}\n\n"
            "If you did not expect this, ignore this email.\n"
        ),
    )
    _audit(session, actor, "invitation.create", invitation, {"email": email, "role": role.value})
    return NewInvitation(invitation=invitation, token=token)


def find_invitation(session: Session, token: str, *, now: datetime) -> Invitation:
    invitation = session.scalars(
        select(Invitation).where(Invitation.token_hash == accounts.digest(token))
    ).first()
    if invitation is None or not _is_pending(invitation, now):
        raise NotFound("this invitation is not valid any more: ask for a new one")
    return invitation


def _is_pending(invitation: Invitation, now: datetime) -> bool:
    return (
        invitation.accepted_at is None
        and invitation.revoked_at is None
        and invitation.expires_at > now
    )


def accept(
    session: Session,
    *,
    invitation: Invitation,
    password: str,
    signed_in: User | None,
    now: datetime,
    ip: str | None,
) -> User:
    """Join the page: as the signed-in user, as the existing account of the invited
    address (its password checked), or as a new account with `password`."""
    user = signed_in or accounts.find_user(session, invitation.email)
    if user is None:
        signin.check_new_password(password)
        user = User(email=invitation.email, password_hash=accounts.hash_password(password))
        session.add(user)
        session.flush()
    elif signed_in is None:
        _check_own_password(session, user=user, password=password, now=now)
    if session.get(Membership, (user.id, invitation.page_id)) is None:
        session.add(Membership(user_id=user.id, page_id=invitation.page_id, role=invitation.role))
    invitation.accepted_at = now
    actor = Actor(user.email, user_id=user.id, ip=ip)
    _audit(session, actor, "invitation.accept", invitation, {"role": invitation.role.value})
    return user


def _check_own_password(session: Session, *, user: User, password: str, now: datetime) -> None:
    # Through the sign-in check, so wrong passwords here count towards the lockout too.
    try:
        signin.check_password(session, email=user.email, password=password, now=now)
    except signin.SignInFailed:
        raise Invalid("this address has an account: enter its password to accept") from None


def get_invitation(
    session: Session, *, page_id: str, invitation_id: str, now: datetime
) -> Invitation:
    """A pending invitation to `page_id`; NotFound for any other."""
    invitation = session.get(Invitation, invitation_id)
    if invitation is None or invitation.page_id != page_id or not _is_pending(invitation, now):
        raise NotFound("there is no such pending invitation")
    return invitation


def revoke_invitation(
    session: Session, *, invitation: Invitation, now: datetime, actor: Actor, acting_role: Role
) -> None:
    accounts.check_can_grant(acting_role, invitation.role)
    invitation.revoked_at = now
    _audit(session, actor, "invitation.revoke", invitation)


def _audit(
    session: Session,
    actor: Actor,
    action: str,
    invitation: Invitation,
    changes: dict[str, Any] | None = None,
) -> None:
    audit.record(
        session,
        actor=actor,
        action=action,
        page_id=invitation.page_id,
        object_type="invitation",
        object_id=invitation.id,
        changes=changes,
    )


def pending_invitations(session: Session, *, page_id: str, now: datetime) -> list[Invitation]:
    return list(
        session.scalars(
            select(Invitation)
            .where(
                Invitation.page_id == page_id,
                Invitation.accepted_at.is_(None),
                Invitation.revoked_at.is_(None),
                Invitation.expires_at > now,
            )
            .order_by(Invitation.created_at.desc())
        )
    )


def _reset_subject(user: User) -> str:
    # Bound to the current password: once it changes, every earlier link stops working.
    return f"{user.id}:{user.password_hash or ''}"


def request_reset(
    session: Session, *, email: str, secret: str, base_url: str, now: datetime
) -> None:
    """Email a reset link if the address has an account; say nothing either way."""
    user = accounts.find_user(session, email)
    if user is None or not user.is_active or not user.password_hash:
        return
    expires = int((now + RESET_LIFETIME).timestamp())
    token = signing.sign(secret, _RESET, _reset_subject(user), expires_at=expires)
    link = f"{base_url.rstrip('/')}/admin/reset/{user.id}/{token}"
    queue_email(
        session,
        to=user.email,
        subject="Reset your Tocsin password",
        body=(
            "Someone (hopefully you) asked to reset the password of this Tocsin account.\n\n"
            f"Choose a new password (the link works for one hour, once):\n{link}\n\n"
            "If you did not ask, ignore this email: your password stays as it is.\n"
        ),
    )


def user_for_reset(
    session: Session, *, user_id: str, token: str, secret: str, now: datetime
) -> User:
    user = session.get(User, user_id)
    if (
        user is None
        or not user.is_active
        or not signing.verify(secret, _RESET, _reset_subject(user), token, now=now.timestamp())
    ):
        raise NotFound("this reset link is not valid any more: ask for a new one")
    return user
