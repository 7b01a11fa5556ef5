"""SMS through a Twilio-compatible API (`POST …/2010-04-01/Accounts/{sid}/Messages.json`).

Every message fits one segment, so one notification costs one SMS: 160 GSM-7 units, or
70 UCS-2 units as soon as one character is outside GSM-7. The text is cut first; the
link to the incident stays whenever enough text fits beside it.
"""

from __future__ import annotations

import base64
from typing import Self
from urllib.parse import quote, urlencode

import httpx
from pydantic import BaseModel, ValidationError

from tocsin.lib import http
from tocsin.lib.http import OutboundError
from tocsin.notify import render
from tocsin.notify.base import Notifier, NotifyError, Outgoing
from tocsin.notify.render import Composed
from tocsin.settings import Settings

GSM_LIMIT = 160
UCS2_LIMIT = 70
# Shortest text worth sending beside the link; below it the link is dropped instead.
MIN_TEXT = 24

_GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Escaped characters: each takes two units.
_GSM_EXTENDED = frozenset("^{}\\[~]|€\f")

# Twilio errors that are about the number itself: invalid (21211), unreachable
# (21214), opted out with STOP (21610), not routable (21612), not a mobile (21614).
# Anything else, 401 included, is our account or the provider, not the subscriber.
PERMANENT_CODES = frozenset({21211, 21214, 21610, 21612, 21614})


class _TwilioError(BaseModel):
    code: int | None = None
    message: str = ""


def is_gsm(text: str) -> bool:
    return all(ch in _GSM_BASIC or ch in _GSM_EXTENDED for ch in text)


def units(text: str) -> int:
    """How much of a segment `text` takes, in its encoding's units."""
    if is_gsm(text):
        return sum(2 if ch in _GSM_EXTENDED else 1 for ch in text)
    return len(text.encode("utf-16-le")) // 2


def limit(text: str) -> int:
    return GSM_LIMIT if is_gsm(text) else UCS2_LIMIT


def fits(text: str) -> bool:
    return units(text) <= limit(text)


def cut(text: str, budget: int, *, gsm: bool) -> str:
    """`text` shortened with an ellipsis to take at most `budget` units.

    GSM-7 has no `…`, and one would switch the whole message to UCS-2, so GSM texts
    end in `...` instead.
    """
    ellipsis = "..." if gsm else "…"
    if units(text) <= budget:
        return text
    kept = text[:budget]  # every character takes at least one unit
    while kept and units(kept.rstrip() + ellipsis) > budget:
        kept = kept[:-1]
    return kept.rstrip() + ellipsis if kept else ""


def fit_segment(text: str, link: str | None) -> str:
    """`text` and `link` in one segment: the text is cut to make room for the link, and
    the link is dropped only if what would remain of the text is too short."""
    text = render.one_line(text)
    if link:
        whole = f"{text} {link}"
        if fits(whole):
            return whole
        room = limit(whole) - units(f" {link}")
        short = cut(text, room, gsm=is_gsm(whole))
        if len(short) >= MIN_TEXT:
            return f"{short} {link}"
    return cut(text, limit(text), gsm=is_gsm(text))


def sms_text(m: Composed) -> str:
    if m.is_confirmation:
        text = f"{m.branding.name}: confirm your subscription to status updates:"
        return fit_segment(text, m.links.confirm or m.links.manage)
    body = render.plain_text(m.body) if m.body else (m.lead or "")
    text = f"[{m.branding.name}] {m.headline}" + (f" - {body}" if body else "")
    return fit_segment(text, m.target)


class SmsNotifier(Notifier):
    def __init__(
        self,
        *,
        client: httpx.AsyncClient,
        api_url: str,
        account_sid: str | None,
        auth_token: str | None,
        sender: str | None,
    ) -> None:
        self._client = client
        self._api_url = api_url.rstrip("/")
        self._sid = account_sid
        self._token = auth_token
        self._sender = sender

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        token = settings.sms_auth_token
        # The API URL is the operator's own setting, not a subscriber's, so it may point
        # at a gateway on the private network (metadata addresses stay refused).
        client = http.make_client(
            allow_private=True, timeout=settings.delivery_timeout_seconds, max_redirects=0
        )
        return cls(
            client=client,
            api_url=settings.sms_api_url,
            account_sid=settings.sms_account_sid,
            auth_token=token.get_secret_value() if token else None,
            sender=settings.sms_from,
        )

    async def send(self, message: Outgoing) -> None:
        if not (self._sid and self._token and self._sender):
            raise NotifyError("SMS is not configured (TOCSIN_SMS_ACCOUNT_SID, _AUTH_TOKEN, _FROM)")
        number = message.recipient.phone_number
        if not number:
            raise NotifyError("the subscriber has no phone number", permanent=True)
        form = {"To": number, "From": self._sender, "Body": sms_text(render.compose(message))}
        credentials = base64.b64encode(f"{self._sid}:{self._token}".encode()).decode()
        headers = {
            "Authorization": f"Basic {credentials}",
            "Content-Type": "application/x-www-form-urlencoded",
        }
        url = f"{self._api_url}/2010-04-01/Accounts/{quote(self._sid, safe='')}/Messages.json"
        try:
            response = await http.request(
                self._client, "POST", url, headers=headers, content=urlencode(form)
            )
        except OutboundError as exc:
            # Even a "permanent" refusal here is about our API URL, not the subscriber.
            raise NotifyError(exc.message) from exc
        check(response)

    async def aclose(self) -> None:
        await self._client.aclose()


def check(response: httpx.Response) -> None:
    """Raise NotifyError unless 2xx; permanent only for errors about the number."""
    if 200 <= response.status_code < 300:
        return
    try:
        error = _TwilioError.model_validate_json(response.content)
    except ValidationError:
        error = _TwilioError()
    message = f"HTTP {response.status_code}"
    if error.code is not None:
        message += f": error {error.code} {error.message}"
    raise NotifyError(
        render.clip(render.one_line(message), 300), permanent=error.code in PERMANENT_CODES
    )
