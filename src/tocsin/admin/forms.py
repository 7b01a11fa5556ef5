"""Reading admin forms: fields, checkboxes, component status radios and local times.

Component status radios are named `component.<id>`; the empty value means "leave it out".
Times come from `datetime-local` inputs, which carry no zone: they are read in the
page's time zone, as the people running the page think of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import FormData, UploadFile

from tocsin.components import service as components
from tocsin.components.models import Component
from tocsin.components.status import ComponentStatus
from tocsin.errors import DomainError, Invalid
from tocsin.notify import service as subscribers
from tocsin.notify.render import page_zone
from tocsin.pages.models import Page

COMPONENT_PREFIX = "component."
_LOCAL_FORMAT = "%Y-%m-%dT%H:%M"


async def read_form(request: Request) -> FormData:
    """The posted form, NUL in any text replaced by U+FFFD: PostgreSQL cannot store NUL,
    and no field needs it."""
    form = await request.form()
    return FormData([(k, _no_nul(v)) for k, v in form.multi_items()])


def _no_nul(value: str | UploadFile) -> str | UploadFile:
    return value.replace("\x00", "\ufffd") if isinstance(value, str) else value


FormDep = Annotated[FormData, Depends(read_form)]


def text(form: FormData, name: str, default: str = "") -> str:
    """The field's last value (a checkbox macro sends "false" before "true")."""
    values = [v for v in form.getlist(name) if isinstance(v, str)]
    return values[-1] if values else default


def flag(form: FormData, name: str, *, default: bool = False) -> bool:
    if name not in form:
        return default
    return text(form, name) == "true"


def strings(form: FormData, name: str) -> list[str]:
    return [v for v in form.getlist(name) if isinstance(v, str) and v]


def component_choices(form: FormData) -> dict[str, str]:
    """The status picked for each component (`component.<id>` radios); none picked is left out."""
    chosen = {}
    for key in form:
        if key.startswith(COMPONENT_PREFIX) and text(form, key):
            chosen[key.removeprefix(COMPONENT_PREFIX)] = text(form, key)
    return chosen


def component_statuses(choices: dict[str, str]) -> dict[str, ComponentStatus]:
    try:
        return {key: ComponentStatus(value) for key, value in choices.items()}
    except ValueError as exc:
        allowed = ", ".join(s.value for s in ComponentStatus)
        raise Invalid(f"a component status must be one of {allowed}") from exc


def split_changes(
    session: Session, page_id: str, chosen: dict[str, ComponentStatus]
) -> tuple[dict[str, ComponentStatus], list[str]]:
    """(statuses to set, components only to attach): a status a component already has is
    no change, so the timeline does not claim one."""
    current = {c.id: c.status for c in components.get_leaves(session, page_id=page_id, ids=chosen)}
    changed = {key: status for key, status in chosen.items() if current[key] is not status}
    return changed, [key for key in chosen if key not in changed]


def component_tree(everything: list[Component]) -> list[tuple[Component, list[Component]]]:
    """The page's components (in page order) as top-level ones, each group with its
    children; empty groups drop out."""
    children: dict[str, list[Component]] = {}
    for component in everything:
        if component.group_id is not None:
            children.setdefault(component.group_id, []).append(component)
    return [
        (c, children.get(c.id, []))
        for c in everything
        if c.group_id is None and (not c.is_group or children.get(c.id))
    ]


def audience(
    session: Session, page_id: str, component_ids: list[str], incident_id: str | None = None
) -> str:
    """ "Would notify N subscribers", for the components an incident would concern."""
    count = subscribers.count_subscribers_for(
        session, page_id=page_id, component_ids=component_ids, incident_id=incident_id
    )
    return f"Would notify {count} subscriber{'' if count == 1 else 's'}."


def zone_of(page: Page) -> ZoneInfo:
    return page_zone(page.time_zone)


def local_time(value: str, page: Page, label: str) -> datetime | None:
    """A `datetime-local` value read in the page's zone, as UTC; empty means None."""
    if not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise Invalid(f"{label}: {value!r} is not a date and time") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone_of(page))
    return moment.astimezone(UTC)


def local_input(moment: datetime | None, page: Page) -> str:
    """A time as a `datetime-local` input shows it, in the page's zone."""
    return moment.astimezone(zone_of(page)).strftime(_LOCAL_FORMAT) if moment else ""


def problem(exc: DomainError | ValidationError, labels: dict[str, str]) -> str:
    """One sentence for the top of a refused form: the first thing wrong, named as the form
    names it (`rules.0.window: …` as `Rule 1: Out of the last (checks): …`)."""
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        return _worded(first["loc"], str(first["msg"]), labels)
    message = exc.message
    for prefix in ("monitor: ", "monitor.", "alert_source.", "publish_target."):
        message = message.removeprefix(prefix)
    field, colon, rest = message.partition(": ")
    return _worded(tuple(field.split(".")), rest, labels) if colon else message


def _worded(loc: tuple[str | int, ...], message: str, labels: dict[str, str]) -> str:
    message = message.removeprefix("Value error, ")
    named = [labels[part] for part in loc if isinstance(part, str) and part in labels]
    where = named[-1] if named else ".".join(str(part) for part in loc)
    if "rules" in loc and loc.index("rules") + 1 < len(loc):
        number = str(loc[loc.index("rules") + 1])
        if number.isdigit():
            where = f"Rule {int(number) + 1}" + (f": {named[-1]}" if named else "")
    return f"{where}: {message}" if where else message


@contextmanager
def attempt(session: Session) -> Iterator[None]:
    """Run a service call so that, if it refuses, its partial writes are undone and the
    request can still answer with the form (the request's transaction stays usable)."""
    with session.begin_nested():
        yield


def try_or_show(
    session: Session,
    action: Callable[[], object],
    show: Callable[[str], Response],
    labels: dict[str, str],
) -> Response | None:
    """Run `action`; if it is refused, undo its writes and answer with `show(message)`."""
    try:
        with attempt(session):
            action()
    except (DomainError, ValidationError) as exc:
        return show(problem(exc, labels))
    return None
