"""Keeps every publish target in step with its page: on each change (the page's
`updated_at` moves past the target's `published_version`), export and sync.

A run claims its target with a conditional UPDATE and commits before any I/O;
the outcome is recorded in a second short transaction. Failures back off
exponentially and are retried until they succeed: a stale copy is the one thing
a backup status page must not stay.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from itertools import groupby

from sqlalchemy.orm import Session, sessionmaker

from tocsin.db import transaction, utcnow
from tocsin.pages import service as pages
from tocsin.pages.export import SiteFile, file_bodies, site_files
from tocsin.pages.render import Renderer
from tocsin.pages.state import load_state
from tocsin.publish import service as targets
from tocsin.publish.base import PublishError, SyncResult
from tocsin.publish.directory import sync_dir
from tocsin.publish.models import PublishTarget
from tocsin.publish.s3 import sync_s3
from tocsin.publish.schemas import DirConfig
from tocsin.settings import Settings

logger = logging.getLogger(__name__)

POLL_SECONDS = 1.0
RESTART_AFTER_SECONDS = 5.0


class Publisher:
    def __init__(
        self,
        factory: sessionmaker[Session],
        settings: Settings,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.factory = factory
        self.settings = settings
        self.clock = clock
        self.renderer = Renderer(relative_links=True)

    def run_once(self) -> int:
        """Publish every due target once; return how many runs succeeded."""
        with transaction(self.factory) as session:
            due = targets.due_targets(session, now=self.clock())
        done = 0
        for page_id, group in groupby(due, key=lambda d: d.page_id):
            done += self._publish_page(page_id, [d.target_id for d in group])
        return done

    def _publish_page(self, page_id: str, target_ids: list[str]) -> int:
        claimed = [t for t in target_ids if self._claim(t)]
        if not claimed:
            return 0
        with self.factory() as session:
            page = pages.get_page(session, page_id)
            version = page.updated_at
            state = load_state(
                session, page=page, now=self.clock(), base_url=self.settings.base_url
            )
            rows = [targets.get_target(session, page_id=page_id, target_id=t) for t in claimed]
        files = site_files(state, self.renderer)
        return sum(self._publish(row, files, version) for row in rows)

    def _claim(self, target_id: str) -> bool:
        with transaction(self.factory) as session:
            return targets.claim(session, target_id=target_id, now=self.clock())

    def _publish(
        self, target: PublishTarget, files: dict[str, SiteFile], version: datetime
    ) -> bool:
        try:
            result = sync(target, files)
        except PublishError as exc:
            logger.warning("publishing to target %s failed: %s", target.id, exc.message)
            with transaction(self.factory) as session:
                targets.record_failure(
                    session, target_id=target.id, message=exc.message, now=self.clock()
                )
            return False
        logger.info(
            "published page %s to target %s: %d written, %d deleted",
            target.page_id,
            target.id,
            len(result.written),
            len(result.deleted),
        )
        with transaction(self.factory) as session:
            targets.record_success(session, target_id=target.id, version=version, now=self.clock())
        return True


def sync(target: PublishTarget, files: dict[str, SiteFile]) -> SyncResult:
    """Bring one target in line with `files`; raise PublishError on failure."""
    config = targets.config_of(target)
    if isinstance(config, DirConfig):
        return sync_dir(config, file_bodies(files, precompress=True))
    return sync_s3(config, files)


async def run_publishing(
    factory: sessionmaker[Session], settings: Settings, *, stop: asyncio.Event
) -> None:
    """Publish due targets every second until `stop` is set."""
    publisher = Publisher(factory, settings)
    while not stop.is_set():
        try:
            await asyncio.to_thread(publisher.run_once)
            pause = POLL_SECONDS
        except Exception:
            # A database hiccup must not kill the loop; the targets stay due.
            logger.exception("publishing failed")
            pause = RESTART_AFTER_SECONDS
        try:
            await asyncio.wait_for(stop.wait(), timeout=pause)
        except TimeoutError:
            continue
