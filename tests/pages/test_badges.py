from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from factories import component, group
from tocsin.components.status import ComponentStatus
from tocsin.pages.badges import render_badge, valid_color
from tocsin.pages.models import Page

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: bytes) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    return root


def texts(root: ET.Element) -> list[str]:
    return [t.text or "" for t in root.iter(f"{SVG}text")]


def message_color(root: ET.Element) -> str:
    return root.findall(f"{SVG}g/{SVG}rect")[1].attrib["fill"]


def test_the_page_badge_shows_the_overall_status(
    client: TestClient, session: Session, page: Page
) -> None:
    component(session, page, "API", status=ComponentStatus.DEGRADED_PERFORMANCE)
    session.commit()

    response = client.get("/badge.svg")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    assert response.headers["cache-control"] == "no-cache"
    root = parse(response.content)
    assert texts(root) == ["status", "status"] + ["Partially Degraded Service"] * 2
    assert root.find(f"{SVG}title").text == "status: Partially Degraded Service"  # type: ignore[union-attr]
    assert message_color(root) == "#dfb317"
    assert b"<style" not in response.content
    assert b"<script" not in response.content


def test_a_component_badge_shows_its_name_and_status(
    client: TestClient, session: Session, page: Page
) -> None:
    api = component(session, page, "API", status=ComponentStatus.MAJOR_OUTAGE)
    payments = group(session, page, "Payments", [api])
    session.commit()

    root = parse(client.get(f"/components/{api.id}/badge.svg").content)
    assert texts(root) == ["API", "API", "Major outage", "Major outage"]
    assert message_color(root) == "#e05d44"
    group_root = parse(client.get(f"/components/{payments.id}/badge.svg").content)
    assert texts(group_root)[0] == "Payments"
    assert texts(group_root)[2] == "Major outage"


def test_an_unknown_component_has_no_badge(client: TestClient, page: Page) -> None:
    assert client.get("/components/nope/badge.svg").status_code == 404


def test_names_and_labels_are_escaped(client: TestClient, session: Session, page: Page) -> None:
    evil = '<script>alert(1)</script>" onload="x'
    api = component(session, page, evil)
    session.commit()

    for response in (
        client.get(f"/components/{api.id}/badge.svg"),
        client.get("/badge.svg", params={"label": evil}),
    ):
        assert response.status_code == 200
        assert b"<script" not in response.content
        root = parse(response.content)
        assert all("onload" not in key for e in root.iter() for key in e.attrib)
        assert texts(root)[0].startswith("<script>alert(1)</script>")


@pytest.mark.parametrize(
    ("color", "shown"),
    [
        ("ff0000", "#ff0000"),
        ("#ABC", "#abc"),
        ("blue", "#007ec6"),
        ("red;stroke:url(javascript:alert(1))", "#4c1"),
        ('" onload="alert(1)', "#4c1"),
        ("#12345", "#4c1"),
        ("", "#4c1"),
    ],
)
def test_only_valid_colours_are_used(
    client: TestClient, page: Page, color: str, shown: str
) -> None:
    response = client.get("/badge.svg", params={"color": color})

    assert response.status_code == 200
    assert message_color(parse(response.content)) == shown


def test_overlong_labels_are_cut_or_refused(client: TestClient, page: Page) -> None:
    cut = texts(parse(client.get("/badge.svg", params={"label": "x" * 100}).content))[0]
    assert cut == "x" * 39 + "…"
    assert client.get("/badge.svg", params={"label": "x" * 201}).status_code == 422


def test_the_badge_width_grows_with_its_text() -> None:
    short = parse(render_badge("status", "ok", "#4c1"))
    long = parse(render_badge("status", "All Systems Operational", "#4c1"))
    assert int(long.attrib["width"]) > int(short.attrib["width"]) + 100


def test_control_characters_do_not_break_the_svg() -> None:
    parse(render_badge("bell\x07", "ok\x00", "#4c1"))


def test_valid_color_accepts_hex_and_names_only() -> None:
    assert valid_color("#AABBCCDD") == "#aabbccdd"
    assert valid_color("Green") == "#97ca00"
    assert valid_color("rgb(0,0,0)") is None
    assert valid_color(None) is None
