from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from adminkit import csrf_of, post_form, sign_in
from conftest import Persona
from factories import component
from tocsin.audit.service import CLI
from tocsin.components.models import Component
from tocsin.db import utcnow
from tocsin.main import create_app
from tocsin.monitors import alerts
from tocsin.monitors import service as monitors
from tocsin.monitors.alerts import AlertSourceCreate
from tocsin.monitors.probes import ProbeResult
from tocsin.monitors.schemas import MonitorCreate
from tocsin.pages.models import Page
from tocsin.publish import service as targets
from tocsin.publish.schemas import DirTargetCreate
from tocsin.settings import Settings

SECRET = "wJalrXUtnFEMI-K7MDENG-bPxRfiCY"


def admin(page: Page, suffix: str = "") -> str:
    return f"/admin/pages/{page.id}{suffix}"


def monitor_form(kind: str = "http", **fields: str) -> dict[str, str]:
    return {
        "kind": kind,
        "name": "API health",
        "target": "https://api.example.com/health",
        "interval_seconds": "60",
        "timeout_seconds": "10",
        "failure_threshold": "3",
        "window": "5",
        "recovery_threshold": "2",
        "failure_status": "major_outage",
        "incident_template_id": "",
        "quiet_period_seconds": "300",
        **fields,
    }


def api_monitors(client: TestClient, who: Persona) -> list[dict[str, Any]]:
    response = client.get(f"/api/v1/pages/{who.page.id}/monitors", headers=who.headers)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()
    return found


def saved_monitor(session: Session, page: Page, **fields: Any) -> str:
    data = MonitorCreate.model_validate(
        {"name": "Site", "kind": "http", "target": "https://www.example.com/", **fields}
    )
    monitor = monitors.create_monitor(session, page=page, data=data, actor=CLI, allow_private=True)
    session.commit()
    return monitor.id


def saved_source(session: Session, page: Page, api: Component) -> str:
    data = AlertSourceCreate.model_validate(
        {"name": "Prometheus", "kind": "alertmanager", "rules": [{"component_ids": [api.id]}]}
    )
    created = alerts.create_source(session, page=page, data=data, actor=CLI, now=utcnow())
    session.commit()
    return created.source.id


def saved_target(session: Session, page: Page, path: Path) -> str:
    data = DirTargetCreate.model_validate({"kind": "dir", "config": {"path": str(path)}})
    target = targets.create_target(session, page=page, data=data, actor=CLI)
    session.commit()
    return target.id


def inventory(session: Session, page: Page) -> tuple[object, ...]:
    """Everything the Automation screens can change on `page`, to see that nothing did."""
    session.expire_all()
    return (
        [
            (m.id, m.name, m.paused, m.next_run_at)
            for m in monitors.list_monitors(session, page_id=page.id)
        ],
        [s.id for s in alerts.list_sources(session, page_id=page.id)],
        [t.id for t in targets.list_targets(session, page_id=page.id)],
    )


def status_of(session: Session, row: Component) -> str:
    session.expire_all()
    found = session.get(Component, row.id)
    assert found is not None
    return found.status.value


@pytest.fixture
def strict_client(settings: Settings, factory: sessionmaker[Session]) -> Iterator[TestClient]:
    """TOCSIN_MONITORS_ALLOW_PRIVATE=false."""
    strict = settings.model_copy(update={"monitors_allow_private": False})
    with TestClient(create_app(strict)) as client:
        yield client


