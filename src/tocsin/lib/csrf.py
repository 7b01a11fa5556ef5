"""Cross-site request forgery: a salted double-submit token and a same-origin check.

A form carries `token(key)`, where `key` is a secret the browser holds apart from the
form (a session's own token, or a cookie nonce). Another site can read neither the page
nor the cookie, so it cannot make a token that `matches`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from urllib.parse import urlsplit

_NONCE_LENGTH = 43  # secrets.token_urlsafe(32)


def nonce(cookie: str | None) -> str:
    """`cookie` if it has the shape of a nonce we issue, else a fresh one to set."""
    if (
        cookie
        and len(cookie) == _NONCE_LENGTH
        and cookie.replace("-", "").replace("_", "").isalnum()
    ):
        return cookie
    return secrets.token_urlsafe(32)


def _mac(key: str, salt: str) -> str:
    return hmac.new(key.encode(), f"csrf:{salt}".encode(), hashlib.sha256).hexdigest()


def token(key: str) -> str:
    """A form token for `key`, salted afresh on every call, so the token in a page
    differs each time (BREACH)."""
    salt = secrets.token_urlsafe(12)
    return f"{salt}.{_mac(key, salt)}"


def matches(key: str, presented: str) -> bool:
    """Whether `presented` is a token made by `token(key)`; never for an empty key."""
    salt, _, mac = presented.partition(".")
    if not (key and salt and mac):
        return False
    # Bytes: compare_digest refuses a str with non-ASCII characters, and a form can send any.
    return hmac.compare_digest(mac.encode(), _mac(key, salt).encode())


def same_origin(headers: Mapping[str, str], base_url: str) -> bool:
    """The request comes from our own pages, as far as Fetch Metadata and Origin (when
    sent) tell: `base_url`'s host or the request's own Host."""
    if headers.get("sec-fetch-site") == "cross-site":
        return False
    origin = headers.get("origin")
    ours = {headers.get("host"), urlsplit(base_url).netloc}
    return origin is None or urlsplit(origin).netloc in ours
