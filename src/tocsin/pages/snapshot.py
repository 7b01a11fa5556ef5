"""Every public artifact of a page, rendered once from its `PageState` and kept compressed.

`build_snapshot` is pure: the same state gives the same bytes, so the live
server, the on-disk copy and a static export all serve identical files with
identical ETags. Public requests are answered from a `Snapshot` in memory.
"""

from __future__ import annotations

import gzip
import hashlib
import math
from collections.abc import Callable, Hashable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import partial

import brotli

from tocsin.pages import badges, feeds, v2
from tocsin.pages.render import HISTORY_PER_PAGE, Renderer, past_incidents
from tocsin.pages.view import ComponentView, PageState

PUBLIC_CACHE = "public, max-age=10, stale-while-revalidate=30, stale-if-error=86400"
# Badges are revalidated on every view (cheap with the ETag), so an embedded
# badge never shows a stale status for long.
BADGE_CACHE = "no-cache"
CORS: tuple[tuple[str, str], ...] = (("Access-Control-Allow-Origin", "*"),)

HTML = "text/html; charset=utf-8"
JSON = "application/json"
SVG = "image/svg+xml; charset=utf-8"

GZIP_LEVEL = 6
# Quality 5 compresses better than gzip -6 at a similar speed; 11 would cost
# tens of milliseconds per page on every rebuild.
BROTLI_QUALITY = 5

V2_BODIES: tuple[tuple[str, Callable[[PageState], v2.JSONDict]], ...] = (
    ("summary.json", v2.summary),
    ("status.json", v2.status),
    ("components.json", v2.components),
    ("incidents.json", v2.incidents),
    ("incidents/unresolved.json", v2.unresolved_incidents),
    ("incidents/resolved.json", v2.resolved_incidents),
    ("scheduled-maintenances.json", v2.scheduled_maintenances),
    ("scheduled-maintenances/upcoming.json", v2.upcoming_maintenances),
    ("scheduled-maintenances/active.json", v2.active_maintenances),
)

FEEDS: tuple[tuple[str, Callable[[PageState], bytes], str], ...] = (
    ("/history.rss", feeds.rss, "application/rss+xml; charset=utf-8"),
    ("/history.atom", feeds.atom, "application/atom+xml; charset=utf-8"),
    ("/maintenance.ics", feeds.calendar, "text/calendar; charset=utf-8"),
)


@dataclass(frozen=True, slots=True)
class Artifact:
    """One public file: its bytes, precompressed, and the headers it is served with.

    `etag` is the strong validator of the identity body; the compressed bodies
    are served under `variant_etag(...)`, as each encoding is its own representation.
    `gzip` and `br` are only worth sending when shorter than `body`.
    """

    body: bytes
    gzip: bytes
    br: bytes | None
    content_type: str
    etag: str
    cache_control: str
    headers: tuple[tuple[str, str], ...] = ()

    def variant_etag(self, encoding: str | None) -> str:
        return self.etag if encoding is None else f'{self.etag[:-1]}-{encoding}"'


@dataclass(frozen=True)
class Snapshot:
    """A page's artifacts keyed by path (`/`, `/history?page=2`, `/api/v2/status.json`, …)."""

    page_id: str
    domain: str | None
    version: datetime
    """The page's `updated_at` when its state was read."""
    built_at: datetime
    state: PageState
    artifacts: Mapping[str, Artifact]
    # What each artifact was rendered from, so the next build can reuse it.
    inputs: Mapping[str, Hashable] = field(default_factory=dict, repr=False, compare=False)

    def get(self, path: str) -> Artifact | None:
        return self.artifacts.get(path)


def make_artifact(
    body: bytes,
    content_type: str,
    *,
    cache_control: str = PUBLIC_CACHE,
    headers: tuple[tuple[str, str], ...] = (),
) -> Artifact:
    """Compress `body` both ways and give it a strong ETag."""
    return Artifact(
        body=body,
        gzip=gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0),
        br=brotli.compress(body, quality=BROTLI_QUALITY),
        content_type=content_type,
        etag=f'"{hashlib.sha256(body).hexdigest()[:32]}"',
        cache_control=cache_control,
        headers=headers,
    )


