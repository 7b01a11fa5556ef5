"""Answer public GET and HEAD requests straight from the in-memory snapshot.

`PublicAnswers.find` runs before the app's middleware and router (see
`main.Tocsin`): a hit is a dict lookup and two prebuilt ASGI messages, with no
routing, no dependency injection and no database. Anything it cannot answer
exactly as the routes would (unknown paths, invalid query parameters, badges
with a custom label or colour, NUL in the query) goes on to the app, whose
routes follow the same rules through `respond`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import parse_qsl

from starlette.types import Message, Scope

from tocsin.pages.snapshot import Artifact, Snapshot
from tocsin.pages.store import SnapshotStore

MAX_HISTORY_PAGE = 100_000
_BADGE_PARAMS = frozenset({"label", "color"})

Header = tuple[bytes, bytes]
HitKey = tuple[str, str, str]
"""Method, route template and status, as `metrics` labels requests."""

# Accept-Encoding reduced to what matters here, as an index into `_Prepared.answers`.
_GZIP = 1
_BR = 2
_ACCEPT_BY_MASK = (None, "gzip", "br", "br, gzip")
_EMPTY_BODY: Message = {"type": "http.response.body", "body": b""}


@dataclass(frozen=True, slots=True)
class _Answer:
    start: Message
    body: Message
    not_modified: Message


@dataclass(frozen=True, slots=True)
class _Prepared:
    """An artifact's responses, one per `_GZIP | _BR` mask, built on its first request."""

    artifact: Artifact
    route: str
    answers: tuple[_Answer, ...]


class PublicAnswers:
    """Snapshot hits, counted in `hits` (a plain dict: only the event loop's thread writes)."""

    def __init__(
        self, store: SnapshotStore, *, extra_headers: Sequence[Header], hits: dict[HitKey, int]
    ) -> None:
        self.store = store
        self.extra_headers = tuple(extra_headers)
        self.hits = hits
        # Per page: the snapshot the prepared answers belong to, and those answers.
        self._prepared: dict[str, tuple[Snapshot, dict[str, _Prepared]]] = {}

    def find(self, scope: Scope) -> tuple[Message, Message] | None:
        """The response start and body messages for this request, or None to let the app answer."""
        method = scope["method"]
        if method != "GET" and method != "HEAD":
            return None
        query: bytes = scope["query_string"]
        if query and (b"%00" in query or b"\x00" in query):
            return None
        key = snapshot_key(scope["path"], query) if query else _plain_key(scope["path"])
        if key is None:
            return None
        host, accept, if_none_match = _request_headers(scope["headers"])
        snapshot = self.store.current.for_host(host.decode("latin-1") if host else None)
        if snapshot is None:
            return None
        prepared = self._lookup(snapshot, key)
        if prepared is None:
            return None
        answer = prepared.answers[_mask(accept)]
        if if_none_match and etag_matches(if_none_match.decode("latin-1"), prepared.artifact):
            self._count(method, prepared.route, "304")
            return answer.not_modified, _EMPTY_BODY
        self._count(method, prepared.route, "200")
        return answer.start, _EMPTY_BODY if method == "HEAD" else answer.body

    def _count(self, method: str, route: str, status: str) -> None:
        key = (method, route, status)
        self.hits[key] = self.hits.get(key, 0) + 1

    def _lookup(self, snapshot: Snapshot, key: str) -> _Prepared | None:
        cached = self._prepared.get(snapshot.page_id)
        if cached is None or cached[0] is not snapshot:
            # A new snapshot: start afresh, so answers for removed paths do not pile up.
            cached = self._prepared[snapshot.page_id] = (snapshot, {})
        prepared = cached[1].get(key)
        if prepared is None:
            artifact = snapshot.artifacts.get(key)
            if artifact is None:
                return None
            prepared = cached[1][key] = self._prepare(artifact, route_template(key))
        return prepared

    def _prepare(self, artifact: Artifact, route: str) -> _Prepared:
        answers = []
        for accept in _ACCEPT_BY_MASK:
            status, headers, body = respond(artifact, accept_encoding=accept, if_none_match=None)
            _, not_modified, _ = respond(
                artifact, accept_encoding=accept, if_none_match=artifact.etag
            )
            answers.append(
                _Answer(
                    start=_start(status, [*headers, *self.extra_headers]),
                    body={"type": "http.response.body", "body": body},
                    not_modified=_start(304, [*not_modified, *self.extra_headers]),
                )
            )
        return _Prepared(artifact, route, tuple(answers))


