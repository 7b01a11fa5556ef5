"""HTTP(S) check: one request through lib/http, then assertions on status, body and time."""

from __future__ import annotations

import functools
import json
import re
import ssl
import time
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal

import anyio
import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator

from tocsin.lib.http import OutboundError, describe, make_client, request
from tocsin.monitors.probes.base import ProbeConfigError, ProbeResult, elapsed_ms, timed_out

# Keyword and JSON checks read at most this much; bigger bodies are cut, not refused, so a
# health page that grew still passes when its keyword is near the top.
MAX_BODY = 256 * 1024
MAX_REDIRECTS = 5

_HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,100}$")
_STATUS = re.compile(r"^(?:[1-5]xx|[1-5]\d\d(?:-[1-5]\d\d)?)$")
_JSON_PATH = re.compile(r"^\$(?:\.[A-Za-z0-9_-]+|\[\d{1,6}\])*$")
_JSON_SEGMENT = re.compile(r"\.([A-Za-z0-9_-]+)|\[(\d+)\]")

JSONScalar = str | int | float | bool | None


class JSONAssertion(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str = Field(
        max_length=200,
        title="JSON path",
        description="Dotted path into the response, e.g. $.status or $.checks[0].state",
    )
    equals: JSONScalar = Field(title="Expected value")

    @field_validator("path")
    @classmethod
    def _check_path(cls, value: str) -> str:
        if not _JSON_PATH.fullmatch(value):
            raise ValueError("use $ followed by .name or [index] segments")
        return value


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")

    method: Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] = "GET"
    headers: dict[str, Annotated[str, Field(max_length=4096)]] = Field(
        default_factory=dict, max_length=32
    )
    body: str | None = Field(default=None, max_length=64 * 1024)
    expected_status: list[int | str] = Field(
        default_factory=lambda: list[int | str](["2xx"]),
        min_length=1,
        max_length=20,
        description='Codes (200), classes ("2xx") or ranges ("200-299")',
    )
    keyword: str | None = Field(
        default=None, min_length=1, max_length=500, description="Must appear in the body"
    )
    keyword_absent: str | None = Field(
        default=None, min_length=1, max_length=500, description="Must not appear in the body"
    )
    case_sensitive: bool = True
    json_assertion: JSONAssertion | None = None
    max_latency_ms: int | None = Field(default=None, ge=1, le=300_000)
    verify_tls: bool = True
    ca_cert: str | None = Field(
        default=None,
        max_length=64 * 1024,
        description="PEM CA certificates to trust instead of the public roots",
    )
    follow_redirects: bool = True

    @field_validator("headers")
    @classmethod
    def _check_headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name, header in value.items():
            if not _HEADER_NAME.fullmatch(name):
                raise ValueError(f"invalid header name {name!r}")
            if any(c in header for c in "\r\n\0"):
                raise ValueError(f"header {name} contains a line break")
        return value

    @field_validator("expected_status")
    @classmethod
    def _check_status(cls, value: list[int | str]) -> list[int | str]:
        for spec in value:
            valid = _STATUS.fullmatch(str(spec)) is not None
            if not valid or _status_range(spec)[0] > _status_range(spec)[1]:
                raise ValueError(f"invalid status {spec!r}; use 200, '2xx' or '200-299'")
        return value

    @field_validator("ca_cert")
    @classmethod
    def _check_ca(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ssl_context(True, value)
            except (ssl.SSLError, ValueError) as exc:
                raise ValueError("not a PEM CA certificate") from exc
        return value

    def status_ranges(self) -> list[tuple[int, int]]:
        return [_status_range(spec) for spec in self.expected_status]


def validate_target(target: str) -> str:
    url = httpx.URL(target) if "://" in target else None
    if url is None or url.scheme not in ("http", "https") or not url.host:
        raise ProbeConfigError("target must be an http:// or https:// URL")
    return target


async def probe(
    target: str, config: Config, *, timeout: float, allow_private: bool, now: datetime
) -> ProbeResult:
    verify = ssl_context(config.verify_tls, config.ca_cert)
    started = time.perf_counter()
    async with make_client(
        allow_private=allow_private, timeout=timeout, verify=verify, max_redirects=MAX_REDIRECTS
    ) as client:
        try:
            response = await _fetch(client, target, config, timeout)
        except OutboundError as exc:
            return ProbeResult(ok=False, latency_ms=None, error=exc.message)
    latency = elapsed_ms(started)
    details = _details(response, latency)
    for check in _CHECKS:
        error = check(response, config, latency)
        if error is not None:
            return ProbeResult(ok=False, latency_ms=latency, error=error, details=details)
    return ProbeResult(ok=True, latency_ms=latency, details=details)


@functools.lru_cache(maxsize=32)
def ssl_context(verify: bool, ca_cert: str | None) -> ssl.SSLContext:
    """A shared context per trust setting: building one loads the CA bundle, which costs
    milliseconds a scheduler running thousands of checks a minute should not pay each time."""
    if verify and ca_cert is not None:
        return ssl.create_default_context(cadata=ca_cert)
    return httpx.create_ssl_context(verify=verify, trust_env=False)


async def _fetch(
    client: httpx.AsyncClient, url: str, config: Config, timeout: float
) -> httpx.Response:
    options: dict[str, Any] = {"headers": config.headers, "content": config.body}
    if config.follow_redirects:
        # One byte over the cap tells a cut body from one that fits exactly.
        return await request(
            client, config.method, url, timeout=timeout, max_body=MAX_BODY + 1, **options
        )
    try:
        with anyio.fail_after(timeout):
            return await _send_once(client, client.build_request(config.method, url, **options))
    except TimeoutError as exc:
        raise OutboundError(timed_out(timeout), permanent=False) from exc
    except httpx.HTTPError as exc:
        raise describe(exc, timeout) from exc


async def _send_once(client: httpx.AsyncClient, first: httpx.Request) -> httpx.Response:
    # lib/http.request always follows redirects; a check that must see the 3xx itself sends
    # one request through the same client (the same address policy) and reads the body capped.
    response = await client.send(first, stream=True)
    body = bytearray()
    try:
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > MAX_BODY:
                break
    finally:
        await response.aclose()
    headers = response.headers.copy()
    headers.pop("Content-Encoding", None)
    return httpx.Response(
        response.status_code, headers=headers, content=bytes(body[: MAX_BODY + 1]), request=first
    )


def _details(response: httpx.Response, latency: float) -> dict[str, Any]:
    return {
        "status_code": response.status_code,
        "redirects": len(response.history),
        "body_bytes": min(len(response.content), MAX_BODY),
        "body_truncated": len(response.content) > MAX_BODY,
        "latency_ms": latency,
    }


def _status_range(spec: int | str) -> tuple[int, int]:
    text = str(spec)
    if text.endswith("xx"):
        low = int(text[0]) * 100
        return low, low + 99
    low_text, _, high_text = text.partition("-")
    return int(low_text), int(high_text or low_text)


def _check_status(response: httpx.Response, config: Config, latency: float) -> str | None:
    code = response.status_code
    if any(low <= code <= high for low, high in config.status_ranges()):
        return None
    expected = ", ".join(str(spec) for spec in config.expected_status)
    return f"HTTP {code} (expected {expected})"


def _body_text(response: httpx.Response, config: Config) -> str:
    text = httpx.Response(200, headers=response.headers, content=response.content[:MAX_BODY]).text
    return text if config.case_sensitive else text.casefold()


def _check_keywords(response: httpx.Response, config: Config, latency: float) -> str | None:
    if config.keyword is None and config.keyword_absent is None:
        return None
    text = _body_text(response, config)
    fold: Callable[[str], str] = (lambda s: s) if config.case_sensitive else str.casefold
    where = f" in the first {MAX_BODY // 1024} KiB" if len(response.content) > MAX_BODY else ""
    if config.keyword is not None and fold(config.keyword) not in text:
        return f"keyword {config.keyword!r} not found{where}"
    if config.keyword_absent is not None and fold(config.keyword_absent) in text:
        return f"keyword {config.keyword_absent!r} found"
    return None


def _check_json(response: httpx.Response, config: Config, latency: float) -> str | None:
    assertion = config.json_assertion
    if assertion is None:
        return None
    if len(response.content) > MAX_BODY:
        return f"response too large for the JSON check (over {MAX_BODY // 1024} KiB)"
    try:
        document = json.loads(response.content)
    except ValueError:
        return "response is not valid JSON"
    found, value = _lookup(document, assertion.path)
    if not found:
        return f"{assertion.path} not found in the response"
    if not _same_json(value, assertion.equals):
        return f"{assertion.path} is {_short(value)} (expected {_short(assertion.equals)})"
    return None


def _lookup(document: Any, path: str) -> tuple[bool, Any]:
    current = document
    for name, index in _JSON_SEGMENT.findall(path[1:]):
        if name and isinstance(current, dict) and name in current:
            current = current[name]
        elif index and isinstance(current, list) and int(index) < len(current):
            current = current[int(index)]
        else:
            return False, None
    return True, current


def _same_json(value: Any, expected: JSONScalar) -> bool:
    # Python has True == 1 and 1 == 1.0; JSON has true ≠ 1 but 1 = 1.0.
    if isinstance(value, bool) or isinstance(expected, bool):
        return value is expected
    if isinstance(value, int | float) and isinstance(expected, int | float):
        return value == expected
    return type(value) is type(expected) and value == expected


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 80 else text[:77] + "..."


def _check_latency(response: httpx.Response, config: Config, latency: float) -> str | None:
    limit = config.max_latency_ms
    if limit is None or latency <= limit:
        return None
    return f"response took {latency:.0f} ms (limit {limit} ms)"


_CHECKS = (_check_status, _check_keywords, _check_json, _check_latency)
