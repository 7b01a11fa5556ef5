from __future__ import annotations

import pytest
from jinja2 import UndefinedError

from tocsin.lib.templating import html_environment


def test_it_escapes_html() -> None:
    template = html_environment("tocsin.pages").from_string("<p>{{ text }}</p>")
    assert template.render(text="<script>") == "<p>&lt;script&gt;</p>"


def test_it_refuses_a_missing_variable() -> None:
    template = html_environment("tocsin.pages").from_string("{{ missing }}")
    with pytest.raises(UndefinedError):
        template.render()


def test_it_finds_the_package_templates_and_the_shared_layout() -> None:
    env = html_environment("tocsin.admin")
    assert env.get_template("admin/signin.html").name == "admin/signin.html"
    assert env.get_template("base.html").name == "base.html"
