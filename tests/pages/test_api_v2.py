from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import jsonschema_rs
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from conftest import V2_PATHS
from factories import T0, component, group
from tocsin.audit.service import CLI
from tocsin.components.models import Component
from tocsin.components.status import ComponentStatus
from tocsin.incidents import service as incidents
from tocsin.incidents.models import Incident
from tocsin.incidents.schemas import IncidentCreate, MaintenanceCreate, UpdateCreate
from tocsin.incidents.status import IncidentStatus
from tocsin.pages import service as pages
from tocsin.pages.models import Page
from tocsin.pages.schemas import PageUpdate

# statuspage-api.md §1.4, summary.json (Instructure capture); the incident's
# `components`, elided in the spec, hold the child component object.
SPEC_SUMMARY = json.loads("""
{
  "page": {"id": "nlxv32btr6v7", "name": "Instructure", "url": "https://status.instructure.com",
           "time_zone": "America/Denver", "updated_at": "2021-12-07T11:07:15.773-07:00"},
  "components": [
    {"id": "41wg86q5vc14", "name": "Canvas", "status": "degraded_performance",
     "created_at": "2019-06-26T12:17:56.590-06:00", "updated_at": "2019-06-26T12:21:21.049-06:00",
     "position": 1, "description": null, "showcase": false, "start_date": null,
     "group_id": null, "page_id": "nlxv32btr6v7", "group": true, "only_show_if_degraded": false,
     "components": ["9dlvqx1drp3d", "jw0fn0dnpcgn"]},
    {"id": "9dlvqx1drp3d", "name": "Canvas", "status": "degraded_performance",
     "created_at": "2014-08-06T17:48:56.368-06:00", "updated_at": "2021-12-07T09:06:59.160-07:00",
     "position": 1, "description": "Overall system performance", "showcase": false,
     "start_date": null, "group_id": "41wg86q5vc14", "page_id": "nlxv32btr6v7", "group": false,
     "only_show_if_degraded": false}
  ],
  "incidents": [
    {"id": "g1zp3jpycgbz", "name": "AWS outage affecting some Canvas users", "status": "identified",
     "created_at": "2021-12-07T09:06:43.178-07:00", "updated_at": "2021-12-07T11:07:15.765-07:00",
     "monitoring_at": null, "resolved_at": null, "impact": "minor",
     "shortlink": "https://stspg.io/0vf16sb2j8xn", "started_at": "2021-12-07T09:06:43.172-07:00",
     "page_id": "nlxv32btr6v7",
     "incident_updates": [
       {"id": "bkwp1fjx0sxj", "status": "identified",
        "body": "We are actively working towards recovery.",
        "incident_id": "g1zp3jpycgbz", "created_at": "2021-12-07T10:39:58.550-07:00",
        "updated_at": "2021-12-07T11:07:15.760-07:00",
        "display_at": "2021-12-07T10:39:58.000-07:00",
        "affected_components": [{"code": "9dlvqx1drp3d", "name": "Canvas - Canvas",
                                 "old_status": "degraded_performance",
                                 "new_status": "degraded_performance"}],
        "deliver_notifications": true, "custom_tweet": null, "tweet_id": null}
     ],
     "components": [
       {"id": "9dlvqx1drp3d", "name": "Canvas", "status": "degraded_performance",
        "created_at": "2014-08-06T17:48:56.368-06:00",
        "updated_at": "2021-12-07T09:06:59.160-07:00",
        "position": 1, "description": "Overall system performance", "showcase": false,
        "start_date": null, "group_id": "41wg86q5vc14", "page_id": "nlxv32btr6v7",
        "group": false, "only_show_if_degraded": false}
     ]}
  ],
  "scheduled_maintenances": [],
  "status": {"indicator": "minor", "description": "Partially Degraded Service"}
}
""")

# statuspage-api.md §1.4, scheduled-maintenances.json (Discord capture), with
# the elided older updates left out.
SPEC_MAINTENANCE = json.loads("""
{"id": "chkt3cr0jf7b", "name": "Server Juice", "status": "completed",
 "created_at": "2015-09-18T18:20:40.535-07:00", "updated_at": "2015-09-22T02:25:20.086-07:00",
 "monitoring_at": "2015-09-22T01:07:50.805-07:00", "resolved_at": "2015-09-22T02:25:20.034-07:00",
 "impact": "major", "shortlink": "http://stspg.io/1UdW",
 "started_at": "2015-09-18T18:20:00.000-07:00",
 "page_id": "srhpyqt94yxb",
 "incident_updates": [
   {"id": "m4nqbp4s5jxj", "status": "completed", "body": "Everything seems to be working!",
    "incident_id": "chkt3cr0jf7b", "created_at": "2015-09-22T02:25:20.034-07:00",
    "updated_at": "2015-09-22T02:25:20.034-07:00", "display_at": "2015-09-22T02:25:20.034-07:00",
    "affected_components": null, "deliver_notifications": true, "custom_tweet": null,
    "tweet_id": null}
 ],
 "components": [],
 "scheduled_for": "2015-09-22T01:00:00.000-07:00",
 "scheduled_until": "2015-09-22T01:30:00.000-07:00"}
""")

