"""The components board: one-click statuses, structure for admins, and the public page after."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from markupsafe import escape
from sqlalchemy import select
from sqlalchemy.orm import Session

from adminkit import csrf_of, post_form, sign_in
from conftest import Persona
from factories import component, group
from tocsin.audit.models import AuditEvent
from tocsin.components.models import Component, StatusChange
from tocsin.components.status import StatusCause
from tocsin.pages.models import Page

_NAME = re.compile(r"<bdi>([^<]*)</bdi>")


def _board(page: Page) -> str:
    return f"/admin/pages/{page.id}/components"


def _public_order(client: TestClient, names: set[str]) -> list[str]:
    """The names of `names` in the order the public home page lists them."""
    return [n for n in _NAME.findall(client.get("/").text) if n in names]


def _public_statuses(client: TestClient) -> dict[str, str]:
    body = client.get("/api/v2/components.json").json()
    return {c["name"]: c["status"] for c in body["components"]}


def _abc(session: Session, page: Page) -> tuple[Component, Component, Component]:
    rows = (
        component(session, page, "A"),
        component(session, page, "B"),
        component(session, page, "C"),
    )
    session.commit()
    return rows


def test_one_click_sets_a_status_and_the_public_page_shows_it(
    client: TestClient, session: Session, page: Page, bob: Persona
) -> None:
    api = component(session, page, "Payments API")
    session.commit()
    sign_in(client, bob)
    board = client.get(_board(page)).text
    assert re.search(r'value="operational" aria-pressed="true"', board)

    response = post_form(
        client,
        f"{_board(page)}/{api.id}/status",
        {"status": "major_outage"},
        token_from=_board(page),
    )

    assert response.status_code == 303
    assert response.headers["location"] == f"{_board(page)}#c-{api.id}"
    board = client.get(response.headers["location"]).text
    assert "Payments API: Operational → Major outage." in board
    assert re.search(r'value="major_outage" aria-pressed="true"', board)
    assert _public_statuses(client) == {"Payments API": "major_outage"}
    assert "Major System Outage" in client.get("/").text
    change = session.scalars(
        select(StatusChange).where(StatusChange.component_id == api.id).order_by(StatusChange.id)
    ).all()
    assert [(c.status.value, c.cause) for c in change if c.previous_status] == [
        ("major_outage", StatusCause.MANUAL)
    ]
    event = session.scalars(
        select(AuditEvent).where(AuditEvent.object_id == api.id, AuditEvent.user_id == bob.user.id)
    ).one()
    assert event.changes == {"status": "major_outage"}


def test_a_group_shows_its_members_indented_and_the_worst_status(
    client: TestClient, session: Session, page: Page, bob: Persona
) -> None:
    api = component(session, page, "Payments API", status="partial_outage")
    hooks = component(session, page, "Webhooks")
    payments = group(session, page, "Payments", [api, hooks])
    session.commit()
    sign_in(client, bob)

    board = client.get(_board(page)).text

    group_row = board[board.index(f'id="c-{payments.id}"') :]
    nested = group_row[group_row.index('class="board board-children"') :]
    assert "Payments API" in nested and "Webhooks" in nested
    assert "Partial outage</span>" in group_row[: group_row.index("board-children")]
    assert f"/components/{payments.id}/status" not in board


def test_the_arrows_change_the_public_order(
    client: TestClient, session: Session, page: Page, alice: Persona
) -> None:
    a, _, c = _abc(session, page)
    sign_in(client, alice)
    assert _public_order(client, {"A", "B", "C"}) == ["A", "B", "C"]

    up = post_form(
        client, f"{_board(page)}/{c.id}/move", {"direction": "up"}, token_from=_board(page)
    )
    assert up.status_code == 303
    assert "Moved C up." in client.get(up.headers["location"]).text
    assert _public_order(client, {"A", "B", "C"}) == ["A", "C", "B"]

    post_form(client, f"{_board(page)}/{a.id}/move", {"direction": "down"}, token_from=_board(page))
    assert _public_order(client, {"A", "B", "C"}) == ["C", "A", "B"]

    top = post_form(
        client, f"{_board(page)}/{c.id}/move", {"direction": "up"}, token_from=_board(page)
    )
    assert "C is at the top." in client.get(top.headers["location"]).text
    assert _public_order(client, {"A", "B", "C"}) == ["C", "A", "B"]
    board = client.get(_board(page)).text
    assert re.search(r'value="up" aria-label="Move C up" disabled', board)


def test_the_arrows_move_a_component_within_its_group(
    client: TestClient, session: Session, page: Page, alice: Persona
) -> None:
    a, b, _ = _abc(session, page)
    group(session, page, "G", [a, b])
    session.commit()
    sign_in(client, alice)

    post_form(client, f"{_board(page)}/{b.id}/move", {"direction": "up"}, token_from=_board(page))

    assert _public_order(client, {"G", "A", "B", "C"}) == ["C", "G", "B", "A"]


def test_the_order_endpoint_takes_a_permutation(
    client: TestClient, session: Session, page: Page, alice: Persona
) -> None:
    a, b, c = _abc(session, page)
    sign_in(client, alice)

    response = post_form(
        client,
        f"{_board(page)}/order",
        [("id", c.id), ("id", a.id), ("id", b.id)],
        token_from=_board(page),
    )

    assert response.status_code == 303
    assert "Saved the new order." in client.get(response.headers["location"]).text
    assert _public_order(client, {"A", "B", "C"}) == ["C", "A", "B"]


def test_the_order_endpoint_takes_the_token_in_a_header_as_the_script_sends_it(
    client: TestClient, session: Session, page: Page, alice: Persona
) -> None:
    a, b, c = _abc(session, page)
    sign_in(client, alice)
    token = csrf_of(client.get(_board(page)).text)

    response = client.post(
        f"{_board(page)}/order",
        content=f"id={b.id}&id={c.id}&id={a.id}",
        headers={"X-CSRF-Token": token, "Content-Type": "application/x-www-form-urlencoded"},
    )

    assert response.status_code == 200
    assert "Saved the new order." in response.text
    assert _public_order(client, {"A", "B", "C"}) == ["B", "C", "A"]


def test_another_pages_component_is_not_found_and_nothing_changes(
    client: TestClient, session: Session, page: Page, alice: Persona, charlie: Persona
) -> None:
    a, b, c = _abc(session, page)
    theirs = component(session, charlie.page, "Their API")
    session.commit()
    sign_in(client, alice)
    board = _board(page)

    for url, data in [
        (f"{board}/order", [("id", theirs.id), ("id", a.id), ("id", b.id), ("id", c.id)]),
        (f"{board}/order", [("id", c.id), ("id", b.id), ("id", a.id), ("id", theirs.id)]),
        (f"{board}/{theirs.id}/status", [("status", "major_outage")]),
        (f"{board}/{theirs.id}/move", [("direction", "up")]),
        (f"{board}/{theirs.id}/edit", [("name", "Mine now")]),
        (f"{board}/{theirs.id}/delete", []),
        (f"{_board(charlie.page)}/{theirs.id}/status", [("status", "major_outage")]),
    ]:
        assert post_form(client, url, data, token_from=board).status_code == 404, url
    assert client.get(f"{board}/{theirs.id}/edit").status_code == 404
    assert _public_order(client, {"A", "B", "C"}) == ["A", "B", "C"]
    session.refresh(theirs)
    assert (theirs.name, theirs.status.value) == ("Their API", "operational")


def test_an_order_that_leaves_out_adds_or_repeats_a_component_is_refused(
    client: TestClient, session: Session, page: Page, alice: Persona
) -> None:
    a, b, c = _abc(session, page)
    inner = component(session, page, "Inner")
    g = group(session, page, "G", [inner])
    session.commit()
    sign_in(client, alice)
    url = f"{_board(page)}/order"

    cases = [
        ([c.id, b.id, a.id], "the new order leaves out 'G'"),
        ([c.id, b.id, a.id, g.id, inner.id], f"component {inner.id} is not at this level"),
        ([c.id, b.id, a.id, g.id, a.id], "'A' is listed twice"),
        ([], "the new order must list the components"),
    ]
    for ids, message in cases:
        response = post_form(client, url, [("id", i) for i in ids], token_from=_board(page))
        assert response.status_code == 422, ids
        assert escape(message) in response.text
    assert _public_order(client, {"A", "B", "C", "G"}) == ["A", "B", "C", "G"]


def test_an_editor_sets_statuses_but_cannot_change_the_structure(
    client: TestClient, session: Session, page: Page, bob: Persona
) -> None:
    a, b, c = _abc(session, page)
    sign_in(client, bob)
    board = client.get(_board(page)).text
    assert f"{_board(page)}/{a.id}/status" in board
    for absent in ("New component", "/move", "/edit", 'draggable="true"', "admin-board.js"):
        assert absent not in board

    for url, data in [
        (f"{_board(page)}/new", [("name", "Sneaky")]),
        (f"{_board(page)}/groups/new", [("name", "Sneaky")]),
        (f"{_board(page)}/{a.id}/delete", []),
        (f"{_board(page)}/{a.id}/edit", [("name", "Renamed")]),
        (f"{_board(page)}/{c.id}/move", [("direction", "up")]),
        (f"{_board(page)}/order", [("id", c.id), ("id", b.id), ("id", a.id)]),
    ]:
        assert post_form(client, url, data, token_from=_board(page)).status_code == 403, url
    for url in (
        f"{_board(page)}/new",
        f"{_board(page)}/{a.id}/edit",
        f"{_board(page)}/{a.id}/delete",
    ):
        assert client.get(url).status_code == 403, url
    assert _public_order(client, {"A", "B", "C", "Sneaky", "Renamed"}) == ["A", "B", "C"]


def test_a_viewer_sees_no_buttons_and_cannot_set_a_status(
    client: TestClient, session: Session, page: Page, vera: Persona
) -> None:
    a = component(session, page, "Payments API")
    session.commit()
    sign_in(client, vera)
    board = client.get(_board(page)).text
    assert "Payments API" in board
    assert "/status" not in board and "aria-pressed" not in board and "New component" not in board

    response = post_form(
        client, f"{_board(page)}/{a.id}/status", {"status": "major_outage"}, token_from=_board(page)
    )

    assert response.status_code == 403
    assert _public_statuses(client) == {"Payments API": "operational"}


def test_a_status_post_without_the_form_token_is_refused(
    client: TestClient, session: Session, page: Page, alice: Persona
) -> None:
    a = component(session, page, "Payments API")
    session.commit()
    sign_in(client, alice)

    response = client.post(
        f"{_board(page)}/{a.id}/status", data={"status": "major_outage"}, follow_redirects=False
    )

    assert response.status_code == 403
    assert _public_statuses(client) == {"Payments API": "operational"}


def test_a_component_name_is_escaped_on_the_board(
    client: TestClient, session: Session, page: Page, alice: Persona
) -> None:
    component(session, page, '<img src=x onerror="alert(1)">')
    session.commit()
    sign_in(client, alice)

    board = client.get(_board(page)).text

    assert "<img src=x" not in board
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in board


def test_an_admin_creates_edits_and_deletes_a_component(
    client: TestClient, session: Session, page: Page, alice: Persona
) -> None:
    g = group(session, page, "Payments", [])
    session.commit()
    sign_in(client, alice)
    new = f"{_board(page)}/new"
    assert 'name="show_response_times"' in client.get(new).text

    created = post_form(
        client,
        new,
        [
            ("name", "  Payments API "),
            ("description", "Card charges"),
            ("group_id", g.id),
            ("showcase", "false"),
            ("showcase", "true"),
            ("only_show_if_degraded", "false"),
            ("show_response_times", "false"),
            ("start_date", "2026-01-15"),
        ],
    )

    assert created.status_code == 303
    row = session.scalars(select(Component).where(Component.name == "Payments API")).one()
    assert (row.group_id, row.description, str(row.start_date)) == (
        g.id,
        "Card charges",
        "2026-01-15",
    )
    assert "Added Payments API." in client.get(created.headers["location"]).text
    assert "Card charges" in client.get("/").text

    edit = f"{_board(page)}/{row.id}/edit"
    assert 'value="Payments API"' in client.get(edit).text
    saved = post_form(
        client, edit, [("name", "Charges API"), ("group_id", ""), ("showcase", "false")]
    )
    assert saved.status_code == 303
    session.refresh(row)
    assert (row.name, row.group_id, row.description, row.showcase) == (
        "Charges API",
        None,
        None,
        False,
    )
    assert _public_order(client, {"Payments", "Charges API"}) == ["Payments", "Charges API"]

    delete = f"{_board(page)}/{row.id}/delete"
    assert "Delete Charges API" in client.get(delete).text
    deleted = post_form(client, delete, [])
    assert deleted.status_code == 303
    assert "Deleted Charges API." in client.get(deleted.headers["location"]).text
    assert "Charges API" not in _public_statuses(client)


def test_an_admin_groups_components_and_moves_them_in_and_out(
    client: TestClient, session: Session, page: Page, alice: Persona
) -> None:
    a, b, c = _abc(session, page)
    sign_in(client, alice)

    created = post_form(
        client, f"{_board(page)}/groups/new", [("name", "G"), ("member", b.id), ("member", a.id)]
    )

    assert created.status_code == 303
    g = session.scalars(select(Component).where(Component.name == "G")).one()
    assert _public_order(client, {"A", "B", "C", "G"}) == ["C", "G", "B", "A"]
    listed = client.get("/api/v2/components.json").json()["components"]
    assert next(row["components"] for row in listed if row["name"] == "G") == [b.id, a.id]

    into = post_form(client, f"{_board(page)}/{c.id}/edit", [("name", "C"), ("group_id", g.id)])
    assert into.status_code == 303
    assert _public_order(client, {"A", "B", "C", "G"}) == ["G", "B", "A", "C"]

    edit = f"{_board(page)}/groups/{g.id}/edit"
    assert 'value="' + a.id + '" checked' in client.get(edit).text
    saved = post_form(client, edit, [("name", "Core"), ("member", c.id)])
    assert saved.status_code == 303
    assert _public_order(client, {"A", "B", "C", "Core"}) == ["Core", "C", "B", "A"]

    post_form(client, f"{_board(page)}/{g.id}/delete", [])
    statuses = _public_statuses(client)
    assert "Core" not in statuses and {"A", "B", "C"} <= statuses.keys()


def test_bad_input_re_renders_the_form_with_a_message(
    client: TestClient, session: Session, page: Page, alice: Persona, charlie: Persona
) -> None:
    a = component(session, page, "A")
    own_group = group(session, page, "Own", [])
    theirs_group = group(session, charlie.page, "Theirs", [])
    session.commit()
    sign_in(client, alice)
    new = f"{_board(page)}/new"

    for fields, message in [
        (
            [("name", "   "), ("description", "kept")],
            "Name: String should have at least 1 character",
        ),
        ([("name", "X"), ("group_id", "nosuchgroup1")], "component nosuchgroup1 not found"),
        ([("name", "X"), ("group_id", theirs_group.id)], f"component {theirs_group.id} not found"),
        ([("name", "X"), ("group_id", a.id)], "'A' is not a group"),
        ([("name", "X"), ("start_date", "2026-13-01")], "Start date:"),
        ([("name", "X" * 300)], "Name: String should have at most 255 characters"),
    ]:
        response = post_form(client, new, fields)
        assert response.status_code == 422, fields
        assert escape(message) in response.text, response.text
        assert '<form method="post"' in response.text
    assert "kept</textarea>" in post_form(client, new, [("name", ""), ("description", "kept")]).text

    unknown = post_form(
        client, f"{_board(page)}/{a.id}/status", {"status": "on_fire"}, token_from=_board(page)
    )
    assert unknown.status_code == 422
    assert escape("'on_fire' is not a component status") in unknown.text

    on_group = post_form(
        client,
        f"{_board(page)}/{own_group.id}/status",
        {"status": "major_outage"},
        token_from=_board(page),
    )
    assert on_group.status_code == 422
    assert escape("a group's status is the worst of its components") in on_group.text

    sideways = post_form(
        client, f"{_board(page)}/{a.id}/move", {"direction": "left"}, token_from=_board(page)
    )
    assert sideways.status_code == 422

    group_form = post_form(
        client, f"{_board(page)}/groups/new", [("name", "G"), ("member", "nosuchone123")]
    )
    assert group_form.status_code == 422
    assert "component nosuchone123 not found" in group_form.text
    assert set(_public_statuses(client)) == {"A", "Own"}
