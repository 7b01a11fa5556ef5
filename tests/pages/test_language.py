from __future__ import annotations

import itertools
import re
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from test_render import (
    EXAMPLE_START,
    day_bars,
    example_incident,
    incident,
    state,
    text_lines,
)
from test_render import component as component_view

from factories import component, reference_outage
from tocsin.audit.service import CLI
from tocsin.components.status import LABELS as COMPONENT_LABELS
from tocsin.components.status import ComponentStatus, overall_status
from tocsin.incidents.status import LABELS as INCIDENT_LABELS
from tocsin.lib import timefmt
from tocsin.pages import i18n
from tocsin.pages import service as pages
from tocsin.pages.models import Page
from tocsin.pages.render import Renderer, _environment
from tocsin.pages.schemas import PageUpdate

TEMPLATES = Path(i18n.__file__).parent / "templates" / "pages"
BASE = Path(i18n.__file__).parent.parent / "templates" / "base.html"
OTHERS = [lang for lang in i18n.LANGUAGES.values() if lang.code != i18n.DEFAULT]
_PLACEHOLDER = re.compile(r"%\(\w+\)s|%%")
_TAG = re.compile(r"<[^>]+>")


def template_strings() -> set[str]:
    env = _environment()
    found: set[str] = set()
    for path in [*sorted(TEMPLATES.glob("*.html")), BASE]:
        for _, _, message in env.extract_translations(path.read_text()):
            found.update([message] if isinstance(message, str) else filter(None, message))
    return found


def overall_descriptions() -> set[str]:
    combos = (
        list(combo)
        for size in range(3)
        for combo in itertools.product(list(ComponentStatus), repeat=size)
    )
    return {overall_status(combo)[1] for combo in combos}


def needed() -> set[str]:
    return (
        template_strings()
        | set(COMPONENT_LABELS.values())
        | set(INCIDENT_LABELS.values())
        | overall_descriptions()
        | set(i18n.CODE_STRINGS)
    )


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer()


@pytest.mark.parametrize("language", OTHERS, ids=lambda lang: lang.code)
def test_every_language_translates_every_string_and_nothing_else(
    language: i18n.Language,
) -> None:
    keys = needed()
    assert set(language.strings) - keys == set(), "stale keys"
    assert keys - set(language.strings) == set(), "missing translations"


@pytest.mark.parametrize("language", OTHERS, ids=lambda lang: lang.code)
def test_translations_keep_the_placeholders_and_the_markup(language: i18n.Language) -> None:
    for english, translated in language.strings.items():
        assert sorted(_PLACEHOLDER.findall(translated)) == sorted(_PLACEHOLDER.findall(english))
        assert sorted(_TAG.findall(translated)) == sorted(_TAG.findall(english))
        assert translated.strip() and '"' not in _TAG.sub("", translated)


@pytest.mark.parametrize("language", i18n.LANGUAGES.values(), ids=lambda lang: lang.code)
def test_dates_use_the_languages_own_names(language: i18n.Language) -> None:
    moment = datetime(2026, 3, 2, 15, 12, tzinfo=UTC)
    stamp = timefmt.format_timestamp(moment, ZoneInfo("UTC"), language.dates)

    assert language.dates.weekdays[0] in stamp
    assert language.dates.months[2] in stamp
    assert "2026" in stamp
    assert language.dates.month_names[2] in timefmt.format_month(date(2026, 3, 1), language.dates)


def test_english_dates_are_unchanged() -> None:
    english = i18n.language("en")
    moment = datetime(2026, 2, 10, 19, 43, tzinfo=UTC)
    assert timefmt.format_timestamp(moment, ZoneInfo("UTC"), english.dates) == (
        "Tue, Feb 10, 2026, 07:43 PM"
    )
    assert english.gap_phrase(1, "hour") == "1 hour earlier"
    assert english.gap_phrase(45, "minute") == "45 minutes earlier"


def test_an_unknown_language_falls_back_to_english() -> None:
    assert i18n.language("tlh").code == "en"
    assert i18n.language(None).code == "en"