# --- monitors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "fields", "config"),
    [
        (
            "http",
            {
                "target": "https://api.example.com/health",
                "method": "HEAD",
                "expected_status": "200, 3xx",
                "keyword": "ok",
                "headers": "X-Probe: tocsin\n",
                "json_assertion.path": "$.status",
                "json_assertion.equals": '"up"',
            },
            {
                "method": "HEAD",
                "expected_status": [200, "3xx"],
                "keyword": "ok",
                "headers": {"X-Probe": "tocsin"},
                "json_assertion": {"path": "$.status", "equals": "up"},
            },
        ),
        ("tcp", {"target": "db.example.com:5432"}, {}),
        (
            "dns",
            {"target": "example.com", "record_type": "A", "expected": "93.184.216.34\n"},
            {"record_type": "A", "expected": ["93.184.216.34"]},
        ),
        ("tls", {"target": "example.com", "min_days": "21"}, {"min_days": 21}),
        (
            "heartbeat",
            {"target": "", "timeout_seconds": "", "grace_seconds": "120"},
            {"grace_seconds": 120},
        ),
    ],
)
def test_an_admin_adds_a_monitor_of_each_kind(
    client: TestClient,
    session: Session,
    alice: Persona,
    kind: str,
    fields: dict[str, str],
    config: dict[str, Any],
) -> None:
    api = component(session, alice.page, "API")
    session.commit()
    sign_in(client, alice)
    assert (
        f'name="kind" value="{kind}"'
        in client.get(admin(alice.page, f"/monitors/new?kind={kind}")).text
    )

    form = [*monitor_form(kind, name=f"{kind} check", **fields).items(), ("component_ids", api.id)]
    response = post_form(client, admin(alice.page, "/monitors/new"), form)

    assert response.status_code == 303, response.text
    listing = client.get(admin(alice.page, "/monitors")).text
    assert f"{kind} check" in listing
    [created] = api_monitors(client, alice)
    assert (created["name"], created["kind"], created["component_ids"]) == (
        f"{kind} check",
        kind,
        [api.id],
    )
    assert {key: created["config"].get(key) for key in config} == config


def test_a_heartbeat_shows_a_ping_url_that_takes_pings(client: TestClient, alice: Persona) -> None:
    sign_in(client, alice)
    form = monitor_form("heartbeat", name="Nightly backup", target="", interval_seconds="3600")
    detail = post_form(client, admin(alice.page, "/monitors/new"), form).headers["location"]

    page = client.get(detail).text
    found = re.search(r"http://testserver(/ping/[A-Za-z0-9_-]+)", page)
    assert found, page
    assert client.get(found.group(1)).text == "OK\n"
    assert "Last ping: none yet" not in client.get(detail).text


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"target": "not a url"}, "http:// or https:// URL"),
        (
            {"interval_seconds": "5"},
            "Check every (seconds): Input should be greater than or equal to 10",
        ),
        ({"kind": "smoke-signal"}, "There is no monitor kind"),
        ({"timeout_seconds": "90"}, "Timeout (seconds)"),
        ({"headers": "no colon here"}, "Request headers: write each header as Name: value"),
        ({"expected_status": "600"}, "Expected status"),
        ({"name": ""}, "Name: String should have at least 1 character"),
    ],
)
def test_invalid_monitors_are_refused_with_the_form_kept(
    client: TestClient, alice: Persona, fields: dict[str, str], message: str
) -> None:
    sign_in(client, alice)
    form = monitor_form(**{"name": "Kept <name>", **fields})

    response = post_form(client, admin(alice.page, "/monitors/new"), form)

    assert response.status_code == 422
    assert message in response.text.replace("&#39;", "'")
    if fields.get("name") is None:
        assert 'value="Kept &lt;name&gt;"' in response.text
    assert api_monitors(client, alice) == []


def test_private_targets_are_refused_when_not_allowed(
    strict_client: TestClient, alice: Persona
) -> None:
    sign_in(strict_client, alice)
    for target in ("http://127.0.0.1:8080/", "http://localhost/"):
        form = monitor_form(target=target)
        response = post_form(strict_client, admin(alice.page, "/monitors/new"), form)
        assert response.status_code == 422
        assert "Target: " in response.text
    form = monitor_form("tcp", target="10.0.0.5:5432")
    assert post_form(strict_client, admin(alice.page, "/monitors/new"), form).status_code == 422
    assert api_monitors(strict_client, alice) == []


def test_an_admin_edits_pauses_runs_and_deletes_a_monitor(
    client: TestClient, session: Session, alice: Persona
) -> None:
    monitor_id = saved_monitor(session, alice.page)
    sign_in(client, alice)
    detail = admin(alice.page, f"/monitors/{monitor_id}")

    edit = client.get(f"{detail}/edit").text
    assert 'value="https://www.example.com/"' in edit
    form = monitor_form(name="Website", target="https://www.example.com/", interval_seconds="120")
    assert post_form(client, f"{detail}/edit", form).status_code == 303
    bad = post_form(client, f"{detail}/edit", {**form, "name": "Nope", "interval_seconds": "2"})
    assert bad.status_code == 422
    [shown] = api_monitors(client, alice)
    assert (shown["name"], shown["interval_seconds"]) == ("Website", 120)

    assert post_form(client, f"{detail}/pause", token_from=detail).status_code == 303
    assert "paused" in client.get(admin(alice.page, "/monitors")).text
    assert api_monitors(client, alice)[0]["paused"] is True
    assert post_form(client, f"{detail}/resume", token_from=detail).status_code == 303
    assert api_monitors(client, alice)[0]["paused"] is False

    ran = post_form(client, f"{detail}/run", token_from=detail)
    assert ran.status_code == 303
    assert "Check scheduled" in client.get(ran.headers["location"]).text

    gone = post_form(client, f"{detail}/delete", token_from=detail)
    assert gone.status_code == 303
    assert api_monitors(client, alice) == []
    assert client.get(detail).status_code == 404


