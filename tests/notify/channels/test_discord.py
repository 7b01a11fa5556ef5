"""Discord webhooks against a real HTTP receiver on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

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
from tocsin.notify.channels.discord import BLUE, COLOURS, GREEN
from tocsin.notify.models import NotificationKind, SubscriberMode
from tocsin.settings import Settings

pytestmark = pytest.mark.anyio

DISCORD = SubscriberMode.DISCORD


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
async def discord(tmp_path: Path) -> AsyncIterator[Notifier]:
    notifier = build_notifiers(settings(tmp_path), modes=[DISCORD])[DISCORD]
    yield notifier
    await notifier.aclose()


async def test_it_posts_one_embed_that_mentions_nobody(
    discord: Notifier, receiver: HttpReceiver
) -> None:
    receiver.replies["/hook"] = Reply(status=204, body=b"")
    await discord.send(outgoing(DISCORD, endpoint=receiver.url()))

    body = receiver.requests[0].json()
    assert body["allowed_mentions"] == {"parse": []}
    [embed] = body["embeds"]
    assert embed["title"] == "Investigating: Payments API returning errors"
    assert embed["url"] == "https://status.acme.test/incidents/inc1"
    assert embed["color"] == COLOURS["major"]
    assert embed["footer"] == {"text": "Acme Cloud"}
    assert embed["description"].startswith("We are investigating errors.\n\n- card payments")
    assert (
        "[Unsubscribe](https://status.acme.test/subscriptions/unsubscribe/sub1?token=unsub.tok)"
        in (embed["description"])
    )
    assert {"name": "Status", "value": "Investigating", "inline": True} in embed["fields"]
    assert {
        "name": "Affected components",
        "value": "API - Payments: Operational → Major outage",
        "inline": False,
    } in embed["fields"]


@pytest.mark.parametrize(
    ("kind", "impact", "colour"),
    [
        (NotificationKind.INCIDENT_CREATED, "critical", COLOURS["critical"]),
        (NotificationKind.INCIDENT_UPDATED, "minor", COLOURS["minor"]),
        (NotificationKind.INCIDENT_RESOLVED, "critical", GREEN),
        (NotificationKind.MAINTENANCE_SCHEDULED, "maintenance", BLUE),
        (NotificationKind.MAINTENANCE_COMPLETED, "maintenance", GREEN),
    ],
)
async def test_the_colour_follows_impact_and_outcome(
    discord: Notifier, receiver: HttpReceiver, kind: NotificationKind, impact: str, colour: int
) -> None:
    data = payload(incident=incident(impact=impact))
    await discord.send(outgoing(DISCORD, kind=kind, data=data, endpoint=receiver.url()))
    assert receiver.requests[0].json()["embeds"][0]["color"] == colour


async def test_user_text_is_markdown_escaped(discord: Notifier, receiver: HttpReceiver) -> None:
    data = payload(update=update(body="@everyone see [status](https://evil.test) `now`"))
    await discord.send(outgoing(DISCORD, data=data, endpoint=receiver.url()))
    description = receiver.requests[0].json()["embeds"][0]["description"]
    assert description.startswith("@everyone see status \\(https://evil.test\\) now")


async def test_a_confirmation_links_to_confirm(discord: Notifier, receiver: HttpReceiver) -> None:
    message = outgoing(
        DISCORD, kind=NotificationKind.CONFIRM_SUBSCRIPTION, data={"page": page()},
        endpoint=receiver.url(),
    )  # fmt: skip
    await discord.send(message)
    embed = receiver.requests[0].json()["embeds"][0]
    assert embed["title"] == "Confirm your subscription"
    assert (
        embed["url"] == "https://status.acme.test/subscriptions/confirm/sub1?token=1771000000.conf"
    )


@pytest.mark.parametrize(
    ("status", "permanent"), [(404, True), (401, True), (400, False), (429, False), (502, False)]
)
async def test_it_maps_discord_errors(
    discord: Notifier, receiver: HttpReceiver, status: int, permanent: bool
) -> None:
    answer = json.dumps({"message": "Unknown Webhook", "code": 10015}).encode()
    receiver.replies["/hook"] = Reply(status=status, body=answer)
    with pytest.raises(NotifyError) as caught:
        await discord.send(outgoing(DISCORD, endpoint=receiver.url()))
    assert caught.value.permanent is permanent
    assert caught.value.message.endswith(": 10015 Unknown Webhook")


async def test_it_refuses_private_addresses_unless_allowed(
    tmp_path: Path, receiver: HttpReceiver
) -> None:
    notifier = build_notifiers(settings(tmp_path, allow_private=False), modes=[DISCORD])[DISCORD]
    try:
        with pytest.raises(NotifyError) as caught:
            await notifier.send(outgoing(DISCORD, endpoint=receiver.url()))
    finally:
        await notifier.aclose()
    assert caught.value.permanent
    assert receiver.requests == []
