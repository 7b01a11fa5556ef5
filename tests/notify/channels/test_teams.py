"""Microsoft Teams (Workflows) webhooks against a real HTTP receiver on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from channel_receivers import HttpReceiver, Reply, http_receiver, incident, outgoing, page, payload

from tocsin.notify.base import Notifier, NotifyError
from tocsin.notify.channels import build_notifiers
from tocsin.notify.channels.teams import CARD_TYPE
from tocsin.notify.models import NotificationKind, SubscriberMode
from tocsin.settings import Settings

pytestmark = pytest.mark.anyio

TEAMS = SubscriberMode.TEAMS


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
async def teams(tmp_path: Path) -> AsyncIterator[Notifier]:
    notifier = build_notifiers(settings(tmp_path), modes=[TEAMS])[TEAMS]
    yield notifier
    await notifier.aclose()


def card(body: dict[str, Any]) -> dict[str, Any]:
    assert body["type"] == "message"
    [attachment] = body["attachments"]
    assert attachment["contentType"] == CARD_TYPE
    content: dict[str, Any] = attachment["content"]
    assert (content["type"], content["version"]) == ("AdaptiveCard", "1.4")
    return content


async def test_it_posts_an_adaptive_card(teams: Notifier, receiver: HttpReceiver) -> None:
    receiver.replies["/hook"] = Reply(status=202, body=b"")
    await teams.send(outgoing(TEAMS, endpoint=receiver.url()))

    content = card(receiver.requests[0].json())
    blocks = content["body"]
    assert blocks[0]["text"] == "Acme Cloud"
    assert blocks[1]["text"] == "Investigating: Payments API returning errors"
    assert blocks[1]["color"] == "Attention"
    assert {"title": "Status", "value": "Investigating"} in blocks[2]["facts"]
    assert blocks[3]["text"].startswith("We are investigating errors.")
    assert blocks[-1]["facts"] == [
        {"title": "API - Payments", "value": "Operational → Major outage"}
    ]
    assert [(a["title"], a["url"]) for a in content["actions"]] == [
        ("View incident", "https://status.acme.test/incidents/inc1"),
        ("Manage subscription", "https://status.acme.test/subscriptions/sub1?token=manage.tok"),
        ("Unsubscribe", "https://status.acme.test/subscriptions/unsubscribe/sub1?token=unsub.tok"),
    ]


async def test_user_text_cannot_make_links(teams: Notifier, receiver: HttpReceiver) -> None:
    data = payload(incident=incident(name="[Pay here](https://evil.test) **now**"))
    await teams.send(outgoing(TEAMS, data=data, endpoint=receiver.url()))
    headline = card(receiver.requests[0].json())["body"][1]["text"]
    assert headline == "Investigating: \\[Pay here\\]\\(https://evil.test\\) \\*\\*now\\*\\*"


async def test_a_confirmation_has_a_confirm_action(teams: Notifier, receiver: HttpReceiver) -> None:
    message = outgoing(
        TEAMS, kind=NotificationKind.CONFIRM_SUBSCRIPTION, data={"page": page()},
        endpoint=receiver.url(),
    )  # fmt: skip
    await teams.send(message)
    content = card(receiver.requests[0].json())
    assert content["actions"][0] == {
        "type": "Action.OpenUrl",
        "title": "Confirm subscription",
        "url": "https://status.acme.test/subscriptions/confirm/sub1?token=1771000000.conf",
    }


@pytest.mark.parametrize(
    ("status", "permanent"), [(404, True), (403, True), (400, False), (429, False), (500, False)]
)
async def test_it_maps_teams_errors(
    teams: Notifier, receiver: HttpReceiver, status: int, permanent: bool
) -> None:
    receiver.replies["/hook"] = Reply(status=status)
    with pytest.raises(NotifyError) as caught:
        await teams.send(outgoing(TEAMS, endpoint=receiver.url()))
    assert caught.value.permanent is permanent


async def test_it_refuses_private_addresses_unless_allowed(
    tmp_path: Path, receiver: HttpReceiver
) -> None:
    notifier = build_notifiers(settings(tmp_path, allow_private=False), modes=[TEAMS])[TEAMS]
    try:
        with pytest.raises(NotifyError) as caught:
            await notifier.send(outgoing(TEAMS, endpoint=receiver.url()))
    finally:
        await notifier.aclose()
    assert caught.value.permanent
    assert receiver.requests == []
