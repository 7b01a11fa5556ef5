"""CSV files that open safely in a spreadsheet.

A cell that starts with `=`, `+`, `-` or `@` (or a tab or carriage return, which some
spreadsheets skip before looking) is read as a formula, and a formula can run commands
or send data away (`=HYPERLINK(...)`, DDE). OWASP's advice: prefix such cells with `'`,
which the spreadsheet shows as text, and quote every cell.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_BOM = "\ufeff"


def neutralise(cell: str) -> str:
    """The cell as text a spreadsheet will not evaluate."""
    return f"'{cell}" if cell.startswith(TRIGGERS) else cell


def restore(cell: str) -> str:
    """Undo `neutralise`, so a file we exported can be read back (`'+1202…` → `+1202…`)."""
    if cell.startswith("'") and cell[1:].startswith(TRIGGERS):
        return cell[1:]
    return cell


def write_csv(header: Sequence[str], rows: Iterable[Sequence[str]]) -> bytes:
    """UTF-8 with a byte order mark (so Excel picks the encoding), every cell quoted
    and neutralised."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow([neutralise(cell) for cell in header])
    for row in rows:
        writer.writerow([neutralise(cell) for cell in row])
    return (_BOM + buffer.getvalue()).encode("utf-8")
