from __future__ import annotations

import json
import logging

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from tocsin.lib.jsonlog import JsonFormatter
from tocsin.main import create_app
from tocsin.pages.models import Page
from tocsin.settings import Settings

TOKEN = "scrape-token-for-tests"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"metrics_token": SecretStr(TOKEN)})


def samples(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    found = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_it_counts_requests_by_route_template_and_status(client: TestClient, page: Page) -> None:
    client.get("/")
    client.get("/incidents/nosuchthing")
    client.get("/api/v2/status.json")

    found = samples(client)

    home = ("tocsin_http_requests_total", (("method", "GET"), ("route", "/"), ("status", "200")))
    missing = (
        "tocsin_http_requests_total",
        (("method", "GET"), ("route", "/incidents/{incident_id}"), ("status", "404")),
    )
    assert found[home] == 1
    assert found[missing] == 1
    latency = ("tocsin_http_request_duration_seconds_count", (("route", "/api/v2/status.json"),))
    assert found[latency] == 1


def test_it_reports_snapshot_age_rebuilds_and_the_database(client: TestClient, page: Page) -> None:
    client.get("/")

    found = samples(client)

    assert found[("tocsin_snapshot_age_seconds", (("page", page.id),))] >= 0
    assert found[("tocsin_snapshot_rebuild_duration_seconds_count", ())] >= 1
    assert found[("tocsin_database_up", ())] == 1


def test_health_is_the_process_and_readiness_the_database(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ok"}


def test_log_records_are_json_lines() -> None:
    record = logging.makeLogRecord(
        {"name": "tocsin.test", "levelname": "WARNING", "msg": "page %s", "args": ("x",)}
    )
    record.page_id = "abc"

    entry = json.loads(JsonFormatter().format(record))

    assert entry["level"] == "warning"
    assert entry["logger"] == "tocsin.test"
    assert entry["message"] == "page x"
    assert entry["page_id"] == "abc"


@pytest.mark.parametrize("header", [None, "Bearer wrong", f"Basic {TOKEN}", TOKEN])
def test_metrics_need_the_token_when_one_is_set(
    client: TestClient, page: Page, header: str | None
) -> None:
    headers = {"Authorization": header} if header else {}
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 401
    assert "tocsin_http_requests_total" not in response.text


def test_without_a_token_only_this_machine_may_scrape(settings: Settings, page: Page) -> None:
    open_settings = settings.model_copy(update={"metrics_token": None})
    with TestClient(create_app(open_settings), client=("127.0.0.1", 9000)) as local:
        assert local.get("/metrics").status_code == 200
        relayed = local.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
        assert relayed.status_code == 403
    with TestClient(create_app(open_settings), client=("203.0.113.9", 9000)) as remote:
        refused = remote.get("/metrics")
        assert refused.status_code == 403
        assert "TOCSIN_METRICS_TOKEN" in refused.text
