"""Signed, optionally expiring tokens for links in messages (HMAC-SHA256 over the secret key)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time


def _mac(secret: str, message: str) -> str:
    digest = hmac.new(secret.encode(), message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def sign(secret: str, purpose: str, subject: str, *, expires_at: int | None = None) -> str:
    """A token binding `subject` to `purpose` (so a manage link can't confirm, and so on).

    With `expires_at` (Unix seconds) the token stops verifying after that time.
    """
    expiry = "" if expires_at is None else str(expires_at)
    return f"{expiry}.{_mac(secret, f'{purpose}:{subject}:{expiry}')}"


def verify(
    secret: str, purpose: str, subject: str, token: str, *, now: float | None = None
) -> bool:
    expiry, _, mac = token.partition(".")
    if expiry and (not expiry.isdigit() or int(expiry) < (now if now is not None else time.time())):
        return False
    return hmac.compare_digest(mac, _mac(secret, f"{purpose}:{subject}:{expiry}"))
