"""Request bodies as Statuspage clients send them: JSON, or Rails-style form encoding."""

from __future__ import annotations

import json
import re
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from fastapi import Request
from pydantic import BaseModel, ValidationError

from tocsin.errors import Invalid

M = TypeVar("M", bound=BaseModel)

MAX_BODY_BYTES = 1_000_000
_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")


def nest_form(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Turn `incident[components][abc]=x&incident[component_ids][]=a` into nested dicts.

    `key[]` collects a list; a key repeated without `[]` also becomes a list,
    as Python's requests sends list values that way.
    """
    root: dict[str, Any] = {}
    for raw_key, value in pairs:
        match = _KEY.match(raw_key)
        if match is None:
            raise Invalid(f"malformed form field name {raw_key!r}")
        parts = [match.group(1), *re.findall(r"\[([^\[\]]*)\]", match.group(2))]
        _insert(root, parts, value)
    return root


def _insert(node: dict[str, Any], parts: list[str], value: str) -> None:
    head, rest = parts[0], parts[1:]
    if not rest:
        _put(node, head, value)
        return
    if rest == [""]:
        existing = node.setdefault(head, [])
        if not isinstance(existing, list):
            raise Invalid(f"form field {head!r} is both a value and a list")
        existing.append(value)
        return
    child = node.setdefault(head, {})
    if not isinstance(child, dict):
        raise Invalid(f"form field {head!r} is both a value and an object")
    _insert(child, rest, value)


def _put(node: dict[str, Any], key: str, value: str) -> None:
    if key not in node:
        node[key] = value
    elif isinstance(node[key], list):
        node[key].append(value)
    elif isinstance(node[key], str):
        node[key] = [node[key], value]
    else:
        raise Invalid(f"form field {key!r} is both a value and an object")


def without_nul(node: Any) -> Any:
    """Replace NUL in every string and key: PostgreSQL cannot store it, and no text needs it.

    U+FFFD keeps lengths unchanged, so a value valid before stays valid after.
    """
    if isinstance(node, str):
        return node.replace("\x00", "\ufffd")
    if isinstance(node, dict):
        return {without_nul(key): without_nul(value) for key, value in node.items()}
    if isinstance(node, list):
        return [without_nul(item) for item in node]
    return node


async def read_body(request: Request) -> dict[str, Any]:
    """The body as a dict, whatever its encoding (NUL replaced); an empty body is `{}`."""
    body = await _decode(request)
    cleaned: dict[str, Any] = without_nul(body)
    return cleaned


async def _decode(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        raise Invalid("request body is too large")
    if not raw.strip():
        return {}
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/x-www-form-urlencoded":
        return nest_form(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        if content_type.endswith("json"):
            raise Invalid("request body is not valid JSON") from None
        return nest_form(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
    if not isinstance(body, dict):
        raise Invalid("request body must be a JSON object")
    return body


def unwrap(body: dict[str, Any], key: str, *, required: bool = True) -> dict[str, Any]:
    """The object under the resource key (`{"incident": {...}}`)."""
    inner = body.get(key)
    if inner is None:
        if required:
            raise Invalid(f"the body needs a {key!r} object")
        return {}
    if not isinstance(inner, dict):
        raise Invalid(f"{key!r} must be an object")
    return inner


def parse(model: type[M], data: dict[str, Any], *, where: str) -> M:
    """Validate `data` into `model`, turning the first problem into a one-line 422."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in (where, *first["loc"]))
        raise Invalid(f"{field}: {first['msg']}") from None


def openapi_body(model: type[BaseModel], key: str) -> dict[str, Any]:
    """`openapi_extra` describing a `{key: model}` body, in JSON and form encoding."""
    schema = {
        "type": "object",
        "required": [key],
        "properties": {key: inline_refs(model.model_json_schema())},
    }
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": schema}},
        }
    }


def inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """Replace `$ref`s to the schema's own `$defs` by their content.

    A `$ref` inside `openapi_extra` would point at the OpenAPI document's root,
    where these definitions do not exist; our input models are not recursive.
    """
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return resolve(defs[ref.removeprefix("#/$defs/")])
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved
