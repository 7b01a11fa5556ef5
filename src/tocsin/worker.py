"""The background loop: scheduled jobs every interval, and deliveries continuously."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.orm import Session, sessionmaker

from tocsin import housekeeping
from tocsin.accounts import mailer
from tocsin.db import transaction, utcnow
from tocsin.incidents import service as incidents
from tocsin.monitors.scheduler import run_monitors
from tocsin.notify.worker import DeliveryWorker
from tocsin.publish.worker import run_publishing
from tocsin.settings import Settings

logger = logging.getLogger(__name__)

RESTART_AFTER_SECONDS = 5.0


def run_scheduled_jobs(factory: sessionmaker[Session]) -> int:
    """Run one round of time-driven jobs; return how many things changed."""
    with transaction(factory) as session:
        reminded = incidents.send_maintenance_reminders(session)
        return reminded + incidents.advance_maintenances(session)


async def run_forever(
    factory: sessionmaker[Session],
    *,
    interval: float,
    stop: asyncio.Event,
    settings: Settings | None = None,
) -> None:
    """Run the scheduled jobs every `interval` seconds until `stop` is set, and, given
    `settings`, deliver notifications alongside; return once both have wound down."""
    loops = [_run_scheduled(factory, interval=interval, stop=stop)]
    if settings is not None:
        loops.append(run_deliveries(DeliveryWorker(factory, settings), stop=stop))
        # Monitors: their own loop (claim, probe, record, roll up), see monitors/scheduler.py.
        loops.append(run_monitors(factory, settings, stop=stop))
        # Publish targets: static copies of each page, synced on every change (publish/worker.py).
        loops.append(run_publishing(factory, settings, stop=stop))
        loops.append(_run_account_emails(factory, settings, stop=stop))
        loops.append(_run_housekeeping(factory, settings, stop=stop))
    await asyncio.gather(*loops)


async def _run_scheduled(
    factory: sessionmaker[Session], *, interval: float, stop: asyncio.Event
) -> None:
    while not stop.is_set():
        try:
            moved = await asyncio.to_thread(run_scheduled_jobs, factory)
            if moved:
                logger.info("scheduled jobs moved %d maintenances", moved)
        except Exception:
            # A database hiccup must not kill the loop; the next round retries.
            logger.exception("scheduled jobs failed")
        await _sleep(stop, interval)


async def _run_account_emails(
    factory: sessionmaker[Session], settings: Settings, *, stop: asyncio.Event
) -> None:
    """Invitations and password resets: few, and wanted within seconds."""
    while not stop.is_set():
        try:
            await mailer.send_due(factory, settings)
        except Exception:
            logger.exception("sending account emails failed")
        await _sleep(stop, 1.0)


async def _run_housekeeping(
    factory: sessionmaker[Session], settings: Settings, *, stop: asyncio.Event
) -> None:
    while not stop.is_set():
        try:
            pruned = await asyncio.to_thread(_prune, factory, settings)
            if pruned.total():
                logger.info("pruned %s", pruned)
        except Exception:
            logger.exception("housekeeping failed")
        await _sleep(stop, housekeeping.INTERVAL.total_seconds())


def _prune(factory: sessionmaker[Session], settings: Settings) -> housekeeping.Pruned:
    with transaction(factory) as session:
        return housekeeping.prune(session, settings=settings, now=utcnow())


async def run_deliveries(deliveries: DeliveryWorker, *, stop: asyncio.Event) -> None:
    """Deliver until `stop` is set; a crash of the worker restarts it after a pause."""
    settings = deliveries.settings
    if settings.delivery_lease_seconds <= settings.delivery_timeout_seconds:
        logger.warning(
            "TOCSIN_DELIVERY_LEASE_SECONDS (%g) should exceed TOCSIN_DELIVERY_TIMEOUT_SECONDS"
            " (%g), or slow sends will be taken back and sent twice",
            settings.delivery_lease_seconds,
            settings.delivery_timeout_seconds,
        )
    while not stop.is_set():
        try:
            await deliveries.run(stop)
        except Exception:
            logger.exception("delivery worker failed; restarting")
            await _sleep(stop, RESTART_AFTER_SECONDS)


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        return
