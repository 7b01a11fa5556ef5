"""Every public artifact of a page, rendered once from its `PageState` and kept compressed.

`build_snapshot` is pure: the same state gives the same bytes, so the live
server, the on-disk copy and a static export all serve identical files with
identical ETags. Public requests are answered from a `Snapshot` in memory.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import struct
import zlib
from collections.abc import Callable, Collection, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import partial

import brotli

from tocsin.pages import badges, feeds, v2
from tocsin.pages.render import HISTORY_PER_PAGE, Renderer, past_incidents
from tocsin.pages.view import ComponentView, IncidentView, PageState

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
# A home page with hundreds of components' uptime bars runs to megabytes of very
# repetitive HTML: there quality 3 is several times faster for some 15% more bytes.
BROTLI_LARGE = 1 << 20
BROTLI_LARGE_QUALITY = 3
# A gzip member around joined deflate streams (RFC 1952: no mtime, unknown OS),
# closed by an empty final block.
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
_FINAL_EMPTY_BLOCK = b"\x03\x00"

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
    # Defaults, not factories, so that snapshots saved by an older version still load.
    chrome: Hashable = field(default=None, repr=False, compare=False)
    components_segment: Segment | None = field(default=None, repr=False, compare=False)

    def get(self, path: str) -> Artifact | None:
        return self.artifacts.get(path)

    def __getstate__(self) -> dict[str, object]:
        # The segment only speeds up this process's next build; on disk it would
        # double the size of the home page.
        return {k: v for k, v in self.__dict__.items() if k != "components_segment"}


@dataclass(frozen=True, slots=True)
class Segment:
    """Part of a body and its raw deflate stream, which ends in a full flush: streams
    compressed apart join into one gzip member, so an unchanged part is not
    compressed again."""

    data: bytes
    deflated: bytes

    @staticmethod
    def of(data: bytes) -> Segment:
        compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS)
        return Segment(data, compressor.compress(data) + compressor.flush(zlib.Z_FULL_FLUSH))


def make_artifact(
    body: bytes,
    content_type: str,
    *,
    cache_control: str = PUBLIC_CACHE,
    headers: tuple[tuple[str, str], ...] = (),
) -> Artifact:
    """Compress `body` both ways and give it a strong ETag."""
    gzipped = gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0)
    return _artifact(body, gzipped, content_type, cache_control, headers)


def joined_artifact(segments: Sequence[Segment], content_type: str) -> Artifact:
    """`make_artifact` of the segments' data joined, reusing their deflate streams."""
    body = b"".join(segment.data for segment in segments)
    gzipped = b"".join(
        (
            _GZIP_HEADER,
            *(segment.deflated for segment in segments),
            _FINAL_EMPTY_BLOCK,
            struct.pack("<II", zlib.crc32(body), len(body) & 0xFFFFFFFF),
        )
    )
    return _artifact(body, gzipped, content_type, PUBLIC_CACHE, ())


def _artifact(
    body: bytes,
    gzipped: bytes,
    content_type: str,
    cache_control: str,
    headers: tuple[tuple[str, str], ...],
) -> Artifact:
    quality = BROTLI_QUALITY if len(body) < BROTLI_LARGE else BROTLI_LARGE_QUALITY
    return Artifact(
        body=body,
        gzip=gzipped,
        br=brotli.compress(body, quality=quality),
        content_type=content_type,
        # BLAKE2 hashes a page of megabytes several times faster than SHA-256.
        etag=f'"{hashlib.blake2b(body, digest_size=16).hexdigest()}"',
        cache_control=cache_control,
        headers=headers,
    )


def build_snapshot(
    state: PageState,
    renderer: Renderer,
    *,
    domain: str | None = None,
    previous: Snapshot | None = None,
    changed: Collection[str] | None = None,
) -> Snapshot:
    """Render every public artifact of `state`.

    Incident, write-up and history pages whose inputs equal those in `previous`
    are reused as they are: with thousands of past incidents, a change renders
    and compresses only what it touched. `changed`, if known, names the incidents
    whose views may differ from `previous`'s, so the others are not even compared.
    """
    chrome = _chrome(state)
    builder = _Builder(previous)
    before, section, after = renderer.home_parts(state)
    reusable = previous.components_segment if previous is not None else None
    segment = reusable if reusable is not None and reusable.data is section else None
    segment = segment or Segment.of(section)
    builder.artifacts["/"] = joined_artifact((Segment.of(before), segment, Segment.of(after)), HTML)
    for path, body, content_type, cache, headers in _volatile(state, renderer):
        builder.add(path, None, partial(bytes, body), content_type, cache, headers)
    _add_badges(builder, state, chrome, previous)
    _add_history_pages(builder, state, renderer, chrome)
    _add_incident_pages(builder, state, renderer, chrome, changed)
    return Snapshot(
        page_id=state.page.id,
        domain=domain,
        version=state.page.updated_at,
        built_at=state.generated_at,
        state=state,
        artifacts=builder.artifacts,
        inputs=builder.inputs,
        chrome=chrome,
        components_segment=segment,
    )


