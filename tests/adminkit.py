"""Admin test helpers: sign a persona in through the real form, post forms with their token."""

from __future__ import annotations

import re

import httpx
from fastapi.testclient import TestClient

from conftest import Persona

PASSWORD = "correct horse battery"
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    """The form token on a page (every form on it carries the same session's token)."""
    found = _TOKEN.search(html)
    assert found, "the page has no form token"
    return found.group(1)


def post_form(
    client: TestClient,
    url: str,
    data: dict[str, str] | list[tuple[str, str]] | None = None,
    *,
    token_from: str | None = None,
) -> httpx.Response:
    """GET the form's page (or `token_from`), then POST `data` with its token, as a browser
    does; redirects are not followed, so tests see the 303 and its flash."""
    html = client.get(token_from or url).text
    fields = list(data.items()) if isinstance(data, dict) else list(data or [])
    # The test client takes repeated fields as a dict of lists (a list of pairs is sent raw).
    form: dict[str, list[str]] = {}
    for name, value in [*fields, ("csrf_token", csrf_of(html))]:
        form.setdefault(name, []).append(value)
    return client.post(url, data=form, follow_redirects=False)


def sign_in(client: TestClient, persona: Persona) -> TestClient:
    """Sign `persona` in on `client` (its cookie jar then holds the session)."""
    client.cookies.clear()
    page = client.get("/admin/signin")
    response = client.post(
        "/admin/signin",
        data={"email": persona.user.email, "password": PASSWORD, "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return client
