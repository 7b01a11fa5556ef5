"""Domain errors: small classes carrying a message, mapped to HTTP and CLI in one place each."""

from __future__ import annotations


class DomainError(Exception):
    status_code = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(DomainError):
    status_code = 404


class Invalid(DomainError):
    status_code = 422


class Conflict(DomainError):
    status_code = 409


class PermissionDenied(DomainError):
    status_code = 403
