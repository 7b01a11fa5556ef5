"""SMS through a Twilio-compatible API, served by a real HTTP receiver on 127.0.0.1."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from channel_receivers import (
    HttpReceiver,
    Reply,
    http_receiver,
    incident,
    outgoing,
    page,
    payload,
    update,
)

from tocsin.notify.base import Notifier, NotifyError
from tocsin.notify.channels import build_notifiers
from tocsin.notify.channels.sms import fit_segment, is_gsm, units
from tocsin.notify.models import NotificationKind, SubscriberMode
from tocsin.settings import Settings

pytestmark = pytest.mark.anyio

SMS = SubscriberMode.SMS
PATH = "/2010-04-01/Accounts/AC123/Messages.json"
LINK = "https://status.acme.test/incidents/inc1"


@pytest.fixture
async def receiver() -> AsyncIterator[HttpReceiver]:
    async with http_receiver() as running:
        running.replies[PATH] = Reply(status=201, body=b'{"sid": "SM1", "status": "queued"}')
        yield running


@pytest.fixture
async def sms(tmp_path: Path, receiver: HttpReceiver) -> AsyncIterator[Notifier]:
    settings = Settings(
        secret_key="k" * 40,
        var_dir=tmp_path,
        sms_api_url=f"http://127.0.0.1:{receiver.port}/",
        sms_account_sid="AC123",
        sms_auth_token="tok3n",
        sms_from="+15005550001",
        delivery_timeout_seconds=1.0,
    )
    notifier = build_notifiers(settings, modes=[SMS])[SMS]
    yield notifier
    await notifier.aclose()


def form(receiver: HttpReceiver) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(receiver.requests[0].body.decode()).items()}


async def test_it_posts_a_twilio_message(sms: Notifier, receiver: HttpReceiver) -> None:
    await sms.send(outgoing(SMS))

    [request] = receiver.requests
    assert (request.method, request.path) == ("POST", PATH)
    assert request.headers["authorization"] == "Basic " + base64.b64encode(b"AC123:tok3n").decode()
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    sent = form(receiver)
    assert (sent["To"], sent["From"]) == ("+15005550006", "+15005550001")
    assert sent["Body"] == (
        "[Acme Cloud] Investigating: Payments API returning errors - We are investigating"
        f" errors. - card payments - refunds {LINK}"
    )


async def test_a_long_update_is_cut_to_one_gsm_segment_keeping_the_link(
    sms: Notifier, receiver: HttpReceiver
) -> None:
    await sms.send(outgoing(SMS, data=payload(update=update(body="Card payments fail. " * 20))))
    body = form(receiver)["Body"]
    assert body.startswith("[Acme Cloud] Investigating: Payments API returning errors - Card")
    assert body.endswith(f"... {LINK}")
    assert units(body) <= 160


async def test_a_non_gsm_message_fits_seventy_units(sms: Notifier, receiver: HttpReceiver) -> None:
    data = payload(incident=incident(name="Zahlungen gestört – Ausfall 💳"))
    await sms.send(outgoing(SMS, data=data))
    body = form(receiver)["Body"]
    assert not is_gsm(body)
    assert units(body) <= 70
    assert body.endswith(f"… {LINK}")


async def test_the_confirmation_carries_the_confirm_link(
    sms: Notifier, receiver: HttpReceiver
) -> None:
    message = outgoing(SMS, kind=NotificationKind.CONFIRM_SUBSCRIPTION, data={"page": page()})
    await sms.send(message)
    assert form(receiver)["Body"] == (
        "Acme Cloud: confirm your subscription to status updates: "
        "https://status.acme.test/subscriptions/confirm/sub1?token=1771000000.conf"
    )


@pytest.mark.parametrize(
    ("status", "code", "permanent"),
    [
        (400, 21211, True),
        (400, 21614, True),
        (400, 21610, True),
        (400, 21408, False),
        (401, 20003, False),
        (429, 20429, False),
        (500, None, False),
        (503, None, False),
    ],
)
async def test_it_maps_twilio_errors(
    sms: Notifier, receiver: HttpReceiver, status: int, code: int | None, permanent: bool
) -> None:
    answer = json.dumps({"code": code, "message": "Nope", "status": status}).encode()
    receiver.replies[PATH] = Reply(status=status, body=answer if code else b"<html>")
    with pytest.raises(NotifyError) as caught:
        await sms.send(outgoing(SMS))
    assert caught.value.permanent is permanent
    expected = f"HTTP {status}: error {code} Nope" if code else f"HTTP {status}"
    assert caught.value.message == expected


async def test_a_missing_number_is_permanent(sms: Notifier) -> None:
    with pytest.raises(NotifyError) as caught:
        await sms.send(outgoing(SMS, phone=None))
    assert caught.value.permanent


async def test_without_credentials_sends_fail_temporarily(tmp_path: Path) -> None:
    notifier = build_notifiers(Settings(secret_key="k" * 40, var_dir=tmp_path), modes=[SMS])[SMS]
    try:
        with pytest.raises(NotifyError) as caught:
            await notifier.send(outgoing(SMS))
    finally:
        await notifier.aclose()
    assert not caught.value.permanent


async def test_a_dead_gateway_is_temporary(tmp_path: Path) -> None:
    settings = Settings(
        secret_key="k" * 40,
        var_dir=tmp_path,
        sms_api_url="http://127.0.0.1:9/",
        sms_account_sid="AC123",
        sms_auth_token="tok3n",
        sms_from="+15005550001",
    )
    notifier = build_notifiers(settings, modes=[SMS])[SMS]
    try:
        with pytest.raises(NotifyError) as caught:
            await notifier.send(outgoing(SMS))
    finally:
        await notifier.aclose()
    assert not caught.value.permanent


# --- one segment ----------------------------------------------------------------------------


def test_gsm_extension_characters_take_two_units() -> None:
    assert units("abc") == 3
    assert units("{€}") == 6
    assert units("ü") == 1  # in the GSM-7 basic set
    assert units("–") == 1  # en dash: UCS-2
    assert units("💳") == 2  # outside the BMP: a surrogate pair


def test_a_short_text_is_sent_whole() -> None:
    assert fit_segment("Down", LINK) == f"Down {LINK}"


@pytest.mark.parametrize("text", ["x" * 500, "{" * 300, "é" * 400, "ø" * 200 + "–" * 50])
def test_long_texts_fit_one_segment_and_keep_the_link(text: str) -> None:
    fitted = fit_segment(text, LINK)
    assert units(fitted) <= (160 if is_gsm(fitted) else 70)
    assert fitted.endswith(LINK)


def test_the_link_is_dropped_when_too_little_text_would_remain() -> None:
    long_link = "https://status.acme.test/" + "p" * 130
    fitted = fit_segment("Payments API returning errors across all regions", long_link)
    assert long_link not in fitted
    assert fitted.startswith("Payments API returning errors")


def test_gsm_texts_are_cut_with_three_dots_to_stay_gsm() -> None:
    fitted = fit_segment("word " * 100, None)
    assert fitted.endswith("...")
    assert is_gsm(fitted)
    assert len(fitted) == 160


def test_new_lines_and_controls_never_reach_the_sms() -> None:
    data = payload(update=update(body="line one\n\nline two\r\n\x07bell"))
    assert "\n" not in fit_segment(str(data["update"]["body"]), None)
