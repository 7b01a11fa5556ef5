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

    @model_validator(mode="after")
    def _read_secret_file(self) -> Settings:
        if self.secret_key is None and self.secret_key_file is not None:
            key = self.secret_key_file.read_text(encoding="utf-8").strip()
            object.__setattr__(self, "secret_key", SecretStr(key))
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
