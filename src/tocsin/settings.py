from __future__ import annotations

import secrets
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

VAR_DIR = Path("var")


class SettingsError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Settings(BaseSettings):
    """Every setting comes from a `TOCSIN_*` variable; a secret `X` may come from `X_FILE`."""

    model_config = SettingsConfigDict(env_prefix="TOCSIN_", extra="ignore", frozen=True)

    env: Literal["dev", "production"] = "dev"
    database_url: str = f"sqlite:///{VAR_DIR}/tocsin.db"
    secret_key: SecretStr | None = None
    secret_key_file: Path | None = None
    base_url: str = "http://127.0.0.1:8000"
    page_name: str = Field(default="Status", min_length=1, max_length=255)
    var_dir: Path = VAR_DIR
    run_worker: bool = True
    scheduler_interval_seconds: float = Field(default=15.0, gt=0)
    snapshot_poll_seconds: float = Field(default=0.5, gt=0)
    log_format: Literal["text", "json"] = "json"
    forwarded_allow_ips: str = "127.0.0.1"
    """Peers (comma-separated addresses or networks, `*` for any) whose X-Forwarded-For
    and X-Forwarded-Proto name the real client: the reverse proxy in front of Tocsin."""

    smtp_host: str | None = None
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_password_file: Path | None = None
    smtp_tls: Literal["none", "starttls", "tls"] = "none"
    smtp_timeout_seconds: float = Field(default=30.0, gt=0)
    email_from: str = "status@localhost"

    sms_api_url: str = "https://api.twilio.com"
    sms_account_sid: str | None = None
    sms_auth_token: SecretStr | None = None
    sms_auth_token_file: Path | None = None
    sms_from: str | None = None

    webhooks_allow_private: bool = False
    # Statuspage accepts ?api_key=; URLs end up in logs, so it is opt-in (security.md 32).
    api_keys_in_query: bool = False
    metrics_token: SecretStr | None = None
    metrics_token_file: Path | None = None
    monitors_allow_private: bool = True
    monitors_concurrency: int = Field(default=200, ge=1, le=10_000)
    monitors_retention_days: int = Field(default=7, ge=1, le=365)

    delivery_batch_size: int = Field(default=500, ge=1, le=10_000)
    delivery_concurrency: int = Field(default=200, ge=1, le=10_000)
    delivery_per_destination: int = Field(default=10, ge=1, le=1_000)
    delivery_timeout_seconds: float = Field(default=30.0, gt=0)
    delivery_retry_base_seconds: float = Field(default=30.0, gt=0)
    delivery_retry_hours: float = Field(default=48.0, ge=24.0)
    delivery_lease_seconds: float = Field(default=300.0, gt=0)
    delivery_disable_after: int = Field(default=3, ge=1)
    # Claims and outcome records run in a process of their own, so that the database
    # work never holds the sending process's GIL; false keeps them on a thread.
    delivery_database_process: bool = True
    # Finished notifications and their delivery log are kept this long, then pruned.
    delivery_retention_days: int = Field(default=90, ge=1, le=3650)

    @model_validator(mode="after")
    def _read_secret_files(self) -> Settings:
        for name in ("secret_key", "smtp_password", "sms_auth_token", "metrics_token"):
            path: Path | None = getattr(self, f"{name}_file")
            if getattr(self, name) is None and path is not None:
                value = path.read_text(encoding="utf-8").strip()
                object.__setattr__(self, name, SecretStr(value))
        return self

    def resolved_secret_key(self) -> str:
        """Return the secret key; in dev, generate one once and keep it under `var_dir`.

        Raise SettingsError in production when no key is configured, so that a
        deployment never signs anything with a key nobody chose.
        """
        if self.secret_key is not None and self.secret_key.get_secret_value():
            return self.secret_key.get_secret_value()
        if self.env == "production":
            raise SettingsError(
                "TOCSIN_SECRET_KEY (or TOCSIN_SECRET_KEY_FILE) is required in production"
            )
        path = self.var_dir / "secret_key"
        if path.exists():
            return path.read_text(encoding="utf-8").strip()
        self.var_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        path.write_text(key, encoding="utf-8")
        path.chmod(0o600)
        return key
