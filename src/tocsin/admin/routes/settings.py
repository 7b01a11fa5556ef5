"""Page settings: name, address, time zone, language, branding, custom domain and the
uptime weight. Admins and owners change them; editors and viewers see them read-only."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlsplit
from zoneinfo import available_timezones

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field, ValidationError

from tocsin.accounts.models import Role
from tocsin.admin.auth import OnPage, OnPageDep, csrf_protect, needs
from tocsin.admin.render import redirect, render
from tocsin.deps import SessionDep, SettingsDep
from tocsin.errors import DomainError
from tocsin.pages import service as pages
from tocsin.pages.i18n import LANGUAGES
from tocsin.pages.models import Page
from tocsin.pages.schemas import PageUpdate

router = APIRouter(
    prefix="/admin/pages/{page_id}",
    include_in_schema=False,
    dependencies=[Depends(csrf_protect)],
)

ZONES = [(zone, zone) for zone in sorted(available_timezones())]
LANGUAGE_OPTIONS = [(lang.code, lang.name) for lang in LANGUAGES.values()]
# What the public stylesheet uses when a page has no accent: the picker starts there.
DEFAULT_ACCENT = "#0a58ca"

_LABELS = {
    "name": "Name",
    "url": "Public address",
    "time_zone": "Time zone",
    "language": "Language",
    "logo_url": "Logo URL",
    "accent_color": "Accent colour",
    "domain": "Custom domain",
    "partial_outage_weight": "Partial outage weight",
}
# Plain words for the schema's patterns and ranges.
_HINTS = {
    "name": "enter a name, at most 255 characters",
    "url": "enter a full address starting with https:// or http://",
    "logo_url": "enter an https:// address of an image",
    "accent_color": "enter a colour as #rrggbb, for example #4f46e5",
    "domain": "enter a host name such as status.example.com",
    "partial_outage_weight": "enter a number from 0 to 1",
}

_SHORT = 300
_LONG = 4096


class SettingsForm(BaseModel):
    """The form's fields as text, from the page or as the person typed them."""

    name: str = Field(default="", max_length=_SHORT)
    url: str = Field(default="", max_length=_LONG)
    time_zone: str = Field(default="", max_length=_SHORT)
    language: str = Field(default="", max_length=_SHORT)
    logo_url: str = Field(default="", max_length=_LONG)
    accent_color: str = Field(default="", max_length=_SHORT)
    accent_picker: str = Field(default="", max_length=_SHORT)
    domain: str = Field(default="", max_length=_SHORT)
    partial_outage_weight: str = Field(default="", max_length=_SHORT)

    @classmethod
    def of(cls, page: Page) -> SettingsForm:
        return cls(
            name=page.name,
            url=page.url or "",
            time_zone=page.time_zone,
            language=page.language,
            logo_url=page.logo_url or "",
            accent_color=page.accent_color or "",
            accent_picker=(page.accent_color or DEFAULT_ACCENT).lower(),
            domain=page.domain or "",
            partial_outage_weight=str(page.partial_outage_weight),
        )


@router.get("/settings", response_class=HTMLResponse)
def settings_screen(request: Request, ctx: OnPageDep, settings: SettingsDep) -> Response:
    return _screen(request, ctx, SettingsForm.of(ctx.page), settings.base_url)


@router.post("/settings", response_class=HTMLResponse)
def save_settings(
    request: Request,
    ctx: OnPageDep,
    session: SessionDep,
    settings: SettingsDep,
    form: Annotated[SettingsForm, Form()],
) -> Response:
    needs(ctx, Role.ADMIN)
    try:
        changes = _changes(ctx.page, _validated(ctx.page, form))
        if changes:
            data = PageUpdate.model_validate(changes)
            pages.update_page(session, page=ctx.page, data=data, actor=ctx.actor)
    except (ValidationError, DomainError) as exc:
        response = _screen(request, ctx, form, settings.base_url, _messages(exc), 422)
        # The request's transaction commits when the handler returns: keep nothing of a
        # refused save.
        session.rollback()
        return response
    flash = "Settings saved." if changes else "Nothing changed."
    return redirect(f"/admin/pages/{ctx.page.id}/settings", flash=flash)


def chosen_accent(text: str, picker: str, current: str | None) -> str | None:
    """The accent the person meant: the text field if they edited it (emptied, it removes
    the accent), else the colour picker if they moved it, else the page's own.

    Without JavaScript the two fields do not follow each other, so whichever one differs
    from what the form showed is the change.
    """
    text = text.strip()
    if text != (current or ""):
        return text or None
    if picker.strip().lower() != (current or DEFAULT_ACCENT).lower():
        return picker.strip()
    return current


def _validated(page: Page, form: SettingsForm) -> PageUpdate:
    return PageUpdate.model_validate(
        {
            "name": form.name.strip(),
            "url": form.url.strip() or None,
            "time_zone": form.time_zone,
            "language": form.language,
            "logo_url": form.logo_url.strip() or None,
            "accent_color": chosen_accent(form.accent_color, form.accent_picker, page.accent_color),
            "domain": form.domain.strip().rstrip(".").lower() or None,
            # A decimal comma is a decimal point typed on many keyboards.
            "partial_outage_weight": form.partial_outage_weight.strip().replace(",", "."),
        }
    )


def _changes(page: Page, data: PageUpdate) -> dict[str, Any]:
    """Only what differs from the page, so a save that changes nothing records nothing."""
    return {key: value for key, value in data.model_dump().items() if getattr(page, key) != value}


def _messages(exc: ValidationError | DomainError) -> list[str]:
    if isinstance(exc, DomainError):
        return [exc.message]
    messages = []
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else ""
        if error["type"] == "value_error":
            detail = str(error["msg"]).removeprefix("Value error, ")
        else:
            detail = _HINTS.get(field, str(error["msg"]))
        messages.append(f"{_LABELS.get(field, field)}: {detail}")
    return messages


def _screen(
    request: Request,
    ctx: OnPage,
    form: SettingsForm,
    base_url: str,
    errors: list[str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "admin/settings.html",
        ctx=ctx,
        section="settings",
        status_code=status_code,
        values=form,
        errors=errors or [],
        zones=ZONES,
        languages=LANGUAGE_OPTIONS,
        server_host=urlsplit(base_url).hostname or "this server",
    )
