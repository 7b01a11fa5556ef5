from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from factories import component, group
from tocsin.audit.service import CLI
from tocsin.components import service as components
from tocsin.errors import Invalid, NotFound
from tocsin.incidents import service as incidents
from tocsin.incidents.models import Incident
from tocsin.incidents.schemas import IncidentCreate, UpdateCreate
from tocsin.incidents.status import IncidentStatus
from tocsin.notify import service as subscribers
from tocsin.notify.models import Subscriber, SubscriberMode, SubscriberState
from tocsin.notify.schemas import BulkAction, SubscriberCreate, SubscriberListing, display_phone
from tocsin.pages.models import Page

T0 = datetime(2026, 3, 2, 15, 12, tzinfo=UTC)


def _subscribe(
    session: Session, page: Page, incident: Incident | None = None, **fields: Any
) -> subscribers.NewSubscriber:
    return subscribers.create_subscriber(
        session,
        page=page,
        data=SubscriberCreate.model_validate(fields),
        actor=CLI,
        incident=incident,
    )


def _active(session: Session, page: Page, **fields: Any) -> Subscriber:
    return _subscribe(session, page, skip_confirmation_notification=True, **fields).subscriber


def _other_page(session: Session) -> Page:
    other = Page(name="Other Corp", domain="status.other.example")
    session.add(other)
    session.flush()
    return other


def _incident(session: Session, page: Page) -> Incident:
    return incidents.create_incident(
        session, page=page, data=IncidentCreate(name="Payments down"), actor=CLI, now=T0
    )


def _emails(rows: Any) -> list[str | None]:
    return [row.email for row in rows]


# --- creation and validation ---------------------------------------------------------------


def test_it_creates_an_unconfirmed_email_subscriber_with_a_fresh_token(
    session: Session, page: Page
) -> None:
    created = _subscribe(session, page, email="  Ann@Example.COM ")
    session.commit()

    row = created.subscriber
    assert (row.mode, row.email, row.state) == (
        SubscriberMode.EMAIL,
        "ann@example.com",
        SubscriberState.UNCONFIRMED,
    )
    assert created.token is not None and len(created.token) >= 43
    assert row.token_hash == subscribers.digest(created.token)
    assert created.token not in row.token_hash
    assert row.confirmation_requested_at is not None and row.confirmed_at is None
    assert row.all_components is True and row.components == []


def test_skipping_confirmation_makes_the_subscriber_active_at_once(
    session: Session, page: Page
) -> None:
    row = _active(session, page, email="ann@example.com")
    assert row.state is SubscriberState.ACTIVE
    assert row.skip_confirmation is True and row.confirmation_requested_at is None