def _request_headers(headers: list[Header]) -> tuple[bytes | None, bytes | None, bytes | None]:
    """Host, Accept-Encoding and If-None-Match, in one pass over the headers."""
    host = accept = if_none_match = None
    for name, value in headers:
        if name == b"host":
            host = value
        elif name == b"accept-encoding":
            accept = value
        elif name == b"if-none-match":
            if_none_match = value
    return host, accept, if_none_match


def _start(status: int, headers: list[Header]) -> Message:
    return {"type": "http.response.start", "status": status, "headers": headers}


@lru_cache(maxsize=256)
def _mask(accept_encoding: bytes | None) -> int:
    accepted = encodings(accept_encoding.decode("latin-1") if accept_encoding else None)
    return (_GZIP if "gzip" in accepted else 0) | (_BR if "br" in accepted else 0)


def _plain_key(path: str) -> str:
    return "/history?page=1" if path == "/history" else path


def snapshot_key(path: str, query_string: bytes) -> str | None:
    """The snapshot path answering this request, or None if only a route can answer it."""
    if not query_string:
        return _plain_key(path)
    params = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
    if path == "/history":
        pages = [value for name, value in params if name == "page"]
        if not pages:
            return "/history?page=1"
        if not pages[-1].isdigit() or not 1 <= int(pages[-1]) <= MAX_HISTORY_PAGE:
            return None
        return f"/history?page={int(pages[-1])}"
    if path.endswith("badge.svg") and any(name in _BADGE_PARAMS for name, _ in params):
        return None
    return path


def route_template(key: str) -> str:
    """The route a snapshot path belongs to, as metrics label it (bounded cardinality)."""
    if key.startswith("/incidents/"):
        return (
            "/incidents/{incident_id}/write-up"
            if key.endswith("/write-up")
            else ("/incidents/{incident_id}")
        )
    if key.startswith("/components/"):
        return "/components/{component_id}/badge.svg"
    if key.startswith("/history?"):
        return "/history"
    return key


@lru_cache(maxsize=256)
def encodings(accept_encoding: str | None) -> frozenset[str]:
    """The codings (`br`, `gzip`) a client accepts, honouring `;q=0`."""
    if not accept_encoding:
        return frozenset()
    accepted = set()
    for item in accept_encoding.lower().split(","):
        name, _, params = item.partition(";")
        quality = params.strip().removeprefix("q=").strip() if params else "1"
        try:
            if float(quality) <= 0:
                continue
        except ValueError:
            continue
        accepted.add(name.strip())
    if "*" in accepted:
        accepted.update(("br", "gzip"))
    return frozenset(accepted)


def choose(artifact: Artifact, accept_encoding: str | None) -> tuple[str | None, bytes]:
    """The best body for the client: br, then gzip, then identity (only if smaller)."""
    accepted = encodings(accept_encoding)
    if "br" in accepted and artifact.br is not None and len(artifact.br) < len(artifact.body):
        return "br", artifact.br
    if "gzip" in accepted and len(artifact.gzip) < len(artifact.body):
        return "gzip", artifact.gzip
    return None, artifact.body


def etag_matches(header: str | None, artifact: Artifact) -> bool:
    """If-None-Match uses weak comparison, and any coding of the same body matches."""
    if not header:
        return False
    base = artifact.etag[:-1]
    for tag in header.split(","):
        tag = tag.strip().removeprefix("W/")
        if tag == "*" or tag == artifact.etag or (tag.startswith(base) and tag.endswith('"')):
            return True
    return False


def respond(
    artifact: Artifact, *, accept_encoding: str | None, if_none_match: str | None
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Status, raw headers and body for `artifact` (a 304 has an empty body)."""
    coding, body = choose(artifact, accept_encoding)
    headers = [
        (b"etag", artifact.variant_etag(coding).encode()),
        (b"cache-control", artifact.cache_control.encode()),
        (b"vary", b"Accept-Encoding"),
        *((name.lower().encode(), value.encode()) for name, value in artifact.headers),
    ]
    if etag_matches(if_none_match, artifact):
        return 304, headers, b""
    headers.append((b"content-type", artifact.content_type.encode()))
    headers.append((b"content-length", str(len(body)).encode()))
    if coding is not None:
        headers.append((b"content-encoding", coding.encode()))
    return 200, headers, body
