"""What every v1 resource module shares: the body dependency and the documented errors."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends
from pydantic import BaseModel, Field

from tocsin.api.body import read_body

# Read in a dependency so that handlers can stay synchronous and run off the event loop.
BodyDep = Annotated[dict[str, Any], Depends(read_body)]
DateTimeText = Annotated[str | None, Field(json_schema_extra={"format": "date-time"})]

MAX_PER_PAGE = 100


class ErrorEntity(BaseModel):
    error: str
    message: str


_ERROR_TEXT = {
    401: "Could not authenticate",
    403: "You are not authorized to access this resource.",
    404: "The requested resource could not be found.",
    409: "Conflict",
    422: "Unprocessable entity",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` entries for the error statuses a v1 route can answer with."""
    return {code: {"model": ErrorEntity, "description": _ERROR_TEXT[code]} for code in codes}
