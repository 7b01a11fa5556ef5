from __future__ import annotations

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


class PageVersion(NamedTuple):
    id: str
    domain: str | None
    updated_at: datetime


def touch(session: Session, page_id: str) -> None:
    """Mark the page's public content as changed (v2 `page.updated_at`).

    The page id is also kept in `session.info[TOUCHED]`, so that an after-commit
    hook in this process can rebuild the page's snapshot at once; on PostgreSQL a
    NOTIFY, delivered when the transaction commits, tells the other processes.
    """
    session.execute(update(Page).where(Page.id == page_id).values(updated_at=utcnow()))
    session.info.setdefault(TOUCHED, set()).add(page_id)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_notify(NOTIFY_CHANNEL, page_id)))


def page_versions(session: Session) -> list[PageVersion]:
    """Every page's id, domain and version (`updated_at`), default page first: the cheap
    query that tells a snapshot store what to rebuild."""
    rows = session.execute(
        select(Page.id, Page.domain, Page.updated_at).order_by(Page.created_at, Page.id)
    )
    return [PageVersion(*row) for row in rows]