def build_snapshot(
    state: PageState,
    renderer: Renderer,
    *,
    domain: str | None = None,
    previous: Snapshot | None = None,
) -> Snapshot:
    """Render every public artifact of `state`.

    Incident, write-up and history pages whose inputs equal those in `previous`
    are reused as they are: with thousands of past incidents, a change renders
    and compresses only what it touched.
    """
    builder = _Builder(previous)
    for path, body, content_type, cache, headers in _volatile(state, renderer):
        builder.add(path, None, partial(bytes, body), content_type, cache, headers)
    _add_incident_pages(builder, state, renderer)
    _add_history_pages(builder, state, renderer)
    return Snapshot(
        page_id=state.page.id,
        domain=domain,
        version=state.page.updated_at,
        built_at=state.generated_at,
        state=state,
        artifacts=builder.artifacts,
        inputs=builder.inputs,
    )


def flat_components(components: tuple[ComponentView, ...]) -> Iterator[ComponentView]:
    for component in components:
        yield component
        yield from flat_components(component.children)


_Row = tuple[str, bytes, str, str, tuple[tuple[str, str], ...]]


def _volatile(state: PageState, renderer: Renderer) -> Iterator[_Row]:
    """The artifacts that depend on the whole state or on the clock: always rebuilt."""
    yield "/", renderer.home(state), HTML, PUBLIC_CACHE, ()
    yield "/theme.css", renderer.theme(state), "text/css", PUBLIC_CACHE, ()
    for path, build in V2_BODIES:
        yield f"/api/v2/{path}", v2.encode(build(state)), JSON, PUBLIC_CACHE, CORS
    for path, render, content_type in FEEDS:
        yield path, render(state), content_type, PUBLIC_CACHE, CORS
    yield "/badge.svg", badges.page_badge(state), SVG, BADGE_CACHE, ()
    for component in flat_components(state.components):
        body = badges.component_badge(state, component.id)
        if body is not None:
            yield f"/components/{component.id}/badge.svg", body, SVG, BADGE_CACHE, ()


def _chrome(state: PageState) -> Hashable:
    """What every HTML page shows of the page itself (not its clock or version)."""
    return replace(state.page, updated_at=datetime.min.replace(tzinfo=UTC))


def _add_incident_pages(builder: _Builder, state: PageState, renderer: Renderer) -> None:
    chrome = _chrome(state)
    for incident in (*state.incidents, *state.maintenances):
        path = f"/incidents/{incident.id}"
        key = (chrome, incident)
        builder.add(path, key, partial(renderer.incident, state, incident.id), HTML)
        if incident.writeup is not None and incident.writeup.body:
            builder.add(
                f"{path}/write-up", key, partial(renderer.writeup, state, incident.id), HTML
            )


def _add_history_pages(builder: _Builder, state: PageState, renderer: Renderer) -> None:
    chrome = _chrome(state)
    incidents = past_incidents(state)
    page_count = max(1, math.ceil(len(incidents) / HISTORY_PER_PAGE))
    for number in range(1, page_count + 1):
        first = (number - 1) * HISTORY_PER_PAGE
        key = (chrome, page_count, incidents[first : first + HISTORY_PER_PAGE])
        builder.add(f"/history?page={number}", key, partial(renderer.history, state, number), HTML)


class _Builder:
    def __init__(self, previous: Snapshot | None) -> None:
        self.previous = previous
        self.artifacts: dict[str, Artifact] = {}
        self.inputs: dict[str, Hashable] = {}

    def add(
        self,
        path: str,
        key: Hashable | None,
        render: Callable[[], bytes | None],
        content_type: str,
        cache_control: str = PUBLIC_CACHE,
        headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        """Add the artifact at `path`, reusing the previous one when `key` is unchanged.

        A None key means "always render".
        """
        reused = self._reusable(path, key)
        if reused is None:
            body = render()
            if body is None:
                return
            reused = make_artifact(body, content_type, cache_control=cache_control, headers=headers)
        self.artifacts[path] = reused
        if key is not None:
            self.inputs[path] = key

    def _reusable(self, path: str, key: Hashable | None) -> Artifact | None:
        if key is None or self.previous is None:
            return None
        if self.previous.inputs.get(path) != key:
            return None
        return self.previous.artifacts.get(path)