SPEC_GROUP, SPEC_CHILD = SPEC_SUMMARY["components"]
SPEC_INCIDENT = SPEC_SUMMARY["incidents"][0]
SPEC_UPDATE = SPEC_INCIDENT["incident_updates"][0]
SPEC_AFFECTED = SPEC_UPDATE["affected_components"][0]


DEGRADED = ComponentStatus.DEGRADED_PERFORMANCE
PARTIAL = ComponentStatus.PARTIAL_OUTAGE
MAJOR = ComponentStatus.MAJOR_OUTAGE
OPERATIONAL = ComponentStatus.OPERATIONAL
MAINTENANCE = ComponentStatus.UNDER_MAINTENANCE


def keys(obj: dict[str, Any]) -> list[str]:
    return list(obj)


def get(client: TestClient, path: str, **headers: str) -> Any:
    response = client.get(path, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def open_incident(
    session: Session, page: Page, name: str, components: dict[str, ComponentStatus] | None = None
) -> Incident:
    return incidents.create_incident(
        session,
        page=page,
        data=IncidentCreate(name=name, components=components or {}),
        actor=CLI,
        now=T0,
    )


def past_incident(session: Session, page: Page, name: str, started_at: datetime) -> Incident:
    return incidents.create_incident(
        session,
        page=page,
        data=IncidentCreate(name=name, backfilled=True, started_at=started_at),
        actor=CLI,
        now=T0,
    )


def maintenance(
    session: Session, page: Page, name: str, start: datetime, component_ids: Sequence[str] = ()
) -> Incident:
    return incidents.schedule_maintenance(
        session,
        page=page,
        data=MaintenanceCreate(
            name=name,
            scheduled_for=start,
            scheduled_until=start + timedelta(hours=2),
            component_ids=list(component_ids),
        ),
        actor=CLI,
        now=T0,
    )


def payments(session: Session, page: Page) -> tuple[Component, Component, Component]:
    """The Payments group (Payments API, Webhooks) and a top-level Website."""
    api = component(session, page, "Payments API")
    hooks = component(session, page, "Webhooks")
    payments_group = group(session, page, "Payments", [api, hooks])
    component(session, page, "Website")
    return api, hooks, payments_group


def test_summary_has_the_spec_keys_in_the_spec_order(
    client: TestClient, session: Session, page: Page
) -> None:
    api, _, payments_group = payments(session, page)
    incident = open_incident(session, page, "Payments API errors", {api.id: DEGRADED})
    incidents.post_update(
        session,
        incident=incident,
        data=UpdateCreate(status=IncidentStatus.IDENTIFIED, body="Found it."),
        actor=CLI,
        now=T0 + timedelta(minutes=5),
    )
    maintenance(session, page, "Database upgrade", datetime.now(UTC) + timedelta(days=1))
    session.commit()

    body = get(client, "/api/v2/summary.json")

    assert keys(body) == keys(SPEC_SUMMARY)
    assert keys(body["page"]) == keys(SPEC_SUMMARY["page"])
    assert keys(body["status"]) == keys(SPEC_SUMMARY["status"])
    rows = {row["id"]: row for row in body["components"]}
    assert keys(rows[payments_group.id]) == keys(SPEC_GROUP)
    assert keys(rows[api.id]) == keys(SPEC_CHILD)
    [shown] = body["incidents"]
    assert keys(shown) == keys(SPEC_INCIDENT)
    assert [keys(c) for c in shown["components"]] == [keys(SPEC_CHILD)]
    latest, first = shown["incident_updates"]
    assert keys(latest) == keys(first) == keys(SPEC_UPDATE)
    assert keys(first["affected_components"][0]) == keys(SPEC_AFFECTED)
    [planned] = body["scheduled_maintenances"]
    assert keys(planned) == keys(SPEC_MAINTENANCE)
    assert keys(planned["incident_updates"][0]) == keys(SPEC_MAINTENANCE["incident_updates"][0])


def test_incidents_carry_their_updates_newest_first_and_their_components(
    client: TestClient, session: Session, page: Page
) -> None:
    api, hooks, _ = payments(session, page)
    incident = open_incident(session, page, "Payments API errors", {api.id: PARTIAL})
    incidents.post_update(
        session,
        incident=incident,
        data=UpdateCreate(status=IncidentStatus.MONITORING, body="Fixed; watching."),
        actor=CLI,
        now=T0 + timedelta(minutes=30),
    )
    session.commit()

    [shown] = get(client, "/api/v2/incidents/unresolved.json")["incidents"]

    assert shown["status"] == "monitoring"
    assert shown["impact"] == "major"
    assert shown["monitoring_at"] == "2026-03-02T15:42:00.000Z"
    assert shown["resolved_at"] is None
    assert shown["shortlink"] == f"http://testserver/incidents/{incident.id}"
    assert [u["status"] for u in shown["incident_updates"]] == ["monitoring", "investigating"]
    assert shown["incident_updates"][0]["body"] == "Fixed; watching."
    assert all(u["incident_id"] == incident.id for u in shown["incident_updates"])
    assert shown["incident_updates"][0]["affected_components"] is None
    assert shown["incident_updates"][1]["affected_components"] == [
        {
            "code": api.id,
            "name": "Payments - Payments API",
            "old_status": "operational",
            "new_status": "partial_outage",
        }
    ]
    assert [c["id"] for c in shown["components"]] == [api.id]
    assert shown["components"][0]["status"] == "partial_outage"
    assert hooks.id not in json.dumps(shown)


def test_groups_are_rows_in_one_flat_component_list(
    client: TestClient, session: Session, page: Page
) -> None:
    api, hooks, payments_group = payments(session, page)
    hidden = component(session, page, "Legacy", only_show_if_degraded=True)
    open_incident(session, page, "Webhooks slow", {hooks.id: DEGRADED})
    session.commit()

    rows = get(client, "/api/v2/components.json")["components"]

    by_id = {row["id"]: row for row in rows}
    assert len(rows) == 5
    assert by_id[payments_group.id]["group"] is True
    assert by_id[payments_group.id]["group_id"] is None
    assert by_id[payments_group.id]["components"] == [api.id, hooks.id]
    assert by_id[payments_group.id]["status"] == "degraded_performance"
    for child in (api, hooks):
        assert by_id[child.id]["group_id"] == payments_group.id
        assert by_id[child.id]["group"] is False
        assert "components" not in by_id[child.id]
    assert by_id[hidden.id]["only_show_if_degraded"] is True
    positions = [(row["position"], row["created_at"]) for row in rows]
    assert positions == sorted(positions)
    assert {row["page_id"] for row in rows} == {page.id}


@pytest.mark.parametrize(
    ("statuses", "indicator", "description"),
    [
        ([], "none", "All Systems Operational"),
        ([DEGRADED], "minor", "Partially Degraded Service"),
        ([DEGRADED, DEGRADED], "minor", "Degraded System Service"),
        ([DEGRADED, OPERATIONAL], "minor", "Partially Degraded Service"),
        ([PARTIAL, OPERATIONAL], "minor", "Minor Service Outage"),
        ([PARTIAL, PARTIAL], "major", "Partial System Outage"),
        ([MAJOR, OPERATIONAL], "major", "Partial System Outage"),
        ([MAJOR, MAJOR], "critical", "Major System Outage"),
        ([MAINTENANCE, OPERATIONAL], "maintenance", "Service Under Maintenance"),
    ],
)
def test_the_status_indicator_follows_the_statuspage_rule(
    client: TestClient,
    session: Session,
    page: Page,
    statuses: list[ComponentStatus],
    indicator: str,
    description: str,
) -> None:
    members = [
        component(session, page, f"Component {n}", status=status)
        for n, status in enumerate(statuses)
    ]
    if members:
        # A group row is not a component of its own: it must not change the rollup.
        group(session, page, "Everything", members)
    session.commit()

    expected = {"indicator": indicator, "description": description}
    assert get(client, "/api/v2/status.json")["status"] == expected
    assert get(client, "/api/v2/summary.json")["status"] == expected


def test_summary_lists_only_unresolved_incidents_and_maintenance_not_completed(
    client: TestClient, session: Session, page: Page
) -> None:
    now = datetime.now(UTC)
    past_incident(session, page, "Old outage", T0 - timedelta(days=3))
    current = open_incident(session, page, "Current outage")
    done = maintenance(session, page, "Done", now - timedelta(days=2))
    incidents.start_maintenance(session, maintenance=done, actor=CLI)
    incidents.complete_maintenance(session, maintenance=done, actor=CLI)
    running = maintenance(session, page, "Running", now - timedelta(hours=1))
    incidents.start_maintenance(session, maintenance=running, actor=CLI)
    planned = maintenance(session, page, "Planned", now + timedelta(days=1))
    session.commit()

    summary = get(client, "/api/v2/summary.json")

    assert [i["id"] for i in summary["incidents"]] == [current.id]
    listed = {m["id"]: m["status"] for m in summary["scheduled_maintenances"]}
    assert listed == {running.id: "in_progress", planned.id: "scheduled"}
    upcoming = get(client, "/api/v2/scheduled-maintenances/upcoming.json")
    assert [m["id"] for m in upcoming["scheduled_maintenances"]] == [planned.id]
    active = get(client, "/api/v2/scheduled-maintenances/active.json")
    assert [m["id"] for m in active["scheduled_maintenances"]] == [running.id]
    everything = get(client, "/api/v2/scheduled-maintenances.json")["scheduled_maintenances"]
    assert {m["id"] for m in everything} == {done.id, running.id, planned.id}


def test_maintenances_carry_their_window_and_no_affected_components(
    client: TestClient, session: Session, page: Page
) -> None:
    db = component(session, page, "Database")
    start = T0 + timedelta(days=1)
    planned = maintenance(session, page, "Database upgrade", start, [db.id])
    incidents.start_maintenance(session, maintenance=planned, actor=CLI, now=start)
    incidents.complete_maintenance(
        session, maintenance=planned, actor=CLI, now=start + timedelta(hours=1)
    )
    session.commit()

    [shown] = get(client, "/api/v2/scheduled-maintenances.json")["scheduled_maintenances"]

    assert keys(shown) == keys(SPEC_MAINTENANCE)
    assert shown["status"] == "completed"
    assert shown["impact"] == "maintenance"
    assert shown["scheduled_for"] == "2026-03-03T15:12:00.000Z"
    assert shown["scheduled_until"] == "2026-03-03T17:12:00.000Z"
    assert shown["resolved_at"] == "2026-03-03T16:12:00.000Z"
    assert [u["status"] for u in shown["incident_updates"]] == [
        "completed",
        "in_progress",
        "scheduled",
    ]
    assert all(u["affected_components"] is None for u in shown["incident_updates"])
    assert [c["id"] for c in shown["components"]] == [db.id]
    assert get(client, "/api/v2/incidents.json")["incidents"] == []


def test_incident_lists_split_open_and_closed_and_include_backfilled_ones(
    client: TestClient, session: Session, page: Page
) -> None:
    old = past_incident(session, page, "Backfilled outage", T0 - timedelta(days=30))
    current = open_incident(session, page, "Current outage")
    maintenance(session, page, "Planned", T0 + timedelta(days=1))
    session.commit()

    def ids(path: str) -> list[str]:
        return [i["id"] for i in get(client, path)["incidents"]]

    assert ids("/api/v2/incidents.json") == [current.id, old.id]
    assert ids("/api/v2/incidents/unresolved.json") == [current.id]
    assert ids("/api/v2/incidents/resolved.json") == [old.id]


def test_incident_lists_stop_at_the_fifty_most_recent(
    client: TestClient, session: Session, page: Page
) -> None:
    for n in range(51):
        past_incident(session, page, f"Outage {n}", T0 - timedelta(days=60 - n))
        maintenance(session, page, f"Window {n}", T0 - timedelta(days=60 - n))
    session.commit()

    listed = get(client, "/api/v2/incidents.json")["incidents"]
    assert [i["name"] for i in listed] == [f"Outage {n}" for n in range(50, 0, -1)]
    resolved = get(client, "/api/v2/incidents/resolved.json")["incidents"]
    assert len(resolved) == 50
    windows = get(client, "/api/v2/scheduled-maintenances.json")["scheduled_maintenances"]
    assert [m["name"] for m in windows] == [f"Window {n}" for n in range(50, 0, -1)]


def test_timestamps_are_in_the_page_time_zone_with_milliseconds(
    client: TestClient, session: Session, page: Page
) -> None:
    pages.update_page(session, page=page, data=PageUpdate(time_zone="America/Tijuana"), actor=CLI)
    open_incident(session, page, "Outage")
    session.commit()

    body = get(client, "/api/v2/incidents.json")

    assert body["page"]["time_zone"] == "America/Tijuana"
    assert body["page"]["updated_at"].endswith(("-08:00", "-07:00"))
    assert body["incidents"][0]["created_at"] == "2026-03-02T07:12:00.000-08:00"


def test_the_host_header_selects_the_page(client: TestClient, session: Session, page: Page) -> None:
    other = Page(name="Other Corp", domain="status.other.example")
    session.add(other)
    session.flush()
    open_incident(session, other, "Other outage")
    session.commit()

    mine = get(client, "/api/v2/incidents.json")
    theirs = get(client, "/api/v2/incidents.json", host="status.other.example")
    with_port = get(client, "/api/v2/status.json", host="STATUS.other.example:8443")
    unknown = get(client, "/api/v2/status.json", host="nobody.example")

    assert (mine["page"]["id"], mine["incidents"]) == (page.id, [])
    assert theirs["page"]["id"] == other.id
    assert [i["name"] for i in theirs["incidents"]] == ["Other outage"]
    assert with_port["page"]["id"] == other.id
    assert unknown["page"]["id"] == page.id


@pytest.mark.parametrize("path", V2_PATHS)
def test_every_endpoint_is_cacheable_json_open_to_other_origins(
    client: TestClient, page: Page, path: str
) -> None:
    response = client.get(path, params={"callback": "x", "limit": "3"})

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["cache-control"] == (
        "public, max-age=10, stale-while-revalidate=30, stale-if-error=86400"
    )
    assert response.json()["page"]["id"] == page.id


def test_names_are_sent_as_utf8_text(client: TestClient, session: Session, page: Page) -> None:
    component(session, page, "Zürich <edge>")
    session.commit()

    response = client.get("/api/v2/components.json")

    assert "Zürich <edge>".encode() in response.content
    assert response.json()["components"][0]["name"] == "Zürich <edge>"


def test_a_matching_etag_gets_304_and_a_change_a_new_etag(
    client: TestClient, session: Session, page: Page
) -> None:
    first = client.get("/api/v2/summary.json")
    etag = first.headers["etag"]
    assert etag.startswith('"')

    again = client.get("/api/v2/summary.json", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    assert again.headers["access-control-allow-origin"] == "*"
    weak = client.get("/api/v2/summary.json", headers={"If-None-Match": f'"x", W/{etag}'})
    assert weak.status_code == 304

    component(session, page, "API", status=DEGRADED)
    session.commit()
    changed = client.get("/api/v2/summary.json", headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag


@pytest.mark.parametrize("path", ["/api/v2/subscribers.json", "/api/v2/summary.json"])
def test_it_answers_cors_preflights(client: TestClient, path: str) -> None:
    response = client.options(
        path,
        headers={
            "Origin": "https://example.com",
            "Access-Control-Request-Method": "DELETE",
            "Access-Control-Request-Headers": "authorization",
        },
    )

    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["access-control-allow-methods"] == "GET, POST, DELETE, OPTIONS"
    assert response.headers["access-control-allow-headers"] == "Authorization, Content-Type"
    assert response.headers["access-control-max-age"] == "86400"


@pytest.mark.parametrize("path", ["/api/v2/nope.json", "/api/v2/incidents/nope.json"])
def test_unknown_v2_paths_get_a_json_404(client: TestClient, page: Page, path: str) -> None:
    response = client.get(path)

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert set(response.json()) == {"error", "message"}


def test_every_response_matches_its_openapi_schema(
    client: TestClient, session: Session, page: Page
) -> None:
    api, _, _ = payments(session, page)
    open_incident(session, page, "Outage", {api.id: MAJOR})
    past_incident(session, page, "Old outage", T0 - timedelta(days=3))
    running = maintenance(session, page, "Running", datetime.now(UTC) - timedelta(hours=1))
    incidents.start_maintenance(session, maintenance=running, actor=CLI)
    maintenance(session, page, "Planned", datetime.now(UTC) + timedelta(days=1), [api.id])
    session.commit()
    spec = client.get("/api/openapi.json").json()

    for path in V2_PATHS:
        operation = spec["paths"][path]["get"]
        assert operation["summary"]
        schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
        body = get(client, path)
        errors = [e.message for e in jsonschema_rs.Draft202012Validator(schema).iter_errors(body)]
        assert errors == [], path
        assert keys(body) == list(schema["properties"])
