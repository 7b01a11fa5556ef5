from __future__ import annotations

import csv
import io

import pytest

from tocsin.lib.csvsafe import neutralise, restore, write_csv


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ('=HYPERLINK("https://evil.example","x")', '\'=HYPERLINK("https://evil.example","x")'),
        ("+1", "'+1"),
        ("-2", "'-2"),
        ("@x", "'@x"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("ann@example.com", "ann@example.com"),
        ("a=b", "a=b"),
        ("", ""),
    ],
)
def test_it_neutralises_cells_a_spreadsheet_would_evaluate(cell: str, expected: str) -> None:
    assert neutralise(cell) == expected


@pytest.mark.parametrize("cell", ["=1+1", "+12025550105", "-2", "@x", "plain", "'quoted", ""])
def test_restore_undoes_neutralise(cell: str) -> None:
    assert restore(neutralise(cell)) == cell


def test_it_keeps_a_leading_quote_that_guards_nothing() -> None:
    assert restore("'quoted") == "'quoted"


def test_it_writes_utf8_with_a_bom_and_every_cell_quoted() -> None:
    data = write_csv(["address", "note"], [["ännä@example.com", "=1+1"], ['a,"b"', "x\ny"]])

    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    assert text.splitlines()[0] == '"address","note"'
    assert list(csv.reader(io.StringIO(text))) == [
        ["address", "note"],
        ["ännä@example.com", "'=1+1"],
        ['a,"b"', "x\ny"],
    ]
