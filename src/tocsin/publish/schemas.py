from __future__ import annotations

import json
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from tocsin.publish.models import TargetKind


class DirConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str = Field(
        min_length=2,
        max_length=1024,
        pattern=r"^/",
        title="Directory",
        description="Absolute path on the worker's host; it must be empty or hold an export.",
    )

    def stored(self) -> str:
        return self.model_dump_json()


class S3Config(BaseModel):
    model_config = ConfigDict(extra="forbid")

    bucket: str = Field(min_length=3, max_length=63, pattern=r"^[a-z0-9][a-z0-9.\-]+[a-z0-9]$")
    prefix: str = Field(default="", max_length=512, pattern=r"^([^/].*/)?$")
    endpoint_url: str | None = Field(
        default=None,
        max_length=2048,
        pattern=r"^https?://\S+$",
        description="For S3-compatible services (R2, B2, MinIO…); empty for AWS.",
    )
    region: str | None = Field(default=None, max_length=64)
    access_key_id: str | None = Field(default=None, max_length=256)
    secret_access_key: SecretStr | None = Field(default=None, max_length=256)
    public_read: bool = Field(default=False, description="Upload objects with the public-read ACL.")

    def stored(self) -> str:
        """The JSON kept in the database, secret included."""
        data = self.model_dump(mode="json")
        if self.secret_access_key is not None:
            data["secret_access_key"] = self.secret_access_key.get_secret_value()
        return json.dumps(data)


class DirTargetCreate(BaseModel):
    kind: Literal[TargetKind.DIR]
    config: DirConfig
    enabled: bool = True


class S3TargetCreate(BaseModel):
    kind: Literal[TargetKind.S3]
    config: S3Config
    enabled: bool = True


TargetCreate = Annotated[DirTargetCreate | S3TargetCreate, Field(discriminator="kind")]