@pytest.mark.parametrize(
    ("fields", "mode", "address"),
    [
        ({"endpoint": "https://hooks.example.com/x"}, "webhook", "https://hooks.example.com/x"),
        (
            {"endpoint": "https://hooks.example.com/x", "email": "ops@example.com"},
            "webhook",
            "https://hooks.example.com/x",
        ),
        ({"endpoint": "https://hooks.slack.com/T/B/x", "type": "slack"}, "slack", None),
        ({"endpoint": "https://discord.com/api/webhooks/1/x", "mode": "discord"}, "discord", None),
        ({"phone_number": "(202) 555-0105", "phone_country": "us"}, "sms", "+12025550105"),
        ({"phone_number": "+44 20 7183 8750"}, "sms", "+442071838750"),
        ({"phone_number": "030 1234567", "phone_country": "DE"}, "sms", "+49301234567"),
        ({"phone_number": "06 1234 5678", "phone_country": "IT"}, "sms", "+390612345678"),
        ({"phone_number": "0044 20 7183 8750"}, "sms", "+442071838750"),
        ({"email": "ann@exämple.com"}, "email", "ann@xn--exmple-cua.com"),
    ],
)
def test_it_infers_the_mode_from_the_address(
    session: Session, page: Page, fields: dict[str, Any], mode: str, address: str | None
) -> None:
    row = _subscribe(session, page, **fields).subscriber
    assert row.mode == mode
    if address is not None:
        assert row.address == address


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"email": "not-an-address"},
        {"email": "a@x.com>\r\nRCPT TO:<b@y.com>"},
        {"email": "a..b@example.com"},
        {"email": "ann@localhost"},
        {"email": "ann@example.123"},
        {"email": "a" * 65 + "@example.com"},
        {"email": "ann@" + "d" * 250 + ".com"},
        {"email": "ann@example.com", "endpoint": "https://x.example", "mode": "email"},
        {"email": "ann@example.com", "phone_number": "+12025550105"},
        {"endpoint": "ftp://files.example.com/x"},
        {"endpoint": "javascript:alert(1)"},
        {"endpoint": "https:///no-host"},
        {"endpoint": "https://exa mple.com/"},
        {"endpoint": "https://example.com:99999/"},
        {"mode": "slack", "email": "ann@example.com"},
        {"mode": "sms", "email": "ann@example.com"},
        {"phone_number": "+1 202", "phone_country": "US"},
        {"phone_number": "555 0105"},
        {"phone_number": "2025550105", "phone_country": "ZZ"},
        {"phone_number": "+12025550105", "phone_country": "U1"},
        {"phone_number": "+1 202 555 01x5"},
        {"email": "ann@example.com", "component_ids": []},
        {"email": "ann@example.com", "surprise": True},
    ],
)
def test_it_refuses_invalid_subscriptions(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        SubscriberCreate.model_validate(fields)


def test_it_formats_phone_numbers_for_display() -> None:
    assert display_phone("+12025550105", "US") == "+1 (202) 555-0105"
    assert display_phone("+442071838750", "GB") == "+44 2071838750"
    assert display_phone("+442071838750", None) == "+442071838750"


def test_it_accepts_components_and_groups_of_the_page(session: Session, page: Page) -> None:
    api = component(session, page, "API")
    core = group(session, page, "Core", [component(session, page, "Web")])
    row = _active(session, page, email="ann@example.com", component_ids=[core.id, api.id, api.id])
    assert sorted(link.component_id for link in row.components) == sorted([core.id, api.id])
    assert row.all_components is False


def test_it_refuses_components_of_another_page(session: Session, page: Page) -> None:
    foreign = component(session, _other_page(session), "Theirs")
    with pytest.raises(NotFound):
        _subscribe(session, page, email="ann@example.com", component_ids=[foreign.id])
    with pytest.raises(NotFound):
        _subscribe(session, page, email="ann@example.com", component_ids=["nosuchthing1"])


# --- duplicates ----------------------------------------------------------------------------


def test_subscribing_again_returns_the_existing_subscription_without_its_token(
    session: Session, page: Page
) -> None:
    api = component(session, page, "API")
    first = _subscribe(session, page, email="ann@example.com")
    again = _subscribe(session, page, email="ANN@example.com", component_ids=[api.id])
    session.commit()

    assert again.subscriber.id == first.subscriber.id
    assert again.token is None
    assert again.subscriber.token_hash == subscribers.digest(first.token or "")
    assert again.subscriber.all_components is True
    assert session.scalar(select(func.count()).select_from(Subscriber)) == 1


def test_an_unsubscribed_address_can_subscribe_again_and_must_confirm_again(
    session: Session, page: Page
) -> None:
    first = _active(session, page, email="ann@example.com")
    subscribers.unsubscribe(session, subscriber=first, actor=CLI)
    old_hash = first.token_hash

    again = _subscribe(session, page, email="ann@example.com")
    assert again.subscriber.id == first.id
    assert again.token is not None and again.subscriber.token_hash != old_hash
    assert again.subscriber.state is SubscriberState.UNCONFIRMED
    assert again.subscriber.unsubscribed_at is None and again.subscriber.purge_at is None


def test_the_same_address_may_follow_other_pages_incidents_and_modes(
    session: Session, page: Page
) -> None:
    incident = _incident(session, page)
    rows = [
        _subscribe(session, page, email="ann@example.com").subscriber,
        _subscribe(session, _other_page(session), email="ann@example.com").subscriber,
        _subscribe(session, page, incident, email="ann@example.com").subscriber,
        _subscribe(
            session, page, endpoint="https://x.example/hook", email="ann@example.com"
        ).subscriber,
    ]
    assert len({row.id for row in rows}) == 4


def test_a_resolved_incident_takes_no_new_subscribers(session: Session, page: Page) -> None:
    incident = _incident(session, page)
    incidents.post_update(
        session,
        incident=incident,
        data=UpdateCreate(status=IncidentStatus.RESOLVED, body="Fixed."),
        actor=CLI,
        now=T0 + timedelta(hours=1),
    )
    with pytest.raises(Invalid, match="unresolved"):
        _subscribe(session, page, incident, email="ann@example.com")


# --- changes -------------------------------------------------------------------------------


def test_it_changes_components_and_back_to_the_whole_page(session: Session, page: Page) -> None:
    api = component(session, page, "API")
    row = _active(session, page, email="ann@example.com")

    subscribers.update_components(session, subscriber=row, component_ids=[api.id], actor=CLI)
    assert [link.component_id for link in row.components] == [api.id]
    assert row.all_components is False

    subscribers.update_components(session, subscriber=row, component_ids=None, actor=CLI)
    assert row.components == [] and row.all_components is True


def test_an_incident_subscriber_has_no_components(session: Session, page: Page) -> None:
    row = _active(session, page, email="ann@example.com")
    row.incident_id = _incident(session, page).id
    with pytest.raises(Invalid):
        subscribers.update_components(session, subscriber=row, component_ids=None, actor=CLI)


def test_unsubscribing_keeps_the_row_until_purge_and_is_idempotent(
    session: Session, page: Page
) -> None:
    row = _active(session, page, email="ann@example.com")
    subscribers.unsubscribe(session, subscriber=row, actor=CLI, now=T0)
    subscribers.unsubscribe(session, subscriber=row, actor=CLI, now=T0 + timedelta(days=1))
    assert row.state is SubscriberState.UNSUBSCRIBED
    assert row.unsubscribed_at == T0
    assert row.purge_at == T0 + subscribers.PURGE_AFTER


def test_resending_a_confirmation_needs_an_unconfirmed_subscriber(
    session: Session, page: Page
) -> None:
    pending = _subscribe(session, page, email="ann@example.com").subscriber
    subscribers.resend_confirmation(session, subscriber=pending, actor=CLI, now=T0 + timedelta(1))
    assert pending.confirmation_requested_at == T0 + timedelta(1)

    with pytest.raises(Invalid, match="active"):
        subscribers.resend_confirmation(
            session, subscriber=_active(session, page, email="bo@example.com"), actor=CLI
        )


def test_get_subscriber_keeps_page_and_incident_subscribers_apart(
    session: Session, page: Page
) -> None:
    incident = _incident(session, page)
    page_sub = _active(session, page, email="ann@example.com")
    incident_sub = _subscribe(session, page, incident, email="ann@example.com").subscriber

    assert subscribers.get_subscriber(session, page_id=page.id, subscriber_id=page_sub.id)
    with pytest.raises(NotFound):
        subscribers.get_subscriber(session, page_id=page.id, subscriber_id=incident_sub.id)
    with pytest.raises(NotFound):
        subscribers.get_subscriber(
            session, page_id=page.id, subscriber_id=page_sub.id, incident_id=incident.id
        )
    with pytest.raises(NotFound):
        subscribers.get_subscriber(
            session, page_id=_other_page(session).id, subscriber_id=page_sub.id
        )


# --- listing and counting ------------------------------------------------------------------


@pytest.fixture
def mixed(session: Session, page: Page) -> dict[str, Subscriber]:
    """One subscriber in each state, plus an active webhook and an SMS subscriber."""
    rows = {
        "active": _active(session, page, email="carol@example.com"),
        "unconfirmed": _subscribe(session, page, email="alan@example.com").subscriber,
        "quarantined": _active(session, page, email="bea@example.com"),
        "unsubscribed": _active(session, page, email="dan@example.com"),
        "webhook": _active(session, page, endpoint="https://hooks.example.com/tocsin"),
        "sms": _active(session, page, phone_number="+12025550105"),
    }
    subscribers.quarantine(session, subscriber=rows["quarantined"], reason="bounced")
    subscribers.unsubscribe(session, subscriber=rows["unsubscribed"], actor=CLI)
    _active(session, _other_page(session), email="zed@example.com")
    session.commit()
    return rows


def _list(session: Session, page: Page, **fields: Any) -> list[Subscriber]:
    return subscribers.list_subscribers(
        session, page_id=page.id, listing=SubscriberListing.model_validate(fields)
    )


def test_it_lists_active_subscribers_by_address_by_default(
    session: Session, page: Page, mixed: dict[str, Subscriber]
) -> None:
    rows = _list(session, page)
    assert [row.address for row in rows] == [
        "+12025550105",
        "carol@example.com",
        "https://hooks.example.com/tocsin",
    ]


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("unconfirmed", ["alan@example.com"]),
        ("quarantined", ["bea@example.com"]),
        ("unsubscribed", ["dan@example.com"]),
    ],
)
def test_it_filters_by_state(
    session: Session, page: Page, mixed: dict[str, Subscriber], state: str, expected: list[str]
) -> None:
    assert _emails(_list(session, page, state=state)) == expected