def test_the_detail_page_lists_recent_results(
    client: TestClient, session: Session, alice: Persona
) -> None:
    monitor_id = saved_monitor(session, alice.page)
    monitor = monitors.get_monitor(session, page_id=alice.page.id, monitor_id=monitor_id)
    result = ProbeResult(ok=False, latency_ms=312.4, error="HTTP 503 (expected 2xx)")
    monitors.observe(session, monitor=monitor, result=result, checked_at=utcnow())
    session.commit()
    sign_in(client, alice)

    page = client.get(admin(alice.page, f"/monitors/{monitor_id}")).text

    assert "HTTP 503 (expected 2xx)" in page
    assert "312 ms" in page
    assert "failing" in client.get(admin(alice.page, "/monitors")).text


def test_monitors_are_searched_and_exported_with_safe_cells(
    client: TestClient, session: Session, alice: Persona
) -> None:
    saved_monitor(session, alice.page, name='=HYPERLINK("http://evil")')
    saved_monitor(session, alice.page, name="Database", kind="tcp", target="db.example.com:5432")
    sign_in(client, alice)

    found = client.get(admin(alice.page, "/monitors?q=db.example")).text
    assert "Database" in found
    assert "HYPERLINK" not in found

    export = client.get(admin(alice.page, "/monitors.csv"))
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("text/csv")
    text = export.content.decode("utf-8-sig")
    assert '"\'=HYPERLINK(""http://evil"")"' in text
    assert '"Database","tcp","db.example.com:5432"' in text


def test_monitor_names_are_escaped(client: TestClient, session: Session, alice: Persona) -> None:
    monitor_id = saved_monitor(session, alice.page, name="<script>alert(1)</script>")
    sign_in(client, alice)
    for url in ("/monitors", f"/monitors/{monitor_id}", f"/monitors/{monitor_id}/edit"):
        html = client.get(admin(alice.page, url)).text
        assert "<script>alert(1)</script>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


# --- alert sources -----------------------------------------------------------------------


def alertmanager(status: str, **labels: str) -> dict[str, Any]:
    return {
        "version": "4",
        "status": status,
        "receiver": "tocsin",
        "alerts": [
            {
                "status": status,
                "labels": {"alertname": "ApiDown", **labels},
                "annotations": {"summary": "API is down"},
                "fingerprint": "f1",
            }
        ],
    }


def test_an_alert_source_shows_its_hook_once_and_its_alerts_move_components(
    client: TestClient, session: Session, alice: Persona
) -> None:
    api = component(session, alice.page, "API")
    web = component(session, alice.page, "Web")
    session.commit()
    sign_in(client, alice)
    form = [
        ("name", "Prometheus"),
        ("kind", "alertmanager"),
        ("rows", "3"),
        ("rule-0-match", "service=api, env=prod"),
        ("rule-0-components", api.id),
        ("rule-0-status", "partial_outage"),
        ("rule-1-match", ""),
        ("rule-2-match", ""),
    ]

    created = post_form(client, admin(alice.page, "/alert-sources/new"), form)

    assert created.status_code == 200, created.text
    found = re.search(r"http://testserver(/hooks/alertmanager/[A-Za-z0-9_-]+)", created.text)
    assert found, created.text
    hook = found.group(1)
    listing = client.get(admin(alice.page, "/alert-sources")).text
    assert "Prometheus" in listing
    assert "service=api, env=prod" in listing
    assert hook.rsplit("/", 1)[1] not in listing

    fired = client.post(hook, json=alertmanager("firing", service="api", env="prod"))
    assert fired.status_code == 200, fired.text
    assert (status_of(session, api), status_of(session, web)) == ("partial_outage", "operational")
    client.post(hook, json=alertmanager("resolved", service="api", env="prod"))
    assert status_of(session, api) == "operational"


