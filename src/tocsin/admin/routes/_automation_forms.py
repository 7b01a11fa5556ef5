"""The Automation screens' forms: posted fields in, payloads for the domain schemas out.

A monitor's kind-specific fields take their defaults, choices and hints from the probe's own
`Config` model, so the form cannot drift from what the probe accepts. Values are echoed back
as typed (strings) when a form is refused, and parsed only on the way to the schemas.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal, get_args

from pydantic import BaseModel
from starlette.datastructures import FormData

from tocsin.admin.forms import flag, strings
from tocsin.admin.forms import text as raw_text
from tocsin.components.status import LABELS, ComponentStatus
from tocsin.errors import Invalid
from tocsin.monitors.models import Monitor, MonitorKind
from tocsin.monitors.probes import dns, heartbeat, http, tcp, tls
from tocsin.monitors.schemas import MonitorCreate

Widget = Literal["text", "number", "checkbox", "select", "lines", "headers", "textarea", "codes"]
Values = dict[str, Any]

KINDS: dict[str, str] = {
    "http": "HTTP(S) request",
    "tcp": "TCP port",
    "dns": "DNS records",
    "tls": "TLS certificate",
    "heartbeat": "Heartbeat (a job pings Tocsin)",
}
TARGETS: dict[str, tuple[str, str]] = {
    "http": ("URL", "An http:// or https:// address."),
    "tcp": ("Host and port", "For example db.example.com:5432."),
    "dns": ("Domain name", "The name to look up, for example example.com."),
    "tls": ("Host", "host or host:port; the port is 443 unless given."),
}
STATUS_OPTIONS = [
    (status.value, LABELS[status])
    for status in (
        ComponentStatus.DEGRADED_PERFORMANCE,
        ComponentStatus.PARTIAL_OUTAGE,
        ComponentStatus.MAJOR_OUTAGE,
    )
]
COMMON_LABELS = {
    "name": "Name",
    "kind": "Kind",
    "target": "Target",
    "interval_seconds": "Check every (seconds)",
    "timeout_seconds": "Timeout (seconds)",
    "component_ids": "Components",
    "failure_status": "Status while down",
    "failure_threshold": "Failed checks to go down",
    "window": "Out of the last (checks)",
    "recovery_threshold": "Passed checks in a row to recover",
    "auto_incident": "Open an incident when it goes down",
    "incident_template_id": "Incident template",
    "draft": "Open incidents as drafts",
    "quiet_period_seconds": "Quiet period before resolving (seconds)",
}
_COMMON_TEXT = (
    "name",
    "target",
    "interval_seconds",
    "timeout_seconds",
    "failure_status",
    "failure_threshold",
    "window",
    "recovery_threshold",
    "incident_template_id",
    "quiet_period_seconds",
)
_COMMON_CHECKS = ("auto_incident", "draft")


@dataclass(frozen=True)
class ConfigField:
    """One kind-specific field; a dotted name sits in a nested object of the config."""

    name: str
    label: str
    widget: Widget
    hint: str | None = None
    options: tuple[tuple[str, str], ...] = ()
    advanced: bool = False


_SPECS: dict[str, tuple[type[BaseModel], tuple[tuple[str, str, Widget], ...]]] = {
    "http": (
        http.Config,
        (
            ("method", "Method", "select"),
            ("expected_status", "Expected status", "codes"),
            ("keyword", "Text that must appear", "text"),
            ("keyword_absent", "Text that must not appear", "text"),
            ("case_sensitive", "Text matching is case-sensitive", "checkbox"),
            ("json_assertion.path", "JSON path", "text"),
            ("json_assertion.equals", "JSON value expected there", "text"),
            ("max_latency_ms", "Slowest acceptable answer (ms)", "number"),
            ("headers", "Request headers", "headers"),
            ("body", "Request body", "textarea"),
            ("follow_redirects", "Follow redirects", "checkbox"),
            ("verify_tls", "Verify the TLS certificate", "checkbox"),
            ("ca_cert", "CA certificates (PEM)", "textarea"),
        ),
    ),
    "tcp": (tcp.Config, ()),
    "dns": (
        dns.Config,
        (
            ("record_type", "Record type", "select"),
            ("expected", "Expected answers", "lines"),
            ("match", "Answers compare to the expected ones", "select"),
            ("resolvers", "Resolvers", "lines"),
            ("authoritative", "Also ask the zone's nameservers", "checkbox"),
            ("nameservers", "Authoritative nameservers", "lines"),
            ("authoritative_port", "Nameserver port", "number"),
            ("require_consistent", "Fail when servers disagree", "checkbox"),
            ("tcp", "Query over TCP", "checkbox"),
        ),
    ),
    "tls": (
        tls.Config,
        (
            ("min_days", "Fail when it expires within (days)", "number"),
            ("check_chain", "Fail when the chain is not trusted", "checkbox"),
            ("check_hostname", "Fail when the name is not covered", "checkbox"),
            ("ca_cert", "CA certificates (PEM)", "textarea"),
        ),
    ),
    "heartbeat": (heartbeat.Config, (("grace_seconds", "Grace (seconds)", "number"),)),
}
# Shown folded under "More options": most monitors never need them.
_ADVANCED = {
    "json_assertion.path",
    "json_assertion.equals",
    "max_latency_ms",
    "headers",
    "body",
    "follow_redirects",
    "verify_tls",
    "ca_cert",
    "resolvers",
    "authoritative",
    "nameservers",
    "authoritative_port",
    "require_consistent",
    "tcp",
    "check_chain",
    "check_hostname",
}
_EXTRA_HINTS = {
    "expected_status": "Codes (200), classes (2xx) or ranges (200-299), separated by commas.",
    "headers": "One per line: Name: value.",
    "json_assertion.equals": 'A JSON value (true, 3, "ok") or plain text.',
    "expected": "One per line; empty accepts any answer.",
    "match": "exact: the same answers; superset: at least these; subset: none but these.",
}


def config_fields(kind: str) -> list[ConfigField]:
    model, specs = _SPECS[kind]
    return [
        ConfigField(name, label, widget, *_hint_and_options(model, name), name in _ADVANCED)
        for name, label, widget in specs
    ]


@cache
def labels() -> dict[str, str]:
    """Every field's label by name, to turn a schema's message into the form's words."""
    found = dict(COMMON_LABELS)
    for kind in _SPECS:
        found.update({f.name: f.label for f in config_fields(kind)})
    return found


