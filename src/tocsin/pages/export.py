"""The whole public site as static files: pages, the v2 API as `.json`, feeds, badges.

Pages link to each other by relative paths (`links.export_path`), so the files work
from any host and any prefix: a second provider's bucket, nginx, a CDN.
"""

from __future__ import annotations

import gzip
import secrets
import shutil
from dataclasses import dataclass
from importlib import resources
from pathlib import Path, PurePosixPath

from tocsin.errors import Invalid
from tocsin.pages.links import export_path
from tocsin.pages.render import Renderer
from tocsin.pages.snapshot import build_snapshot
from tocsin.pages.view import PageState

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".json": "application/json",
    ".css": "text/css",
    ".js": "text/javascript",
    ".svg": "image/svg+xml",
    ".rss": "application/rss+xml; charset=utf-8",
    ".atom": "application/atom+xml; charset=utf-8",
    ".ics": "text/calendar; charset=utf-8",
}
STATIC_CACHE = "public, max-age=300, stale-if-error=86400"
# A directory holding this file is an earlier export, which may be replaced as a whole.
_SIGNATURE = "api/v2/summary.json"


@dataclass(frozen=True)
class SiteFile:
    """One exported file and the headers a host should serve it with."""

    body: bytes
    gzip: bytes | None
    content_type: str
    cache_control: str


def site_files(state: PageState, renderer: Renderer) -> dict[str, SiteFile]:
    """Every public artifact of the page, by its path relative to the export's root.

    `renderer` should be built with `relative_links=True`.
    """
    snapshot = build_snapshot(state, renderer)
    files = {
        export_path(path): SiteFile(a.body, a.gzip, a.content_type, a.cache_control)
        for path, a in snapshot.artifacts.items()
    }
    files.update(_static_files())
    return files


def _static_files() -> dict[str, SiteFile]:
    root = resources.files("tocsin") / "static"
    return {
        f"static/{item.name}": _static_file(item.name, item.read_bytes())
        for item in root.iterdir()
        if item.is_file()
    }


def _static_file(name: str, body: bytes) -> SiteFile:
    content_type = CONTENT_TYPES.get(PurePosixPath(name).suffix, "application/octet-stream")
    return SiteFile(body, gzip.compress(body, mtime=0), content_type, STATIC_CACHE)


def file_bodies(files: dict[str, SiteFile], *, precompress: bool) -> dict[str, bytes]:
    """The bytes to write per path; with `precompress`, a `.gz` beside each file
    (for nginx's `gzip_static`) when it is shorter."""
    bodies = {name: f.body for name, f in files.items()}
    if precompress:
        bodies.update(
            (f"{name}.gz", f.gzip)
            for name, f in files.items()
            if f.gzip is not None and len(f.gzip) < len(f.body)
        )
    return bodies


def export_site(
    state: PageState, renderer: Renderer, dest: Path, *, precompress: bool = True
) -> list[Path]:
    """Write the site into `dest`, replacing an earlier export there; return the files written.

    The files are written into a sibling directory first, which then takes `dest`'s
    place, so a web server never serves a half-written export. Raise Invalid if
    `dest` holds something other than an earlier export.
    """
    bodies = file_bodies(site_files(state, renderer), precompress=precompress)
    return write_tree(bodies, dest)


def write_tree(files: dict[str, bytes], dest: Path) -> list[Path]:
    """Replace `dest` with exactly `files` (see `export_site`)."""
    _check_replaceable(dest)
    token = secrets.token_hex(4)
    staging = dest.with_name(f".{dest.name}.tmp-{token}")
    try:
        for name, body in files.items():
            target = staging / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(body)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _swap(staging, dest, dest.with_name(f".{dest.name}.old-{token}"))
    return sorted(dest / name for name in files)


def _check_replaceable(dest: Path) -> None:
    if dest.exists() and not dest.is_dir():
        raise Invalid(f"{dest} is not a directory")
    if dest.is_dir() and any(dest.iterdir()) and not (dest / _SIGNATURE).is_file():
        raise Invalid(f"{dest} is not empty and holds no earlier export; refusing to replace it")


def _swap(staging: Path, dest: Path, old: Path) -> None:
    # Two renames: between them `dest` is missing for a moment. A symlink swap
    # would avoid that, but not every host (or a bucket sync) follows symlinks.
    if dest.exists():
        dest.rename(old)
    staging.rename(dest)
    shutil.rmtree(old, ignore_errors=True)