def flat_components(components: tuple[ComponentView, ...]) -> Iterator[ComponentView]:
    for component in components:
        yield component
        yield from flat_components(component.children)


_Row = tuple[str, bytes, str, str, tuple[tuple[str, str], ...]]


def _volatile(state: PageState, renderer: Renderer) -> Iterator[_Row]:
    """The artifacts that depend on the whole state or on the clock: always rebuilt."""
    yield "/theme.css", renderer.theme(state), "text/css", PUBLIC_CACHE, ()
    for path, build in V2_BODIES:
        yield f"/api/v2/{path}", v2.encode(build(state)), JSON, PUBLIC_CACHE, CORS
    for path, render, content_type in FEEDS:
        yield path, render(state), content_type, PUBLIC_CACHE, CORS


def _add_badges(
    builder: _Builder, state: PageState, chrome: Hashable, previous: Snapshot | None
) -> None:
    """The badges, which show only the page and its components' statuses: kept while
    the components are the very same objects (`state.reload`), as comparing equal
    copies would take longer than drawing them."""
    same = (
        previous is not None
        and previous.state.components is state.components
        and previous.chrome == chrome
    )
    drawn: list[tuple[str, Callable[[], bytes | None]]] = [
        ("/badge.svg", partial(badges.page_badge, state))
    ]
    for component in flat_components(state.components):
        path = f"/components/{component.id}/badge.svg"
        drawn.append((path, partial(badges.component_badge, state, component.id)))
    for path, draw in drawn:
        kept = previous.artifacts.get(path) if same and previous is not None else None
        if kept is not None:
            builder.artifacts[path] = kept
        elif (body := draw()) is not None:
            builder.artifacts[path] = make_artifact(body, SVG, cache_control=BADGE_CACHE)


def _chrome(state: PageState) -> Hashable:
    """What every HTML page shows of the page itself (not its clock or version)."""
    return replace(state.page, updated_at=datetime.min.replace(tzinfo=UTC))


def _add_incident_pages(
    builder: _Builder,
    state: PageState,
    renderer: Renderer,
    chrome: Hashable,
    changed: Collection[str] | None,
) -> None:
    """Every incident's page; with `changed` known, only those incidents' pages are
    looked at, and the others are kept from the previous snapshot as they are."""
    previous = builder.previous
    # A snapshot read from disk has no inputs: it cannot tell what it was rendered from.
    if previous is None or not previous.inputs or changed is None or previous.chrome != chrome:
        for incident in (*state.incidents, *state.maintenances):
            _add_incident_page(builder, state, renderer, chrome, incident)
        return
    for path, key in previous.inputs.items():
        if path.startswith("/incidents/") and _incident_id(path) not in changed:
            builder.artifacts[path] = previous.artifacts[path]
            builder.inputs[path] = key
    for incident_id in changed:
        view = state.by_id.get(incident_id)
        if view is not None:
            _add_incident_page(builder, state, renderer, chrome, view)


def _incident_id(path: str) -> str:
    """The incident of `/incidents/<id>` or `/incidents/<id>/write-up`."""
    return path.split("/", 3)[2]


def _add_incident_page(
    builder: _Builder,
    state: PageState,
    renderer: Renderer,
    chrome: Hashable,
    incident: IncidentView,
) -> None:
    path = f"/incidents/{incident.id}"
    key = (chrome, incident)
    builder.add(path, key, partial(renderer.incident, state, incident.id), HTML)
    if incident.writeup is not None and incident.writeup.body:
        builder.add(f"{path}/write-up", key, partial(renderer.writeup, state, incident.id), HTML)


def _add_history_pages(
    builder: _Builder, state: PageState, renderer: Renderer, chrome: Hashable
) -> None:
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
