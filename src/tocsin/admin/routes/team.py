"""The team of a page: members and their roles, invitations, and the API keys that can
act on the page. Owners and admins manage it; only owners make or change owners."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from tocsin.accounts import invites
from tocsin.accounts import service as accounts
from tocsin.accounts.models import Role
from tocsin.accounts.schemas import InvitationCreate
from tocsin.admin.auth import OnPage, OnPageDep, csrf_protect, needs
from tocsin.admin.render import redirect, render
from tocsin.db import utcnow
from tocsin.deps import SessionDep, SettingsDep
from tocsin.errors import DomainError, Invalid

router = APIRouter(
    prefix="/admin/pages/{page_id}/team",
    include_in_schema=False,
    dependencies=[Depends(csrf_protect)],
)

ROLE_HINTS = {
    Role.OWNER: "everything, including owners",
    Role.ADMIN: "team, settings, components, subscribers, automation",
    Role.EDITOR: "incidents, maintenance, component statuses",
    Role.VIEWER: "reads only",
}

_RoleField = Annotated[str, Form(max_length=20)]


def _url(ctx: OnPage) -> str:
    return f"/admin/pages/{ctx.page.id}/team"


def _grantable(ctx: OnPage) -> list[Role]:
    return [r for r in Role if r != Role.OWNER or ctx.role == Role.OWNER]


def _screen(
    request: Request,
    ctx: OnPage,
    session: Session,
    *,
    status_code: int = 200,
    error: str | None = None,
    invite_email: str = "",
    invite_role: str = Role.EDITOR.value,
) -> Response:
    page_id = ctx.page.id
    return render(
        request,
        "admin/team.html",
        ctx=ctx,
        section="team",
        status_code=status_code,
        members=accounts.members(session, page_id=page_id),
        invitations=invites.pending_invitations(session, page_id=page_id, now=utcnow()),
        keys=accounts.member_keys(session, page_id=page_id),
        roles=_grantable(ctx),
        role_options=[(r.value, f"{r.value}: {ROLE_HINTS[r]}") for r in _grantable(ctx)],
        role_hints=ROLE_HINTS,
        error=error,
        invite_email=invite_email,
        invite_role=invite_role,
    )


def _role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        raise Invalid("choose one of the roles offered") from None


@router.get("", response_class=HTMLResponse)
def team(request: Request, ctx: OnPageDep, session: SessionDep) -> Response:
    needs(ctx, Role.ADMIN)
    return _screen(request, ctx, session)


@router.post("/invitations", response_class=HTMLResponse)
def invite(
    request: Request,
    ctx: OnPageDep,
    session: SessionDep,
    settings: SettingsDep,
    email: Annotated[str, Form(max_length=254)] = "",
    role: _RoleField = Role.EDITOR.value,
) -> Response:
    needs(ctx, Role.ADMIN)
    kept: dict[str, Any] = {"invite_email": email, "invite_role": role}
    try:
        data = InvitationCreate(email=email, role=_role(role))
        invites.invite(
            session,
            page=ctx.page,
            email=data.email,
            role=data.role,
            base_url=settings.base_url,
            now=utcnow(),
            actor=ctx.actor,
            acting_role=ctx.role,
        )
    except ValidationError:
        return _screen(
            request, ctx, session, status_code=422, error="enter a valid email address", **kept
        )
    except DomainError as exc:
        return _screen(
            request, ctx, session, status_code=exc.status_code, error=exc.message, **kept
        )
    return redirect(_url(ctx), flash=f"Invitation emailed to {data.email}.")


@router.post("/invitations/{invitation_id}/revoke", response_class=HTMLResponse)
def revoke_invitation(
    invitation_id: str, request: Request, ctx: OnPageDep, session: SessionDep
) -> Response:
    needs(ctx, Role.ADMIN)
    now = utcnow()
    invitation = invites.get_invitation(
        session, page_id=ctx.page.id, invitation_id=invitation_id, now=now
    )
    try:
        invites.revoke_invitation(
            session, invitation=invitation, now=now, actor=ctx.actor, acting_role=ctx.role
        )
    except DomainError as exc:
        return _screen(request, ctx, session, status_code=exc.status_code, error=exc.message)
    return redirect(_url(ctx), flash=f"The invitation to {invitation.email} is revoked.")


@router.post("/members/{user_id}/role", response_class=HTMLResponse)
def change_role(
    user_id: str, request: Request, ctx: OnPageDep, session: SessionDep, role: _RoleField = ""
) -> Response:
    needs(ctx, Role.ADMIN)
    try:
        accounts.change_role(
            session,
            page_id=ctx.page.id,
            user_id=user_id,
            role=_role(role),
            acting_role=ctx.role,
            actor=ctx.actor,
        )
    except DomainError as exc:
        return _screen(request, ctx, session, status_code=exc.status_code, error=exc.message)
    return redirect(_url(ctx), flash="Role changed.")


@router.post("/members/{user_id}/remove", response_class=HTMLResponse)
def remove_member(user_id: str, request: Request, ctx: OnPageDep, session: SessionDep) -> Response:
    needs(ctx, Role.ADMIN)
    try:
        accounts.remove_member(
            session, page_id=ctx.page.id, user_id=user_id, acting_role=ctx.role, actor=ctx.actor
        )
    except DomainError as exc:
        return _screen(request, ctx, session, status_code=exc.status_code, error=exc.message)
    if user_id == ctx.user.id:
        return redirect("/admin", flash=f"You left {ctx.page.name}.")
    return redirect(_url(ctx), flash="Removed from the team.")


@router.post("/keys/{key_id}/revoke", response_class=HTMLResponse)
def revoke_key(key_id: str, request: Request, ctx: OnPageDep, session: SessionDep) -> Response:
    needs(ctx, Role.ADMIN)
    try:
        key = accounts.revoke_member_key(
            session, page_id=ctx.page.id, key_id=key_id, acting_role=ctx.role, actor=ctx.actor
        )
    except DomainError as exc:
        return _screen(request, ctx, session, status_code=exc.status_code, error=exc.message)
    return redirect(_url(ctx), flash=f"The key “{key.name}” is revoked.")
