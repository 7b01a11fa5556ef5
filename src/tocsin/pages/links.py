"""Where the public pages' links point: root-relative paths on the live site, or
relative file paths in a static export, so the export works under any host and prefix.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

# Site paths a static export contains; anything else (subscribing, the admin) needs
# the live site, so an exported page links there absolutely.
_EXPORTED_PREFIXES = ("/incidents/", "/components/", "/static/", "/api/v2/")
_EXPORTED_PATHS = frozenset(
    {"/", "/history", "/theme.css", "/history.rss", "/history.atom", "/maintenance.ics",
     "/badge.svg"}
)  # fmt: skip


def is_exported(path: str) -> bool:
    route = urlsplit(path).path
    return route in _EXPORTED_PATHS or route.startswith(_EXPORTED_PREFIXES)


def export_path(path: str) -> str:
    """The file, relative to the export's root, that holds the site path `path`.

    `/` is `index.html`, `/history?page=3` is `history/page/3/index.html`, a path
    whose last segment has no dot is a directory with an `index.html`, and any other
    path is the file itself.
    """
    parts = urlsplit(path)
    route = parts.path
    if route == "/history":
        number = parse_qs(parts.query).get("page", ["1"])[0]
        return "history/index.html" if number == "1" else f"history/page/{number}/index.html"
    if "." in route.rsplit("/", 1)[-1]:
        return route.lstrip("/")
    directory = route.strip("/")
    return f"{directory}/index.html" if directory else "index.html"


@dataclass(frozen=True)
class Links:
    """Turns a root-relative site path into the `href` a page should carry.

    `here` is the export path of the page being rendered; None renders for the live
    site, where every path stays as it is.
    """

    here: str | None = None
    live_url: str = ""

    def __call__(self, path: str) -> str:
        if self.here is None or not path.startswith("/"):
            return path
        if not is_exported(path):
            return self.live_url.rstrip("/") + path
        target = export_path(path)
        query = urlsplit(path).query
        # History pages carry their number in the file path, not in the query.
        if query and not target.endswith("index.html"):
            target = f"{target}?{query}"
        return posixpath.relpath(target, posixpath.dirname(self.here) or ".")


LIVE = Links()