def test_more_rule_rows_come_without_javascript_and_keep_the_input(
    client: TestClient, session: Session, alice: Persona
) -> None:
    api = component(session, alice.page, "API")
    session.commit()
    sign_in(client, alice)
    assert 'name="rule-5-match"' in client.get(admin(alice.page, "/alert-sources/new?rows=6")).text

    form = [
        ("name", "Grafana"),
        ("kind", "grafana"),
        ("rows", "3"),
        ("rule-0-match", "team=core"),
        ("rule-0-components", api.id),
        ("more", "1"),
    ]
    response = post_form(client, admin(alice.page, "/alert-sources/new"), form)

    assert response.status_code == 200
    assert 'name="rule-5-match"' in response.text
    assert 'value="team=core"' in response.text
    assert 'value="Grafana"' in response.text
    assert alerts.list_sources(session, page_id=alice.page.id) == []


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ([("rule-0-match", "service=api")], "Rule 1: choose the components it moves"),
        ([("rule-0-match", "service")], "Rule 1: write matchers as label=value"),
        ([], "Rules: List should have at least 1 item"),
    ],
)
def test_unusable_alert_rules_are_refused(
    client: TestClient, session: Session, alice: Persona, rule: list[tuple[str, str]], message: str
) -> None:
    sign_in(client, alice)
    form = [("name", "Prometheus"), ("kind", "alertmanager"), ("rows", "3"), *rule]

    response = post_form(client, admin(alice.page, "/alert-sources/new"), form)

    assert response.status_code == 422
    assert message in response.text
    assert alerts.list_sources(session, page_id=alice.page.id) == []


def test_deleting_an_alert_source_gives_its_components_back(
    client: TestClient, session: Session, alice: Persona
) -> None:
    api = component(session, alice.page, "API")
    session.commit()
    sign_in(client, alice)
    form = [("name", "Generic"), ("kind", "generic"), ("rows", "1"), ("rule-0-components", api.id)]
    created = post_form(client, admin(alice.page, "/alert-sources/new"), form).text
    found = re.search(r"http://testserver(/hooks/generic/[A-Za-z0-9_-]+)", created)
    assert found
    client.post(found.group(1), json={"status": "firing", "message": "queue backed up"})
    assert status_of(session, api) == "major_outage"
    [source] = alerts.list_sources(session, page_id=alice.page.id)

    listing = admin(alice.page, "/alert-sources")
    deleted = post_form(client, f"{listing}/{source.id}/delete", token_from=listing)

    assert deleted.status_code == 303
    assert status_of(session, api) == "operational"
    assert "No alert sources yet" in client.get(listing).text
    assert client.post(found.group(1), json={"status": "ok"}).status_code == 404


# --- publish targets ---------------------------------------------------------------------


def test_a_directory_target_is_added_listed_and_deleted(
    client: TestClient, alice: Persona, tmp_path: Path
) -> None:
    sign_in(client, alice)
    where = str(tmp_path / "status-copy")

    added = post_form(
        client, admin(alice.page, "/publish-targets/new"), {"kind": "dir", "path": where}
    )

    assert added.status_code == 303, added.text
    listing = client.get(admin(alice.page, "/publish-targets")).text
    assert where in listing
    assert "never" in listing
    target_id = re.search(r"/publish-targets/([A-Za-z0-9_-]+)/delete", listing)
    assert target_id
    url = admin(alice.page, f"/publish-targets/{target_id.group(1)}/delete")
    assert (
        post_form(client, url, token_from=admin(alice.page, "/publish-targets")).status_code == 303
    )
    assert where not in client.get(admin(alice.page, "/publish-targets")).text


def test_a_relative_directory_and_an_unknown_kind_are_refused(
    client: TestClient, session: Session, alice: Persona
) -> None:
    sign_in(client, alice)
    url = admin(alice.page, "/publish-targets/new")
    relative = post_form(client, url, {"kind": "dir", "path": "relative/path"})
    assert relative.status_code == 422
    assert "Directory: " in relative.text
    assert post_form(client, url, {"kind": "ftp", "path": "/srv"}).status_code == 422
    assert targets.list_targets(session, page_id=alice.page.id) == []


