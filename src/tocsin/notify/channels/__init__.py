"""The channels, one module each, imported only when a worker first needs one.

Adding a channel means adding its module (a `Notifier` subclass with a
`from_settings(settings)` classmethod) and one line in `REGISTRY`.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib import import_module
from typing import Protocol, cast

from tocsin.notify.base import Notifier
from tocsin.notify.models import SubscriberMode
from tocsin.settings import Settings

REGISTRY: dict[SubscriberMode, str] = {
    SubscriberMode.EMAIL: "tocsin.notify.channels.email:EmailNotifier",
    SubscriberMode.SMS: "tocsin.notify.channels.sms:SmsNotifier",
    SubscriberMode.WEBHOOK: "tocsin.notify.channels.webhook:WebhookNotifier",
    SubscriberMode.SLACK: "tocsin.notify.channels.slack:SlackNotifier",
    SubscriberMode.DISCORD: "tocsin.notify.channels.discord:DiscordNotifier",
    SubscriberMode.TEAMS: "tocsin.notify.channels.teams:TeamsNotifier",
}


class NotifierFactory(Protocol):
    def from_settings(self, settings: Settings) -> Notifier: ...


def notifier_class(mode: SubscriberMode) -> NotifierFactory:
    """The class that sends `mode`'s messages, importing its module on first use."""
    module, _, name = REGISTRY[mode].partition(":")
    return cast(NotifierFactory, getattr(import_module(module), name))


def build_notifiers(
    settings: Settings, *, modes: Iterable[SubscriberMode] | None = None
) -> dict[SubscriberMode, Notifier]:
    """One notifier per mode (all of them by default); the caller `aclose()`s each.

    Nothing connects here: notifiers open connections on their first send.
    """
    chosen = list(SubscriberMode) if modes is None else list(dict.fromkeys(modes))
    return {mode: notifier_class(mode).from_settings(settings) for mode in chosen}
