"""What every publish target kind shares: its result and its one error type."""

from __future__ import annotations

from dataclasses import dataclass, field


class PublishError(Exception):
    """Publishing failed; `message` is short and safe to show to page admins."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class SyncResult:
    """The paths (relative to the target's root) written and deleted by one sync."""

    written: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)


def upload_order(names: list[str]) -> list[str]:
    """Assets and data first, HTML last, so that no page goes live before what it links to."""
    return sorted(names, key=lambda name: (name.endswith(".html"), name))