def test_all_states_leave_out_the_unsubscribed(
    session: Session, page: Page, mixed: dict[str, Subscriber]
) -> None:
    assert len(_list(session, page, state="all")) == 5


def test_it_filters_by_mode_and_search(
    session: Session, page: Page, mixed: dict[str, Subscriber]
) -> None:
    assert [r.mode for r in _list(session, page, mode="webhook")] == [SubscriberMode.WEBHOOK]
    assert _list(session, page, mode="integration_partner") == []
    assert _emails(_list(session, page, q="CAROL")) == ["carol@example.com"]
    assert len(_list(session, page, q="hooks.example")) == 1
    assert len(_list(session, page, q="+1202")) == 1
    assert _list(session, page, q="%") == []


def test_it_pages_and_sorts(session: Session, page: Page, mixed: dict[str, Subscriber]) -> None:
    all_rows = _list(session, page, state="all", sort_field="created_at")
    assert len(all_rows) == 5
    assert _list(session, page, state="all", sort_field="created_at", limit=2, offset=4) == [
        all_rows[4]
    ]
    newest_first = _list(session, page, state="all", sort_field="created_at", sort_direction="desc")
    assert [r.id for r in newest_first] == [r.id for r in reversed(all_rows)]
    quarantined_first = _list(session, page, state="all", sort_field="quarantined_at")
    assert quarantined_first[0].email == "bea@example.com"


