"""The Jinja environment every HTML screen starts from: autoescaped, strict, tidy."""

from __future__ import annotations

from jinja2 import ChoiceLoader, Environment, PackageLoader, StrictUndefined


def html_environment(package: str) -> Environment:
    """Templates from `package`'s `templates/`, then the shared layout in `tocsin`'s.

    A missing variable is an error rather than an empty string, so a typo cannot
    silently drop part of a page.
    """
    return Environment(
        loader=ChoiceLoader(
            [PackageLoader(package, "templates"), PackageLoader("tocsin", "templates")]
        ),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
