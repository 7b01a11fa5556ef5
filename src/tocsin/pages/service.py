from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from tocsin.audit import service as audit
from tocsin.audit.service import Actor
from tocsin.db import utcnow
from tocsin.errors import Conflict, NotFound
from tocsin.pages.models import Page
from tocsin.pages.schemas import PageUpdate


def default_page(session: Session) -> Page | None:
    """The install's first page, served at any host that names no other page."""
    return session.scalars(select(Page).order_by(Page.created_at, Page.id).limit(1)).first()


def ensure_default_page(session: Session, *, name: str) -> Page:
    page = default_page(session)
    if page is None:
        page = Page(name=name, time_zone="Etc/UTC", partial_outage_weight=0.3)
        session.add(page)
        session.flush()
        audit.record(
            session,
            actor=audit.SYSTEM,
            action="page.create",
            page_id=page.id,
            object_type="page",
            object_id=page.id,
            changes={"name": name},
        )
    return page


def get_page(session: Session, page_id: str) -> Page:
    page = session.get(Page, page_id)
    if page is None:
        raise NotFound(f"page {page_id} not found")
    return page


def list_pages(session: Session) -> list[Page]:
    return list(session.scalars(select(Page).order_by(Page.created_at, Page.id)))


def page_for_host(session: Session, host: str | None) -> Page | None:
    if host:
        hostname = host.rsplit(":", 1)[0].lower() if not host.startswith("[") else host
        page = session.scalars(select(Page).where(Page.domain == hostname)).first()
        if page is not None:
            return page
    return default_page(session)


def update_page(session: Session, *, page: Page, data: PageUpdate, actor: Actor) -> Page:
    changes = data.model_dump(exclude_unset=True)
    if changes.get("domain") is not None:
        _check_domain_free(session, page, changes["domain"])
    for key, value in changes.items():
        setattr(page, key, value)
    session.flush()
    touch(session, page.id)
    audit.record(
        session,
        actor=actor,
        action="page.update",
        page_id=page.id,
        object_type="page",
        object_id=page.id,
        changes=changes,
    )
    return page


def _check_domain_free(session: Session, page: Page, domain: str) -> None:
    taken = session.scalars(select(Page.id).where(Page.domain == domain, Page.id != page.id))
    if taken.first() is not None:
        raise Conflict(f"the domain {domain} is already used by another page")


NOTIFY_CHANNEL = "tocsin_pages"
TOUCHED = "tocsin_touched_pages"
ORIGIN = "tocsin_origin"


class PageVersion(NamedTuple):
    id: str
    domain: str | None
    updated_at: datetime


@dataclass
class Touched:
    """What a change did to a page's public side, so that a rebuild reads only that.

    `everything` when the writer cannot say (page settings, a raw edit); else the
    components (statuses, names, order, monitors' rollups) and/or some incidents.
    """

    everything: bool = False
    components: bool = False
    incidents: set[str] = field(default_factory=set)

    def merge(self, other: Touched) -> None:
        self.everything |= other.everything
        self.components |= other.components
        self.incidents |= other.incidents

    def encode(self, page_id: str, origin: str | None = None) -> str:
        """The NOTIFY payload: the page id, then `*`, `c`, `i:<incident id>` and
        `o:<origin>` words."""
        words = [page_id, *(["*"] if self.everything else []), *(["c"] if self.components else [])]
        words += [f"i:{incident_id}" for incident_id in sorted(self.incidents)]
        return " ".join([*words, *([f"o:{origin}"] if origin else [])])


class Notice(NamedTuple):
    page_id: str
    change: Touched
    origin: str | None
    """The `session.info[ORIGIN]` of the writing session: its process has seen it already."""


def decode_notice(payload: str) -> Notice:
    """A NOTIFY payload read back; a bare page id means everything changed."""
    page_id, *words = payload.split()
    origin = next((word[2:] for word in words if word.startswith("o:")), None)
    if not [word for word in words if not word.startswith("o:")]:
        return Notice(page_id, Touched(everything=True), origin)
    change = Touched(
        everything="*" in words,
        components="c" in words,
        incidents={word[2:] for word in words if word.startswith("i:")},
    )
    return Notice(page_id, change, origin)


def touch(
    session: Session, page_id: str, *, incident_id: str | None = None, components: bool = False
) -> None:
    """Mark the page's public content as changed (v2 `page.updated_at`): its components,
    the incident `incident_id`, or, naming neither, everything.

    What changed is also kept in `session.info[TOUCHED]`, so that an after-commit
    hook in this process can rebuild the page's snapshot at once; on PostgreSQL a
    NOTIFY, delivered when the transaction commits, tells the other processes.
    """
    change = Touched(
        everything=incident_id is None and not components,
        components=components,
        incidents={incident_id} if incident_id is not None else set(),
    )
    session.execute(update(Page).where(Page.id == page_id).values(updated_at=utcnow()))
    touched: dict[str, Touched] = session.info.setdefault(TOUCHED, {})
    touched.setdefault(page_id, Touched()).merge(change)
    if session.get_bind().dialect.name == "postgresql":
        payload = change.encode(page_id, session.info.get(ORIGIN))
        session.execute(select(func.pg_notify(NOTIFY_CHANNEL, payload)))


def page_versions(session: Session) -> list[PageVersion]:
    """Every page's id, domain and version (`updated_at`), default page first: the cheap
    query that tells a snapshot store what to rebuild."""
    rows = session.execute(
        select(Page.id, Page.domain, Page.updated_at).order_by(Page.created_at, Page.id)
    )
    return [PageVersion(*row) for row in rows]
