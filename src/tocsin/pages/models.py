from __future__ import annotations

from sqlalchemy import Float, String
from sqlalchemy.orm import Mapped, mapped_column

from tocsin.db import Base, IdMixin, TimestampMixin


class Page(IdMixin, TimestampMixin, Base):
    __tablename__ = "pages"

    name: Mapped[str] = mapped_column(String(255))
    url: Mapped[str | None] = mapped_column(String(2048))
    domain: Mapped[str | None] = mapped_column(String(253), unique=True)
    time_zone: Mapped[str] = mapped_column(String(64), default="Etc/UTC")
    logo_url: Mapped[str | None] = mapped_column(String(2048))
    accent_color: Mapped[str | None] = mapped_column(String(9))
    partial_outage_weight: Mapped[float] = mapped_column(Float, default=0.3)
    language: Mapped[str] = mapped_column(String(8), default="en", server_default="en")
