from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tocsin.accounts.models import Role

_EMAIL = r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$"


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(max_length=254, pattern=_EMAIL)
    password: str = Field(min_length=10, max_length=1024)
    role: Role = Role.VIEWER

    @field_validator("email")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.strip().lower()


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=255)