def test_the_s3_secret_is_never_shown_again(
    client: TestClient, session: Session, alice: Persona
) -> None:
    sign_in(client, alice)
    url = admin(alice.page, "/publish-targets/new")
    s3 = {
        "kind": "s3",
        "bucket": "status-backup",
        "prefix": "acme/",
        "endpoint_url": "https://s3.example.net",
        "region": "eu-west-1",
        "access_key_id": "AKIDEXAMPLE",
        "secret_access_key": SECRET,
    }

    refused = post_form(client, url, {**s3, "bucket": "Not A Bucket"})
    assert refused.status_code == 422
    assert SECRET not in refused.text
    assert 'value="AKIDEXAMPLE"' in refused.text
    assert post_form(client, url, s3).status_code == 303

    [target] = targets.list_targets(session, page_id=alice.page.id)
    assert SECRET in target.config
    for screen in ("/publish-targets", "/publish-targets/new?kind=s3", "/monitors"):
        html = client.get(admin(alice.page, screen)).text
        assert SECRET not in html
    assert "s3://status-backup/acme/" in client.get(admin(alice.page, "/publish-targets")).text


# --- who may do what ---------------------------------------------------------------------


@pytest.fixture
def objects(session: Session, page: Page, tmp_path: Path) -> dict[str, str]:
    """One of each on the default page: ids by kind."""
    api = component(session, page, "API")
    session.commit()
    return {
        "monitor": saved_monitor(session, page, kind="heartbeat", target="", name="Cron"),
        "source": saved_source(session, page, api),
        "target": saved_target(session, page, tmp_path / "copy"),
    }


def write_urls(objects: dict[str, str]) -> list[str]:
    monitor, source, target = objects["monitor"], objects["source"], objects["target"]
    return [
        "/monitors/new",
        f"/monitors/{monitor}/edit",
        f"/monitors/{monitor}/pause",
        f"/monitors/{monitor}/resume",
        f"/monitors/{monitor}/run",
        f"/monitors/{monitor}/delete",
        "/alert-sources/new",
        f"/alert-sources/{source}/delete",
        "/publish-targets/new",
        f"/publish-targets/{target}/delete",
    ]


@pytest.mark.parametrize("who", ["bob", "vera"])
def test_editors_and_viewers_read_but_cannot_change_anything(
    client: TestClient,
    session: Session,
    request: pytest.FixtureRequest,
    objects: dict[str, str],
    who: str,
) -> None:
    persona: Persona = request.getfixturevalue(who)
    before = inventory(session, persona.page)
    sign_in(client, persona)
    screens = {
        "/monitors": "Cron",
        f"/monitors/{objects['monitor']}": "Cron",
        "/alert-sources": "Prometheus",
        "/publish-targets": "Directory",
    }
    for screen, shows in screens.items():
        html = client.get(admin(persona.page, screen)).text
        assert shows in html
        for button in ("Add monitor", "Add alert source", "Add publish target", ">Delete<", "Edit"):
            assert button not in html
    assert "/copy" not in client.get(admin(persona.page, "/publish-targets")).text
    detail = client.get(admin(persona.page, f"/monitors/{objects['monitor']}")).text
    assert ("/ping/" in detail) is (who == "bob")

    token = csrf_of(client.get(admin(persona.page, "/monitors")).text)
    for url in write_urls(objects):
        posted = client.post(admin(persona.page, url), data={"csrf_token": token, **monitor_form()})
        assert posted.status_code == 403, url
    assert client.get(admin(persona.page, "/monitors/new")).status_code == 403
    assert inventory(session, persona.page) == before


def test_another_pages_owner_finds_none_of_them(
    client: TestClient, session: Session, charlie: Persona, page: Page, objects: dict[str, str]
) -> None:
    before = inventory(session, page)
    sign_in(client, charlie)
    theirs = admin(page, "/monitors")
    assert client.get(theirs).status_code == 404
    ours = admin(charlie.page)
    for url in (f"/monitors/{objects['monitor']}", f"/monitors/{objects['monitor']}/edit"):
        assert client.get(ours + url).status_code == 404
    token = csrf_of(client.get(ours + "/monitors").text)
    for url in write_urls(objects):
        if url.endswith("/new"):
            continue
        posted = client.post(ours + url, data={"csrf_token": token, **monitor_form()})
        assert posted.status_code == 404, url
    assert inventory(session, page) == before


def test_posts_without_the_form_token_are_refused(
    client: TestClient, session: Session, alice: Persona, objects: dict[str, str]
) -> None:
    before = inventory(session, alice.page)
    sign_in(client, alice)
    for url in write_urls(objects):
        assert client.post(admin(alice.page, url), data=monitor_form()).status_code == 403, url
    assert inventory(session, alice.page) == before
