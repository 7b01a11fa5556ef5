"""Subscribing people on their behalf, one by one or from a CSV file, and exporting them.

The file format (shown on the import screen):

- a header row naming the columns, in any order; unknown columns are ignored, so a file
  exported here imports as it is;
- either `email`, or `address` with `channel` (email, sms, webhook, slack, discord or
  teams; email when empty) and optionally `phone_country` for national phone numbers;
- optionally `components`: names or ids separated by `;`, empty for the whole page;
- a file without a header row is one email address per line.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal, get_args

from pydantic import ValidationError
from sqlalchemy.orm import Session

from tocsin.audit.service import Actor
from tocsin.components import service as components
from tocsin.components.models import Component
from tocsin.errors import DomainError, Invalid
from tocsin.lib.csvsafe import restore, write_csv
from tocsin.lib.isotime import iso
from tocsin.notify import outbox
from tocsin.notify import service as subscribers
from tocsin.notify.models import NotificationKind, Subscriber, SubscriberMode, SubscriberState
from tocsin.notify.schemas import Mode, StateFilter, SubscriberCreate, SubscriberListing
from tocsin.pages.models import Page

MAX_BYTES = 2 * 1024 * 1024
MAX_ROWS = 10_000
MODES: tuple[str, ...] = get_args(Mode)
EXPORT_HEADER = (
    "channel",
    "address",
    "phone_country",
    "components",
    "state",
    "created_at",
    "confirmed_at",
)
_EXPORT_BATCH = 100
_SHOWN_ADDRESS = 200
_ADDRESS_NAMES = {"email": "email address", "sms": "phone number"}

Outcome = Literal["added", "duplicate", "refused"]


def enrol(
    session: Session, *, page: Page, data: SubscriberCreate, actor: Actor, resend: bool = False
) -> bool:
    """Subscribe, and queue the confirmation the subscriber must answer unless it was
    skipped. False if the address is already subscribed: nothing changes then, except
    that with `resend` one still unconfirmed gets its confirmation again."""
    created = subscribers.create_subscriber(session, page=page, data=data, actor=actor)
    subscriber = created.subscriber
    if created.token is None:
        if resend and subscriber.state is SubscriberState.UNCONFIRMED:
            resend_confirmation(session, page=page, subscriber=subscriber, actor=actor)
        return False
    if subscriber.state is SubscriberState.UNCONFIRMED:
        _queue_confirmation(session, page, subscriber)
    return True


def resend_confirmation(
    session: Session, *, page: Page, subscriber: Subscriber, actor: Actor
) -> None:
    """Queue another confirmation message; Invalid unless the subscriber is unconfirmed
    and can receive one."""
    if subscriber.mode is SubscriberMode.WEBHOOK:
        raise Invalid(
            "a webhook has nobody to confirm it: unsubscribe it and add it again "
            "(webhooks added in the admin are confirmed at once)"
        )
    subscribers.resend_confirmation(session, subscriber=subscriber, actor=actor)
    _queue_confirmation(session, page, subscriber)


def _queue_confirmation(session: Session, page: Page, subscriber: Subscriber) -> None:
    outbox.notify_subscriber(
        session,
        page=page,
        subscriber=subscriber,
        kind=NotificationKind.CONFIRM_SUBSCRIPTION,
        extra={},
    )


def skips_confirmation(mode: str, asked: bool) -> bool:
    # A webhook receiver has nobody to click a link (the webhook channel never sends
    # confirmations), so an unconfirmed webhook would stay silent for ever.
    return asked or mode == "webhook"


def error_message(exc: ValidationError) -> str:
    """The first problem, as `email: not a valid email address`."""
    first = exc.errors()[0]
    message = str(first["msg"]).removeprefix("Value error, ")
    where = ".".join(str(part) for part in first["loc"])
    return f"{where}: {message}" if where else message


# --- import ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportRow:
    line: int
    address: str
    outcome: Outcome
    reason: str = ""


@dataclass
class ImportReport:
    rows: list[ImportRow] = field(default_factory=list)

    def count(self, outcome: Outcome) -> int:
        return sum(1 for row in self.rows if row.outcome == outcome)

    def with_outcome(self, outcome: Outcome) -> list[ImportRow]:
        return [row for row in self.rows if row.outcome == outcome]


@dataclass(frozen=True)
class ImportOptions:
    skip_confirmation: bool
    allow_private: bool


def import_csv(
    session: Session, *, page: Page, raw: bytes, options: ImportOptions, actor: Actor
) -> ImportReport:
    """Subscribe every good row; refuse the others one by one, with the reason.

    Invalid (and nothing is written) if the file as a whole cannot be read.
    """
    records = read_records(raw)
    names = _ComponentNames(components.list_components(session, page.id))
    report = ImportReport()
    for line, record in records:
        address = _address_of(record)
        shown = address[:_SHOWN_ADDRESS]
        try:
            data = _subscriber_data(record, address, names, options)
            added = enrol(session, page=page, data=data, actor=actor)
        except ValidationError as exc:
            report.rows.append(ImportRow(line, shown, "refused", error_message(exc)))
            continue
        except (ValueError, DomainError) as exc:
            report.rows.append(ImportRow(line, shown, "refused", _reason(exc)))
            continue
        outcome: Outcome = "added" if added else "duplicate"
        reason = "" if added else "already subscribed"
        report.rows.append(ImportRow(line, shown, outcome, reason))
    return report


def _reason(exc: ValueError | DomainError) -> str:
    return exc.message if isinstance(exc, DomainError) else str(exc)


def read_records(raw: bytes) -> list[tuple[int, dict[str, str]]]:
    """(line number, {column: value}) for each non-blank row; Invalid if the file is too
    big, not UTF-8, or not CSV."""
    if len(raw) > MAX_BYTES:
        raise Invalid(f"the file is larger than {MAX_BYTES // 1024 // 1024} MB; split it")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Invalid("the file is not UTF-8 text; save it as CSV UTF-8") from None
    try:
        return _records(text)
    except csv.Error as exc:
        raise Invalid(f"the file is not valid CSV: {exc}") from None


def _records(text: str) -> list[tuple[int, dict[str, str]]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    records: list[tuple[int, dict[str, str]]] = []
    for row in reader:
        cells = [restore(cell.strip()) for cell in row]
        if not any(cells):
            continue
        if header is None:
            header, is_data = _header(cells)
            if not is_data:
                continue
        if len(records) == MAX_ROWS:
            raise Invalid(f"the file has more than {MAX_ROWS:,} rows; split it")
        records.append((reader.line_num, dict(zip(header, cells, strict=False))))
    return records


def _header(cells: list[str]) -> tuple[list[str], bool]:
    """The column names, and whether the first row was data (a file of bare addresses)."""
    names = [cell.lower() for cell in cells]
    if "email" in names or "address" in names:
        return names, False
    if "@" in cells[0]:
        return ["email"], True
    raise Invalid("the first row must name the columns: email, or channel and address")


def _address_of(record: dict[str, str]) -> str:
    return record.get("address") or record.get("email") or ""


def _subscriber_data(
    record: dict[str, str], address: str, names: _ComponentNames, options: ImportOptions
) -> SubscriberCreate:
    if record.get("state") == SubscriberState.UNSUBSCRIBED:
        raise ValueError("unsubscribed: only they can subscribe again")
    return subscriber_data(
        mode=(record.get("channel") or "email").lower(),
        address=address,
        phone_country=record.get("phone_country") or None,
        component_ids=names.ids(record.get("components", "")),
        skip_confirmation=options.skip_confirmation,
        allow_private=options.allow_private,
    )


def subscriber_data(
    *,
    mode: str,
    address: str,
    phone_country: str | None,
    component_ids: list[str] | None,
    skip_confirmation: bool,
    allow_private: bool,
) -> SubscriberCreate:
    """One subscriber's validated input; ValueError (a pydantic ValidationError among
    them) says what is wrong. An endpoint at a private address is refused unless
    `allow_private`."""
    if mode not in MODES:
        raise ValueError(f"channel must be one of {', '.join(MODES)}")
    if not address:
        raise ValueError(f"enter the {_ADDRESS_NAMES.get(mode, 'endpoint URL')}")
    fields: dict[str, object] = {
        "mode": mode,
        "skip_confirmation_notification": skips_confirmation(mode, skip_confirmation),
        "component_ids": component_ids,
    }
    if mode == "email":
        fields["email"] = address
    elif mode == "sms":
        fields["phone_number"] = address
        fields["phone_country"] = phone_country
    else:
        fields["endpoint"] = address
    data = SubscriberCreate.model_validate(fields)
    if data.endpoint is not None:
        refused = subscribers.refused_endpoint(data.endpoint, allow_private=allow_private)
        if refused is not None:
            raise ValueError(f"endpoint: {refused}")
    return data


class _ComponentNames:
    """Components as a CSV names them: by id, or by name when only one has it."""

    def __init__(self, rows: list[Component]) -> None:
        self._ids = {row.id for row in rows}
        by_name: dict[str, list[str]] = {}
        for row in rows:
            by_name.setdefault(row.name.casefold(), []).append(row.id)
        self._by_name = by_name

    def ids(self, cell: str) -> list[str] | None:
        wanted = [part.strip() for part in cell.split(";") if part.strip()]
        return [self._id(name) for name in wanted] or None

    def _id(self, name: str) -> str:
        if name in self._ids:
            return name
        found = self._by_name.get(name.casefold(), [])
        if len(found) == 1:
            return found[0]
        if found:
            raise ValueError(f"several components are named {name!r}; use its id")
        raise ValueError(f"no component is named {name!r}")


# --- export ----------------------------------------------------------------------------


def export_csv(
    session: Session,
    *,
    page_id: str,
    mode: Mode | None,
    state: StateFilter,
    q: str | None,
) -> bytes:
    """Every page subscriber the list filter shows, in the import format plus state and dates."""
    names = {c.id: c.name for c in components.list_components(session, page_id)}
    rows = [_export_row(row, names) for row in _all(session, page_id, mode, state, q)]
    return write_csv(EXPORT_HEADER, rows)


def _all(
    session: Session, page_id: str, mode: Mode | None, state: StateFilter, q: str | None
) -> Iterator[Subscriber]:
    offset = 0
    while True:
        listing = SubscriberListing(mode=mode, state=state, q=q, offset=offset, limit=_EXPORT_BATCH)
        batch = subscribers.list_subscribers(session, page_id=page_id, listing=listing)
        yield from batch
        if len(batch) < _EXPORT_BATCH:
            return
        offset += _EXPORT_BATCH


def _export_row(row: Subscriber, names: dict[str, str]) -> list[str]:
    chosen = "; ".join(
        sorted(names.get(link.component_id, link.component_id) for link in row.components)
    )
    return [
        row.mode.value,
        row.address,
        (row.phone_country or "") if row.mode is SubscriberMode.SMS else "",
        "" if row.all_components else chosen,
        row.state.value,
        iso(row.created_at) or "",
        iso(row.confirmed_at) or "",
    ]
