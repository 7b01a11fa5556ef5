"""The lazy channel registry."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tocsin.notify.base import Notifier
from tocsin.notify.channels import REGISTRY, build_notifiers
from tocsin.notify.models import SubscriberMode
from tocsin.settings import Settings

pytestmark = pytest.mark.anyio


async def test_it_builds_one_notifier_per_mode(tmp_path: Path) -> None:
    notifiers = build_notifiers(Settings(secret_key="k" * 40, var_dir=tmp_path))
    try:
        assert set(notifiers) == set(SubscriberMode)
        assert all(isinstance(n, Notifier) for n in notifiers.values())
    finally:
        for notifier in notifiers.values():
            await notifier.aclose()


async def test_it_builds_only_the_modes_asked_for(tmp_path: Path) -> None:
    settings = Settings(secret_key="k" * 40, var_dir=tmp_path)
    notifiers = build_notifiers(settings, modes=[SubscriberMode.SLACK, SubscriberMode.SLACK])
    assert list(notifiers) == [SubscriberMode.SLACK]
    await notifiers[SubscriberMode.SLACK].aclose()


def test_every_mode_is_registered() -> None:
    assert set(REGISTRY) == set(SubscriberMode)


def test_channel_modules_are_imported_on_first_use() -> None:
    code = (
        "import sys, tocsin.notify.channels as c; "
        "print(sorted(m for m in sys.modules if m.startswith('tocsin.notify.channels.')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    )
    assert result.stdout.strip() == "[]"
