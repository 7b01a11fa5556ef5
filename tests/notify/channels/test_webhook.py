"""Webhooks against a real HTTP receiver on 127.0.0.1."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from channel_receivers import HttpReceiver, Reply, http_receiver, outgoing, page, payload

from tocsin.notify.base import Notifier, NotifyError
from tocsin.notify.channels import build_notifiers
from tocsin.notify.channels._http import retry_after
from tocsin.notify.channels.webhook import signing_secret
from tocsin.notify.models import NotificationKind, SubscriberMode
from tocsin.settings import Settings

pytestmark = pytest.mark.anyio

SECRET = "server-secret-key-" + "x" * 30


def settings(tmp_path: Path, *, allow_private: bool = True) -> Settings:
    return Settings(
        secret_key=SECRET,
        var_dir=tmp_path,
        webhooks_allow_private=allow_private,
        delivery_timeout_seconds=1.0,
    )


@pytest.fixture
async def receiver() -> AsyncIterator[HttpReceiver]:
    async with http_receiver() as running:
        yield running


@pytest.fixture
async def webhook(tmp_path: Path) -> AsyncIterator[Notifier]:
    notifier = build_notifiers(settings(tmp_path), modes=[SubscriberMode.WEBHOOK])
    yield notifier[SubscriberMode.WEBHOOK]
    await notifier[SubscriberMode.WEBHOOK].aclose()


async def test_it_posts_statuspage_incident_json(webhook: Notifier, receiver: HttpReceiver) -> None:
    await webhook.send(outgoing(SubscriberMode.WEBHOOK, endpoint=receiver.url()))

    [request] = receiver.requests
    assert (request.method, request.path) == ("POST", "/hook")
    assert request.headers["content-type"] == "application/json"
    assert request.headers["idempotency-key"] == "notif1.sub1"
    assert request.headers["user-agent"].startswith("Tocsin/")
    body = request.json()
    assert set(body) == {"meta", "page", "incident"}
    assert body["meta"]["unsubscribe"] == (
        "https://status.acme.test/subscriptions/unsubscribe/sub1?token=unsub.tok"
    )
    assert body["meta"]["documentation"].startswith("https://")
    assert body["meta"]["event"] == "incident_created"
    assert body["page"] == {"id": "pg1", "status_indicator": None, "status_description": None}
    incident = body["incident"]
    assert incident["id"] == "inc1"
    assert incident["name"] == "Payments API returning errors"
    assert (incident["status"], incident["impact"]) == ("investigating", "major")
    assert incident["created_at"] == "2026-02-10T18:40:00.000Z"
    assert incident["resolved_at"] is None
    assert incident["shortlink"] == "https://status.acme.test/incidents/inc1"
    assert incident["page_id"] == "pg1"
    assert incident["components"] == [
        {"id": "c1", "name": "API - Payments", "status": "major_outage", "page_id": "pg1"}
    ]
    [entry] = incident["incident_updates"]
    assert entry["id"] == "up1"
    assert entry["incident_id"] == "inc1"
    assert entry["body"].startswith("We are **investigating** errors.")
    assert entry["display_at"] == "2026-02-10T18:43:00.000Z"
    assert entry["affected_components"] == [
        {
            "code": "c1",
            "name": "API - Payments",
            "old_status": "operational",
            "new_status": "major_outage",
        }
    ]


async def test_the_signature_verifies_with_the_subscribers_key(
    webhook: Notifier, receiver: HttpReceiver
) -> None:
    await webhook.send(outgoing(SubscriberMode.WEBHOOK, endpoint=receiver.url()))

    request = receiver.requests[0]
    fields = dict(part.split("=", 1) for part in request.headers["x-tocsin-signature"].split(","))
    assert fields["t"] == request.headers["x-tocsin-timestamp"]
    assert abs(int(fields["t"]) - time.time()) < 60
    key = signing_secret(SECRET, "sub1")
    expected = hmac.new(key.encode(), fields["t"].encode() + b"." + request.body, hashlib.sha256)
    assert hmac.compare_digest(fields["v1"], expected.hexdigest())
    # Each subscriber has its own key, and none of them is the server's.
    assert key != SECRET
    assert key != signing_secret(SECRET, "sub2")


async def test_it_sends_the_same_idempotency_key_on_a_retry(
    webhook: Notifier, receiver: HttpReceiver
) -> None:
    for attempt in (1, 2):
        await webhook.send(
            outgoing(SubscriberMode.WEBHOOK, endpoint=receiver.url(), attempt=attempt)
        )
    assert {r.headers["idempotency-key"] for r in receiver.requests} == {"notif1.sub1"}


async def test_a_reminder_without_an_update_has_no_incident_updates(
    webhook: Notifier, receiver: HttpReceiver
) -> None:
    data = payload(update=None)
    message = outgoing(
        SubscriberMode.WEBHOOK,
        kind=NotificationKind.MAINTENANCE_REMINDER,
        data=data,
        endpoint=receiver.url(),
    )
    await webhook.send(message)
    body = receiver.requests[0].json()
    assert body["incident"]["incident_updates"] == []
    assert body["meta"]["event"] == "maintenance_reminder"


async def test_a_confirmation_sends_nothing(webhook: Notifier, receiver: HttpReceiver) -> None:
    message = outgoing(
        SubscriberMode.WEBHOOK,
        kind=NotificationKind.CONFIRM_SUBSCRIPTION,
        data={"page": page()},
        endpoint=receiver.url(),
    )
    await webhook.send(message)
    assert receiver.requests == []


@pytest.mark.parametrize(
    ("status", "permanent"),
    [(400, True), (404, True), (410, True), (408, False), (429, False), (500, False),
     (503, False), (301, True), (302, True)],
)  # fmt: skip
async def test_it_maps_http_statuses(
    webhook: Notifier, receiver: HttpReceiver, status: int, permanent: bool
) -> None:
    headers = (("Location", "/elsewhere"),) if status in (301, 302) else ()
    receiver.replies["/hook"] = Reply(status=status, headers=headers)
    with pytest.raises(NotifyError) as caught:
        await webhook.send(outgoing(SubscriberMode.WEBHOOK, endpoint=receiver.url()))
    assert caught.value.permanent is permanent
    # 3xx is a failure (Statuspage): the redirect is not followed.
    assert [r.path for r in receiver.requests] == ["/hook"]


@pytest.mark.parametrize(
    ("status", "retry_after", "expected"),
    [(429, "120", 120.0), (503, "Wed, 21 Oct 2015 07:28:00 GMT", 0.0), (429, "soon", None),
     (500, None, None)],
)  # fmt: skip
async def test_it_passes_on_how_long_the_receiver_asked_to_wait(
    webhook: Notifier,
    receiver: HttpReceiver,
    status: int,
    retry_after: str | None,
    expected: float | None,
) -> None:
    headers = () if retry_after is None else (("Retry-After", retry_after),)
    receiver.replies["/hook"] = Reply(status=status, headers=headers)
    with pytest.raises(NotifyError) as caught:
        await webhook.send(outgoing(SubscriberMode.WEBHOOK, endpoint=receiver.url()))
    assert (caught.value.permanent, caught.value.retry_after) == (False, expected)


def test_a_retry_after_date_counts_from_now() -> None:
    response = httpx.Response(429, headers={"Retry-After": "Tue, 10 Feb 2026 18:45:00 GMT"})
    now = datetime(2026, 2, 10, 18, 43, 30, tzinfo=UTC)
    assert retry_after(response, now=now) == 90.0


async def test_any_2xx_is_success(webhook: Notifier, receiver: HttpReceiver) -> None:
    receiver.replies["/hook"] = Reply(status=204, body=b"")
    await webhook.send(outgoing(SubscriberMode.WEBHOOK, endpoint=receiver.url()))


async def test_a_slow_receiver_times_out_temporarily(
    webhook: Notifier, receiver: HttpReceiver
) -> None:
    receiver.replies["/hook"] = Reply(delay=3.0)
    with pytest.raises(NotifyError) as caught:
        await webhook.send(outgoing(SubscriberMode.WEBHOOK, endpoint=receiver.url()))
    assert not caught.value.permanent
    assert caught.value.message == "timed out after 1 s"


async def test_it_refuses_private_addresses_unless_allowed(
    tmp_path: Path, receiver: HttpReceiver
) -> None:
    notifier = build_notifiers(
        settings(tmp_path, allow_private=False), modes=[SubscriberMode.WEBHOOK]
    )
    try:
        with pytest.raises(NotifyError) as caught:
            await notifier[SubscriberMode.WEBHOOK].send(
                outgoing(SubscriberMode.WEBHOOK, endpoint=receiver.url())
            )
    finally:
        await notifier[SubscriberMode.WEBHOOK].aclose()
    assert caught.value.permanent
    assert caught.value.message == "refused: 127.0.0.1 is a loopback address"
    assert receiver.requests == []


def _one_connection_kept(tmp_path: Path) -> Notifier:
    """A webhook channel of a worker that sends one message at a time."""
    one = settings(tmp_path).model_copy(
        update={"delivery_concurrency": 1, "delivery_per_destination": 1}
    )
    return build_notifiers(one, modes=[SubscriberMode.WEBHOOK])[SubscriberMode.WEBHOOK]


async def test_it_keeps_connections_to_the_destinations_used_last(tmp_path: Path) -> None:
    # One send at a time: one idle connection is kept, to the destination used last.
    notifier = _one_connection_kept(tmp_path)
    try:
        async with http_receiver() as a, http_receiver() as b:
            for target in (a, a, b, a):
                await notifier.send(outgoing(SubscriberMode.WEBHOOK, endpoint=target.url()))
    finally:
        await notifier.aclose()
    assert (len(a.requests), a.connections) == (3, 2)
    assert (len(b.requests), b.connections) == (1, 1)


async def test_a_destination_in_use_keeps_its_connection(tmp_path: Path) -> None:
    notifier = _one_connection_kept(tmp_path)
    try:
        async with http_receiver() as slow, http_receiver() as other:
            slow.replies["/hook"] = Reply(delay=0.3)
            sending = asyncio.create_task(
                notifier.send(outgoing(SubscriberMode.WEBHOOK, endpoint=slow.url()))
            )
            while not slow.requests:
                await asyncio.sleep(0.01)
            await notifier.send(outgoing(SubscriberMode.WEBHOOK, endpoint=other.url()))
            await sending
    finally:
        await notifier.aclose()
    assert len(slow.requests) == len(other.requests) == 1


async def test_a_missing_endpoint_is_permanent(webhook: Notifier) -> None:
    with pytest.raises(NotifyError) as caught:
        await webhook.send(outgoing(SubscriberMode.WEBHOOK, endpoint=None))
    assert caught.value.permanent


async def test_a_non_http_endpoint_is_permanent(webhook: Notifier) -> None:
    with pytest.raises(NotifyError) as caught:
        await webhook.send(outgoing(SubscriberMode.WEBHOOK, endpoint="file:///etc/passwd"))
    assert caught.value.permanent