def _hint_and_options(
    model: type[BaseModel], name: str
) -> tuple[str | None, tuple[tuple[str, str], ...]]:
    head, _, rest = name.partition(".")
    info = model.model_fields[head]
    if rest:
        nested = next(
            a for a in get_args(info.annotation) if isinstance(a, type) and issubclass(a, BaseModel)
        )
        info = nested.model_fields[rest]
    options = tuple((a, a) for a in get_args(info.annotation) if isinstance(a, str))
    return _EXTRA_HINTS.get(name, info.description), options


# --- monitors ----------------------------------------------------------------------------


def monitor_values(kind: str, monitor: Monitor | None = None) -> Values:
    """A monitor's fields as the form shows them: the stored ones, or a new one's defaults."""
    source: Any = monitor or MonitorCreate.model_construct(kind=MonitorKind(kind), name="")
    values: Values = {name: _shown(getattr(source, name)) for name in _COMMON_TEXT}
    values.update({name: bool(getattr(source, name)) for name in _COMMON_CHECKS})
    values["component_ids"] = list(source.component_ids)
    model, _ = _SPECS[kind]
    config = {**model().model_dump(mode="json"), **(monitor.config if monitor else {})}
    for field in config_fields(kind):
        found, raw = _lookup(config, field.name)
        values[field.name] = _display(field.widget, raw) if found else ""
    return values


def posted_values(kind: str, form: FormData) -> Values:
    """The form as submitted, to show again with an error."""
    values: Values = {name: text(form, name) for name in _COMMON_TEXT}
    values.update({name: flag(form, name) for name in _COMMON_CHECKS})
    values["component_ids"] = strings(form, "component_ids")
    for field in config_fields(kind):
        if field.widget == "checkbox":
            values[field.name] = flag(form, field.name)
        else:
            values[field.name] = text(form, field.name, strip=False)
    return values


def monitor_payload(kind: str, form: FormData) -> dict[str, Any]:
    """The fields for MonitorCreate (or, without `kind`, MonitorUpdate); Invalid if a field
    cannot be read at all (a header line without a colon, a number that is not one)."""
    payload: dict[str, Any] = {name: text(form, name) for name in _COMMON_TEXT}
    # An empty number keeps its default (or, editing, its value): a heartbeat's form has
    # no timeout, as nothing is probed.
    payload = {k: v for k, v in payload.items() if v or k in ("name", "target")}
    payload["incident_template_id"] = payload.get("incident_template_id") or None
    payload.update({name: flag(form, name) for name in _COMMON_CHECKS})
    payload["component_ids"] = strings(form, "component_ids")
    payload["config"] = _config(kind, form)
    return payload


def _config(kind: str, form: FormData) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for field in config_fields(kind):
        value = _parsed(field, form)
        if value is None:
            continue
        head, _, rest = field.name.partition(".")
        if rest:
            config.setdefault(head, {})[rest] = value
        else:
            config[head] = value
    return config


def _parsed(field: ConfigField, form: FormData) -> Any:
    """The field's value for the config, or None to leave the probe's default."""
    if field.widget == "checkbox":
        return flag(form, field.name) if field.name in form else None
    raw = text(form, field.name, strip=field.widget != "textarea")
    if not raw.strip():
        return None
    if field.widget == "number":
        if not re.fullmatch(r"-?\d{1,9}", raw):
            raise Invalid(f"{field.label}: enter a whole number")
        return int(raw)
    if field.widget == "lines":
        return [line.strip() for line in raw.splitlines() if line.strip()]
    if field.widget == "codes":
        return [int(c) if c.isdigit() else c for c in re.split(r"[\s,]+", raw) if c]
    if field.widget == "headers":
        return _headers(field.label, raw)
    if field.name == "json_assertion.equals":
        return _json_scalar(raw)
    return raw


