"""Markdown for user-written text (incident updates, write-ups), rendered safely.

Raw HTML is disabled in the parser *and* the output is sanitised with an
allowlist, so a parser bug alone cannot let markup through.
"""

from __future__ import annotations

from functools import cache, lru_cache

import nh3
from markdown_it import MarkdownIt
from markdown_it.token import Token
from markupsafe import Markup

# Bounds render time whatever the input (security.md A.9): longer text is cut
# before parsing, and deep nesting stops being parsed as structure.
MAX_INPUT_CHARS = 25_000
MAX_NESTING = 20

_TAGS = frozenset(
    {
        "p", "br", "strong", "em", "code", "pre", "blockquote", "ul", "ol", "li", "a",
        "h2", "h3", "h4", "h5", "h6", "hr", "del", "s",
        "table", "thead", "tbody", "tr", "th", "td",
    }
)  # fmt: skip
# No style attributes: user text must not restyle the page (or trip its CSP).
_ATTRIBUTES = {"a": {"href"}, "ol": {"start"}}
_URL_SCHEMES = frozenset({"http", "https", "mailto"})
_LINK_REL = "nofollow noopener noreferrer"


@cache
def _parser() -> MarkdownIt:
    parser = MarkdownIt(
        "js-default",
        {"breaks": True, "typographer": False, "maxNesting": MAX_NESTING},
    )
    # Images would load third-party resources on a public page; the
    # sanitiser drops <img> anyway, so do not pay for parsing them.
    return parser.disable("image")


@cache
def _cleaner() -> nh3.Cleaner:
    return nh3.Cleaner(
        tags=set(_TAGS),
        attributes=_ATTRIBUTES,
        url_schemes=set(_URL_SCHEMES),
        # Relative links in an update would point into Tocsin itself, and
        # markdown-it percent-encodes tricks like `java&#x09;script:` into
        # something that parses as relative: dropping them removes both.
        url_relative="deny",
        link_rel=_LINK_REL,
    )


def _demote_headings(tokens: list[Token], top_heading: int) -> None:
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            level = int(token.tag[1]) + top_heading - 1
            token.tag = f"h{min(level, 6)}"


# Every rebuild of a page renders the same update texts again (its home, incident
# page and feeds); the result depends on nothing else.
@lru_cache(maxsize=4096)
def render_markdown(text: str, *, top_heading: int = 4) -> Markup:
    """Render user Markdown to sanitised HTML, safe to insert into a page.

    A Markdown `# heading` becomes `<h{top_heading}>` so that user text never
    outranks the headings of the page around it.
    """
    parser = _parser()
    env: dict[str, object] = {}
    tokens = parser.parse(text[:MAX_INPUT_CHARS], env)
    _demote_headings(tokens, max(top_heading, 2))
    html = parser.renderer.render(tokens, parser.options, env)
    # The cleaner's output is an allowlisted fragment; that is what Markup asserts.
    return Markup(_cleaner().clean(html))  # noqa: S704