def test_relevance_puts_exact_and_prefix_matches_first(session: Session, page: Page) -> None:
    for email in ("x-ann@example.com", "ann@example.com", "ann@example.com.au"):
        _active(session, page, email=email)
    rows = _list(session, page, q="ann@example.com", sort_field="relevance")
    assert _emails(rows) == ["ann@example.com", "ann@example.com.au", "x-ann@example.com"]


def test_it_counts_by_mode_and_state(
    session: Session, page: Page, mixed: dict[str, Subscriber]
) -> None:
    counts = subscribers.count_by_mode(session, page_id=page.id)
    assert counts == {
        "email": 1,
        "sms": 1,
        "webhook": 1,
        "integration_partner": 0,
        "slack": 0,
        "teams": 0,
        "discord": 0,
    }
    assert subscribers.count_by_mode(session, page_id=page.id, state="all")["email"] == 3
    assert subscribers.count_by_mode(session, page_id=page.id, mode="sms")["email"] == 0

    histogram = subscribers.count_by_mode_and_state(session, page_id=page.id)
    assert histogram["email"] == {"active": 1, "unconfirmed": 1, "quarantined": 1, "total": 3}
    assert histogram["sms"]["total"] == 1
    assert histogram["slack"] == {"active": 0, "unconfirmed": 0, "quarantined": 0, "total": 0}


# --- bulk actions --------------------------------------------------------------------------


def test_bulk_unsubscribe_changes_only_the_selected_page_subscribers(
    session: Session, page: Page, mixed: dict[str, Subscriber]
) -> None:
    changed = subscribers.bulk_unsubscribe(
        session, page_id=page.id, action=BulkAction(subscribers="all", type="email"), actor=CLI
    )
    assert changed == 3
    assert [r.mode for r in _list(session, page, state="all")] == [
        SubscriberMode.SMS,
        SubscriberMode.WEBHOOK,
    ]
    others = session.scalars(select(Subscriber).where(Subscriber.page_id != page.id))
    assert [row.state for row in others] == [SubscriberState.ACTIVE]


def test_bulk_reactivate_lifts_quarantine_but_not_an_unsubscription(
    session: Session, page: Page, mixed: dict[str, Subscriber]
) -> None:
    ids = [mixed["quarantined"].id, mixed["unsubscribed"].id]
    changed = subscribers.bulk_reactivate(
        session, page_id=page.id, action=BulkAction(subscribers=ids), actor=CLI
    )
    assert changed == 1
    assert mixed["quarantined"].state is SubscriberState.ACTIVE
    assert mixed["quarantined"].disabled_reason is None
    assert mixed["unsubscribed"].state is SubscriberState.UNSUBSCRIBED


