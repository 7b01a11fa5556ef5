"""The background loop: scheduled jobs now, deliveries and checks in later issues."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.orm import Session, sessionmaker

from tocsin.db import transaction
from tocsin.incidents import service as incidents

logger = logging.getLogger(__name__)


def run_scheduled_jobs(factory: sessionmaker[Session]) -> int:
    """Run one round of time-driven jobs; return how many things changed."""
    with transaction(factory) as session:
        return incidents.advance_maintenances(session)


async def run_forever(
    factory: sessionmaker[Session], *, interval: float, stop: asyncio.Event
) -> None:
    """Run the scheduled jobs every `interval` seconds until `stop` is set."""
    while not stop.is_set():
        try:
            moved = await asyncio.to_thread(run_scheduled_jobs, factory)
            if moved:
                logger.info("scheduled jobs moved %d maintenances", moved)
        except Exception:
            # A database hiccup must not kill the loop; the next round retries.
            logger.exception("scheduled jobs failed")
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval)
        except TimeoutError:
            continue
