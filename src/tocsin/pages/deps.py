"""The public side's request dependencies: which page is asked for, from memory."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from tocsin.errors import NotFound
from tocsin.pages.snapshot import Snapshot
from tocsin.pages.store import SnapshotStore


def current_snapshot(request: Request) -> Snapshot:
    """The snapshot of the page named by the Host header, or of the install's default page.

    No database query: the store is kept fresh in the background.
    """
    store: SnapshotStore | None = getattr(request.app.state, "snapshots", None)
    snapshot = store.for_host(request.headers.get("host")) if store is not None else None
    if snapshot is None:
        raise NotFound("this install has no status page yet; run `tocsin migrate`")
    return snapshot


SnapshotDep = Annotated[Snapshot, Depends(current_snapshot)]
