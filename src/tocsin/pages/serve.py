"""Answer public GET and HEAD requests straight from the in-memory snapshot.

A plain ASGI middleware in front of the router: a hit costs a dict lookup and
one `send`, with no routing, no dependency injection and no database. Anything
it cannot answer exactly as the routes would (unknown paths, invalid query
parameters, badges with a custom label or colour) goes on to the routes.
"""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from tocsin.pages.snapshot import Artifact, Snapshot
from tocsin.pages.store import SnapshotStore

MAX_HISTORY_PAGE = 100_000
_BADGE_PARAMS = frozenset({"label", "color"})


class ServeSnapshots:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        store: SnapshotStore | None = getattr(scope["app"].state, "snapshots", None)
        key = snapshot_key(scope["path"], scope["query_string"])
        snapshot = store.for_host(_header(scope, b"host")) if store and key else None
        artifact = snapshot.get(key) if snapshot is not None and key else None
        if artifact is None:
            await self.app(scope, receive, send)
            return
        scope["route_template"] = route_template(key or "")
        status, headers, body = respond(
            artifact,
            accept_encoding=_header(scope, b"accept-encoding"),
            if_none_match=_header(scope, b"if-none-match"),
        )
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send(
            {"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body}
        )


def lookup(snapshot: Snapshot, path: str, query_string: bytes = b"") -> Artifact | None:
    key = snapshot_key(path, query_string)
    return snapshot.get(key) if key else None


def snapshot_key(path: str, query_string: bytes) -> str | None:
    """The snapshot path answering this request, or None if only a route can answer it."""
    if not query_string:
        return "/history?page=1" if path == "/history" else path
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


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None