def test_bulk_resend_touches_unconfirmed_subscribers_only(
    session: Session, page: Page, mixed: dict[str, Subscriber]
) -> None:
    changed = subscribers.bulk_resend_confirmation(
        session, page_id=page.id, action=BulkAction(subscribers="all"), actor=CLI, now=T0
    )
    assert changed == 1
    assert mixed["unconfirmed"].confirmation_requested_at == T0


def test_bulk_actions_refuse_unknown_or_foreign_ids(
    session: Session, page: Page, mixed: dict[str, Subscriber]
) -> None:
    foreign = session.scalars(select(Subscriber).where(Subscriber.page_id != page.id)).one()
    for ids in (["nosuchthing1"], [mixed["active"].id, foreign.id]):
        with pytest.raises(NotFound):
            subscribers.bulk_unsubscribe(
                session, page_id=page.id, action=BulkAction(subscribers=ids), actor=CLI
            )
    assert foreign.state is SubscriberState.ACTIVE


# --- who to notify -------------------------------------------------------------------------


def _notified(session: Session, page: Page, ids: list[str], **kw: Any) -> set[str | None]:
    found = subscribers.subscribers_for(session, page_id=page.id, component_ids=ids, **kw)
    return {row.email for row in found}


def test_subscribers_for_follows_pages_components_and_groups(session: Session, page: Page) -> None:
    api = component(session, page, "API")
    web = component(session, page, "Web")
    core = group(session, page, "Core", [web])
    cdn = component(session, page, "CDN")
    _active(session, page, email="page@example.com")
    _active(session, page, email="api@example.com", component_ids=[api.id])
    _active(session, page, email="core@example.com", component_ids=[core.id])
    _active(session, page, email="cdn@example.com", component_ids=[cdn.id, api.id])
    session.commit()

    assert _notified(session, page, [api.id]) == {
        "page@example.com",
        "api@example.com",
        "cdn@example.com",
    }
    assert _notified(session, page, [web.id]) == {"page@example.com", "core@example.com"}
    assert _notified(session, page, []) == {
        "page@example.com",
        "api@example.com",
        "core@example.com",
        "cdn@example.com",
    }


def test_subscribers_for_leaves_out_inactive_and_other_pages(
    session: Session, page: Page, mixed: dict[str, Subscriber]
) -> None:
    found = list(subscribers.subscribers_for(session, page_id=page.id, component_ids=[]))
    assert {row.id for row in found} == {
        mixed["active"].id,
        mixed["webhook"].id,
        mixed["sms"].id,
    }


def test_subscribers_for_adds_the_incidents_own_subscribers(session: Session, page: Page) -> None:
    api = component(session, page, "API")
    incident = _incident(session, page)
    other = _incident(session, page)
    _subscribe(
        session, page, incident, email="follower@example.com", skip_confirmation_notification=True
    )
    _subscribe(
        session, page, other, email="elsewhere@example.com", skip_confirmation_notification=True
    )
    _subscribe(session, page, incident, email="pending@example.com")
    session.commit()

    assert _notified(session, page, [api.id]) == set()
    assert _notified(session, page, [api.id], incident_id=incident.id) == {"follower@example.com"}


def test_someone_on_the_page_and_the_incident_hears_of_it_once(
    session: Session, page: Page
) -> None:
    api = component(session, page, "API")
    web = component(session, page, "Web")
    incident = _incident(session, page)
    _active(session, page, email="both@example.com")
    _active(session, page, email="web-only@example.com", component_ids=[web.id])
    for email in ("both@example.com", "web-only@example.com"):
        _subscribe(session, page, incident, email=email, skip_confirmation_notification=True)
    session.commit()

    found = list(
        subscribers.subscribers_for(
            session, page_id=page.id, component_ids=[api.id], incident_id=incident.id
        )
    )

    # One row each: the page subscription for the first; for the second, whose page
    # subscription does not cover API, the incident subscription.
    assert sorted((row.email, row.incident_id) for row in found) == [
        ("both@example.com", None),
        ("web-only@example.com", incident.id),
    ]


def test_deleting_a_subscribers_last_component_does_not_widen_the_subscription(
    session: Session, page: Page
) -> None:
    api = component(session, page, "API")
    web = component(session, page, "Web")
    _active(session, page, email="api@example.com", component_ids=[api.id])
    session.commit()
    components.delete_component(session, component=api, actor=CLI)
    session.commit()

    assert _notified(session, page, [web.id]) == set()
