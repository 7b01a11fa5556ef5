from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Integer, Text
from sqlalchemy.orm import Mapped, mapped_column

from tocsin.db import Base, IdMixin, TimestampMixin, UTCDateTime, enum_type


class TargetKind(StrEnum):
    DIR = "dir"
    S3 = "s3"


class PublishTarget(IdMixin, TimestampMixin, Base):
    """Somewhere a page's static export is kept up to date by the worker.

    `config` is the kind's JSON settings (`schemas.DirConfig`, `schemas.S3Config`).
    An S3 secret key is stored in it as given, like every other credential Tocsin
    keeps for outbound calls; database backups must be protected accordingly.
    """

    __tablename__ = "publish_targets"

    page_id: Mapped[str] = mapped_column(ForeignKey("pages.id", ondelete="CASCADE"), index=True)
    kind: Mapped[TargetKind] = mapped_column(enum_type(TargetKind, "publish_target_kind"))
    config: Mapped[str] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(default=True)
    published_version: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """The page's `updated_at` that the target last received."""
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    """Failed attempts since the last success; sets the backoff."""
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """No attempt before this: a backoff after a failure, or the lease of a run in flight."""