def _headers(label: str, raw: str) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in raw.splitlines():
        if not line.strip():
            continue
        name, colon, value = line.partition(":")
        if not colon or not name.strip():
            raise Invalid(f"{label}: write each header as Name: value")
        headers[name.strip()] = value.strip()
    return headers


def _json_scalar(raw: str) -> Any:
    try:
        value = json.loads(raw)
    except ValueError:
        return raw
    return value if not isinstance(value, dict | list) else raw


def _lookup(config: dict[str, Any], name: str) -> tuple[bool, Any]:
    head, _, rest = name.partition(".")
    value = config.get(head)
    if not rest:
        return True, value
    if not isinstance(value, dict):
        return False, None
    return True, value.get(rest)


def _display(widget: Widget, raw: Any) -> Any:
    if widget == "checkbox":
        return bool(raw)
    if widget == "lines":
        return "\n".join(str(item) for item in raw or [])
    if widget == "codes":
        return ", ".join(str(item) for item in raw or [])
    if widget == "headers":
        return "\n".join(f"{name}: {value}" for name, value in (raw or {}).items())
    if isinstance(raw, str):
        return raw
    return "" if raw is None else json.dumps(raw)


def _shown(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


# --- alert sources -----------------------------------------------------------------------


@dataclass(frozen=True)
class RuleRow:
    """One rule of the alert source form, as typed."""

    match: str = ""
    component_ids: tuple[str, ...] = ()
    failure_status: str = ComponentStatus.MAJOR_OUTAGE.value
    auto_incident: bool = False

    @property
    def blank(self) -> bool:
        return not self.match.strip() and not self.component_ids


def rule_rows(form: FormData, count: int) -> list[RuleRow]:
    return [
        RuleRow(
            match=text(form, f"rule-{i}-match"),
            component_ids=tuple(strings(form, f"rule-{i}-components")),
            failure_status=text(form, f"rule-{i}-status") or ComponentStatus.MAJOR_OUTAGE.value,
            auto_incident=flag(form, f"rule-{i}-incident"),
        )
        for i in range(count)
    ]


def rules_payload(rows: list[RuleRow]) -> list[dict[str, Any]]:
    """The rules for AlertSourceCreate, leaving out blank rows; Invalid for a rule that
    matches labels but moves nothing, or whose matchers cannot be read."""
    rules = []
    for number, row in enumerate(rows, start=1):
        if row.blank:
            continue
        match = parse_match(number, row.match)
        if not row.component_ids:
            raise Invalid(f"Rule {number}: choose the components it moves")
        rules.append(
            {
                "match": match,
                "component_ids": list(row.component_ids),
                "failure_status": row.failure_status,
                "auto_incident": row.auto_incident,
            }
        )
    return rules


def parse_match(number: int, raw: str) -> dict[str, str]:
    """`service=api, env=prod` as label matchers."""
    match: dict[str, str] = {}
    for pair in raw.split(","):
        if not pair.strip():
            continue
        key, equals, value = pair.partition("=")
        if not equals or not key.strip():
            raise Invalid(f"Rule {number}: write matchers as label=value, separated by commas")
        match[key.strip()] = value.strip()
    return match


def show_match(match: dict[str, str]) -> str:
    return ", ".join(f"{key}={value}" for key, value in match.items())


# --- publish targets ---------------------------------------------------------------------

TARGET_KINDS = {"dir": "Directory on the worker's host", "s3": "S3-compatible bucket"}
_TARGET_FIELDS = {
    "dir": ("path",),
    "s3": ("bucket", "prefix", "endpoint_url", "region", "access_key_id"),
}


def target_values(kind: str, form: FormData | None = None) -> Values:
    """The target form's fields as typed; the secret key is never among them."""
    values: Values = {name: text(form, name) if form else "" for name in _TARGET_FIELDS[kind]}
    if kind == "s3":
        values["public_read"] = form is not None and flag(form, "public_read")
    return values


def target_payload(kind: str, form: FormData) -> dict[str, Any]:
    config: dict[str, Any] = {k: v for k, v in target_values(kind, form).items() if v != ""}
    if kind == "s3":
        secret = text(form, "secret_access_key")
        if secret:
            config["secret_access_key"] = secret
    return {"kind": kind, "config": config}


# --- reading forms -----------------------------------------------------------------------


def text(form: FormData, name: str, *, strip: bool = True) -> str:
    """A field's value, stripped unless told otherwise."""
    value = raw_text(form, name)
    return value.strip() if strip else value
