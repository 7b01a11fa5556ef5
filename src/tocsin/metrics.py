"""Prometheus metrics: requests and latencies by route, snapshot age and rebuild
time, and, read at scrape time, deliveries by status and recent check results.

Each app has its own registry, so nothing is global at import and tests stay apart.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Iterator
from datetime import timedelta
from itertools import accumulate

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tocsin.db import utcnow
from tocsin.monitors.models import CheckResult, Monitor
from tocsin.notify.models import Delivery
from tocsin.pages.store import SnapshotStore

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)
REBUILD_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
CHECK_WINDOW = timedelta(hours=1)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = _Requests()
        self.registry.register(self.requests)
        self.rebuilds = Histogram(
            "tocsin_snapshot_rebuild_duration_seconds",
            "Time to read a page's state and render its snapshot.",
            buckets=REBUILD_BUCKETS,
            registry=self.registry,
        )

        self._state: _StateCollector | None = None

    def watch(self, store: SnapshotStore, factory: sessionmaker[Session]) -> None:
        """Report on `store` and the database behind `factory` (those of the latest lifespan)."""
        if self._state is None:
            self._state = _StateCollector(store, factory)
            self.registry.register(self._state)
        self._state.store, self._state.factory = store, factory


class _Requests(Collector):
    """HTTP requests by method, route template and status, and their latency by route.

    Kept as plain dicts, so that counting a snapshot hit (`hits`, filled by
    `serve.PublicAnswers`) costs one dict update. Only the event loop's thread
    writes them; a scrape reads copies. A hit is reported in the first latency
    bucket without being timed: its time here is a dict lookup.
    """

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str, str], int] = {}
        self.hits: dict[tuple[str, str, str], int] = {}
        # Per route: the count in each bucket (not cumulative), then the sum of seconds.
        self.latency: dict[str, list[float]] = {}

    def observe(self, method: str, route: str, status: str, seconds: float) -> None:
        key = (method, route, status)
        self.counts[key] = self.counts.get(key, 0) + 1
        row = self.latency.get(route)
        if row is None:
            row = self.latency[route] = [0.0] * (len(LATENCY_BUCKETS) + 2)
        row[bisect_left(LATENCY_BUCKETS, seconds)] += 1
        row[-1] += seconds

    def collect(self) -> Iterator[Metric]:
        counts = dict(self.counts)
        latency = {route: list(row) for route, row in list(self.latency.items())}
        for (method, route, status), hits in list(self.hits.items()):
            key = (method, route, status)
            counts[key] = counts.get(key, 0) + hits
            row = latency.setdefault(route, [0.0] * (len(LATENCY_BUCKETS) + 2))
            row[0] += hits
        requests = CounterMetricFamily(
            "tocsin_http_requests",
            "HTTP requests by method, route template and status.",
            labels=("method", "route", "status"),
        )
        for labels, value in sorted(counts.items()):
            requests.add_metric(labels, value)
        yield requests
        histogram = HistogramMetricFamily(
            "tocsin_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template.",
            labels=("route",),
        )
        bounds = [*(str(float(b)) for b in LATENCY_BUCKETS), "+Inf"]
        for route, row in sorted(latency.items()):
            cumulative = list(accumulate(row[:-1]))
            histogram.add_metric((route,), list(zip(bounds, cumulative, strict=True)), row[-1])
        yield histogram


class _StateCollector(Collector):
    """Values read when Prometheus scrapes: three small aggregate queries."""

    def __init__(self, store: SnapshotStore, factory: sessionmaker[Session]) -> None:
        self.store = store
        self.factory = factory

    def collect(self) -> Iterator[Metric]:
        yield from self._snapshots()
        up = GaugeMetricFamily("tocsin_database_up", "1 if the database answered this scrape.")
        try:
            yield from self._database()
            up.add_metric((), 1)
        except DBAPIError:
            up.add_metric((), 0)
        yield up

    def _snapshots(self) -> Iterator[Metric]:
        age = GaugeMetricFamily(
            "tocsin_snapshot_age_seconds",
            "Seconds since the page's snapshot was built from the database.",
            labels=("page",),
        )
        now = utcnow()
        for page_id, snapshot in self.store.current.pages.items():
            age.add_metric((page_id,), (now - snapshot.built_at).total_seconds())
        yield age

    def _database(self) -> Iterator[Metric]:
        deliveries = GaugeMetricFamily(
            "tocsin_deliveries", "Notification deliveries by status.", labels=("status",)
        )
        checks = GaugeMetricFamily(
            "tocsin_check_results_last_hour",
            "Monitor check results of the last hour, by outcome.",
            labels=("result",),
        )
        monitors = GaugeMetricFamily("tocsin_monitors", "Monitors by state.", labels=("state",))
        with self.factory() as session:
            for status, count in session.execute(
                select(Delivery.status, func.count()).group_by(Delivery.status)
            ):
                deliveries.add_metric((str(status),), count)
            since = utcnow() - CHECK_WINDOW
            for ok, count in session.execute(
                select(CheckResult.ok, func.count())
                .where(CheckResult.checked_at >= since)
                .group_by(CheckResult.ok)
            ):
                checks.add_metric(("ok" if ok else "failed",), count)
            for state, count in session.execute(
                select(Monitor.state, func.count()).group_by(Monitor.state)
            ):
                monitors.add_metric((str(state),), count)
        yield from (deliveries, checks, monitors)


class RequestMetrics:
    """Counts and times every HTTP request, labelled by route template, not raw path."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_see(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_see)
        finally:
            elapsed = time.perf_counter() - started
            self.metrics.requests.observe(scope["method"], _route(scope), str(status), elapsed)


def _route(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path is not None else "unmatched"
