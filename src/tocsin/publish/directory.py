"""Publishing to a directory on the worker's host (a mounted share, another server's docroot)."""

from __future__ import annotations

import secrets
from pathlib import Path

from tocsin.publish.base import PublishError, SyncResult, upload_order
from tocsin.publish.schemas import DirConfig

# A non-empty directory must hold this file (an earlier export) before we delete in it.
SIGNATURE = "api/v2/summary.json"


def sync_dir(config: DirConfig, files: dict[str, bytes]) -> SyncResult:
    """Make the directory hold exactly `files`: write the changed ones (each via a
    temporary file and a rename), then delete the others."""
    root = Path(config.path)
    try:
        _check_ours(root)
        written = [name for name in upload_order(list(files)) if _write(root, name, files[name])]
        stale = sorted(_existing(root) - set(files))
        for name in stale:
            (root / name).unlink()
        _remove_empty_dirs(root)
    except OSError as exc:
        raise PublishError(f"{exc.filename or root}: {exc.strerror or exc}") from None
    return SyncResult(written=written, deleted=stale)


def _check_ours(root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    if any(root.iterdir()) and not (root / SIGNATURE).is_file():
        raise PublishError(f"{root} is not empty and holds no earlier export; refusing to use it")


def _write(root: Path, name: str, body: bytes) -> bool:
    """Write one file unless it already holds `body`; return True if it was written."""
    target = root / name
    if target.is_file() and target.stat().st_size == len(body) and target.read_bytes() == body:
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    temporary.write_bytes(body)
    temporary.replace(target)
    return True


def _existing(root: Path) -> set[str]:
    return {
        path.relative_to(root).as_posix()
        for path in root.rglob("*")
        if path.is_file() and not path.name.endswith(".tmp")
    }


def _remove_empty_dirs(root: Path) -> None:
    for directory in sorted((p for p in root.rglob("*") if p.is_dir()), reverse=True):
        if not any(directory.iterdir()):
            directory.rmdir()
