"""Slack incoming webhooks against a real HTTP receiver on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from channel_receivers import HttpReceiver, Reply, http_receiver, incident, outgoing, page, payload

from tocsin.notify.base import Notifier, NotifyError
from tocsin.notify.channels import build_notifiers
from tocsin.notify.models import NotificationKind, SubscriberMode
from tocsin.settings import Settings

pytestmark = pytest.mark.anyio

SLACK = SubscriberMode.SLACK


def settings(tmp_path: Path, *, allow_private: bool = True) -> Settings:
    return Settings(
        secret_key="k" * 40,
        var_dir=tmp_path,
        webhooks_allow_private=allow_private,
        delivery_timeout_seconds=1.0,
    )


@pytest.fixture
async def receiver() -> AsyncIterator[HttpReceiver]:
    async with http_receiver() as running:
        yield running


@pytest.fixture
async def slack(tmp_path: Path) -> AsyncIterator[Notifier]:
    notifier = build_notifiers(settings(tmp_path), modes=[SLACK])[SLACK]
    yield notifier
    await notifier.aclose()


def texts(body: dict[str, Any]) -> list[str]:
    """Every text in the blocks, in order."""
    found = []
    for block in body["blocks"]:
        if "text" in block:
            found.append(block["text"]["text"])
        for element in block.get("elements", []):
            found.append(
                element["text"]["text"] if element["type"] == "button" else element["text"]
            )
    return found


async def test_it_posts_text_and_blocks(slack: Notifier, receiver: HttpReceiver) -> None:
    await slack.send(outgoing(SLACK, endpoint=receiver.url()))

    [request] = receiver.requests
    assert request.method == "POST"
    assert request.headers["content-type"] == "application/json"
    body = request.json()
    assert body["text"] == "[Acme Cloud] Investigating: Payments API returning errors"
    assert body["blocks"][0] == {
        "type": "header",
        "text": {
            "type": "plain_text",
            "text": "Investigating: Payments API returning errors",
            "emoji": False,
        },
    }
    shown = texts(body)
    assert "Acme Cloud · Investigating · Tue, Feb 10, 2026, 07:43 PM CET" in shown
    assert "We are investigating errors.\n\n- card payments\n- refunds" in shown
    assert "Affected components\n• API - Payments: Operational → Major outage" in shown
    button = next(b for b in body["blocks"] if b["type"] == "actions")["elements"][0]
    assert button["url"] == "https://status.acme.test/incidents/inc1"
    assert "|Unsubscribe>" in shown[-1]


async def test_user_text_cannot_mention_or_spoof_links(
    slack: Notifier, receiver: HttpReceiver
) -> None:
    data = payload(page=page(name="Acme <!channel>"))
    data["incident"] = incident(name="<https://evil.test|status.acme.test> & <!everyone>")

    await slack.send(outgoing(SLACK, data=data, endpoint=receiver.url()))

    body = receiver.requests[0].json()
    assert body["text"] == (
        "[Acme &lt;!channel&gt;] Investigating: &lt;https://evil.test|status.acme.test&gt;"
        " &amp; &lt;!everyone&gt;"
    )
    # Every other user-written string sits in plain_text, which Slack never parses.
    for block in body["blocks"]:
        for element in [block.get("text"), *block.get("elements", [])]:
            if element and element.get("type") == "mrkdwn":
                assert "evil" not in element["text"]
                assert "!channel" not in element["text"]


async def test_a_confirmation_offers_the_confirm_link(
    slack: Notifier, receiver: HttpReceiver
) -> None:
    message = outgoing(
        SLACK, kind=NotificationKind.CONFIRM_SUBSCRIPTION, data={"page": page()},
        endpoint=receiver.url(),
    )  # fmt: skip
    await slack.send(message)
    body = receiver.requests[0].json()
    assert body["text"] == "[Acme Cloud] Confirm your subscription"
    button = next(b for b in body["blocks"] if b["type"] == "actions")["elements"][0]
    assert (
        button["url"] == "https://status.acme.test/subscriptions/confirm/sub1?token=1771000000.conf"
    )


async def test_a_long_update_is_clipped_to_block_limits(
    slack: Notifier, receiver: HttpReceiver
) -> None:
    data = payload()
    data["update"]["body"] = "word " * 2000
    data["incident"] = incident(name="n" * 400)
    await slack.send(outgoing(SLACK, data=data, endpoint=receiver.url()))
    body = receiver.requests[0].json()
    assert len(body["blocks"][0]["text"]["text"]) == 150
    assert all(len(t) <= 3000 for t in texts(body))


@pytest.mark.parametrize(
    ("status", "answer", "permanent"),
    [
        (404, b"no_service", True),
        (404, b"channel_not_found", True),
        (410, b"channel_is_archived", True),
        (403, b"action_prohibited", True),
        (400, b"invalid_payload", False),
        (429, b"rate_limited", False),
        (500, b"rollup_error", False),
    ],
)
async def test_it_maps_slack_errors(
    slack: Notifier, receiver: HttpReceiver, status: int, answer: bytes, permanent: bool
) -> None:
    receiver.replies["/hook"] = Reply(status=status, body=answer)
    with pytest.raises(NotifyError) as caught:
        await slack.send(outgoing(SLACK, endpoint=receiver.url()))
    assert caught.value.permanent is permanent
    assert caught.value.message.endswith(answer.decode())


async def test_it_refuses_private_addresses_unless_allowed(
    tmp_path: Path, receiver: HttpReceiver
) -> None:
    notifier = build_notifiers(settings(tmp_path, allow_private=False), modes=[SLACK])[SLACK]
    try:
        with pytest.raises(NotifyError) as caught:
            await notifier.send(outgoing(SLACK, endpoint=receiver.url()))
    finally:
        await notifier.aclose()
    assert caught.value.permanent
    assert receiver.requests == []