def test_the_german_home_page_is_german(renderer: Renderer) -> None:
    shown = component_view(showcase=True, bars=day_bars(), uptime_percent=99.9583)
    html = renderer.home(state(components=(shown,), language="de")).decode()

    assert html.startswith('<!doctype html>\n<html lang="de">')
    lines = text_lines(html.encode())
    assert "Alle Systeme betriebsbereit" in lines
    assert "Updates abonnieren" in lines
    assert "Frühere Störungen" in lines
    assert "Komponenten" in lines
    assert "Payments API Betriebsbereit" in lines
    assert 'title="10. Feb. 2026: Teilausfall, 99,1 %"' in html
    assert "99,95 % Verfügbarkeit" in html
    assert "5. März 2026" in lines
    assert "Keine Störungen gemeldet." in lines
    assert "Alle Zeiten in UTC." in html
    assert "Störungsverlauf" in html


def test_the_german_incident_page_has_german_dates_labels_and_gaps(renderer: Renderer) -> None:
    html = renderer.incident(state(incidents=(example_incident(),), language="de"), "inc1")
    assert html is not None

    lines = text_lines(html)
    expected = [
        "Betroffene Komponenten",
        "Payments API — Teilausfall",
        "Webhooks — Eingeschränkte Leistung",
        "Aktualisierungen",
        "Bericht veröffentlicht",
        "Unser Bericht: https://acme.example/blog/payments-postmortem",
        "Do., 5. März 2026, 10:02",
        "Behoben",
        "Mo., 2. März 2026, 16:40(2 Tage früher)",
        "Wird beobachtet",
        "Ursache gefunden",
        "Mo., 2. März 2026, 15:50(45 Minuten früher)",
        "Wird untersucht",
    ]
    assert [line for line in lines if line in expected] == expected


def test_the_french_history_names_its_months(renderer: Renderer) -> None:
    html = renderer.history(state(incidents=(incident(),), language="fr"), 1)
    assert html is not None

    lines = text_lines(html)
    assert "Historique des incidents" in lines
    assert "mars 2026" in lines
    assert "lun. 2 mars 2026, 15:12" in lines
    assert "Résolu" in lines


def test_user_text_stays_escaped_and_untranslated(renderer: Renderer) -> None:
    named = incident(name="100% <script>alert(1)</script> Resolved", started_at=EXAMPLE_START)
    html = renderer.incident(state(incidents=(named,), language="es"), "inc1")
    assert html is not None

    assert b"100% &lt;script&gt;alert(1)&lt;/script&gt; Resolved" in html
    assert b"<script>" not in html


@pytest.mark.parametrize("code", list(i18n.LANGUAGES))
def test_every_page_renders_in_every_language(renderer: Renderer, code: str) -> None:
    full = state(
        incidents=(example_incident(),),
        components=(component_view(showcase=True, bars=day_bars(), uptime_percent=99.0),),
        language=code,
    )
    pages_html = [renderer.home(full), renderer.incident(full, "inc1"), renderer.history(full, 1)]
    for html in pages_html:
        assert html is not None
        assert f'<html lang="{code}">'.encode() in html
    assert f'<html lang="{code}">'.encode() in renderer.error(404, "incident not found", code)


def test_a_german_page_translates_its_public_pages_but_not_its_api(
    client: TestClient, session: Session, page: Page
) -> None:
    incident_id = reference_outage(session, page)
    component(session, page, "Search")
    pages.update_page(session, page=page, data=PageUpdate(language="de"), actor=CLI)
    session.commit()

    description = client.get("/api/v2/summary.json").json()["status"]["description"]
    assert description in overall_descriptions()
    assert i18n.language("de").gettext(description) != description
    assert i18n.language("de").gettext(description) in client.get("/").text
    assert "Mo., 2. März 2026, 15:12" in client.get(f"/incidents/{incident_id}").text
    assert "Updates abonnieren" in client.get("/subscribe").text
    assert "Mon, Mar 02, 2026" in client.get("/history.rss").text


def test_error_pages_speak_the_pages_language(
    client: TestClient, session: Session, page: Page
) -> None:
    pages.update_page(session, page=page, data=PageUpdate(language="nl"), actor=CLI)
    session.commit()

    response = client.get("/incidents/nope")

    assert response.status_code == 404
    assert '<html lang="nl">' in response.text
    assert "<h1>Niet gevonden</h1>" in response.text
    assert "incident niet gevonden" in response.text
    assert "Terug naar de statuspagina" in response.text
    admin = client.get("/admin/no-such-screen")
    assert admin.status_code == 404
    assert '<html lang="en">' in admin.text
