from __future__ import annotations

import pytest

from tocsin.lib import csrf

BASE = "https://status.example.com"


def test_it_matches_a_token_for_the_same_key() -> None:
    assert csrf.matches("key", csrf.token("key"))


def test_it_salts_every_token() -> None:
    first, second = csrf.token("key"), csrf.token("key")
    assert first != second
    assert csrf.matches("key", first) and csrf.matches("key", second)


def test_it_refuses_a_token_of_another_key() -> None:
    assert not csrf.matches("other", csrf.token("key"))


def test_it_refuses_any_token_for_an_empty_key() -> None:
    assert not csrf.matches("", csrf.token(""))


def test_it_refuses_a_token_of_another_shape_without_raising() -> None:
    salt = csrf.token("key").partition(".")[0]
    for presented in ("", "salt-only", ".mac-only", f"{salt}.", f"{salt}.é"):
        assert not csrf.matches("key", presented), presented


def test_it_keeps_a_nonce_of_our_shape() -> None:
    fresh = csrf.nonce(None)
    assert len(fresh) == 43
    assert csrf.nonce(fresh) == fresh


@pytest.mark.parametrize("cookie", ["", "short", "x" * 42 + "!", "x" * 44])
def test_it_replaces_a_nonce_of_another_shape(cookie: str) -> None:
    replaced = csrf.nonce(cookie)
    assert replaced != cookie
    assert len(replaced) == 43


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"origin": BASE},
        {"origin": "http://localhost:8000", "host": "localhost:8000"},
        {"sec-fetch-site": "same-origin", "origin": BASE},
    ],
)
def test_it_accepts_our_own_origin(headers: dict[str, str]) -> None:
    assert csrf.same_origin(headers, BASE)


@pytest.mark.parametrize(
    "headers",
    [
        {"sec-fetch-site": "cross-site"},
        {"origin": "https://evil.example"},
        {"origin": "null"},
        {"origin": "https://evil.example", "host": "status.example.com:8443"},
    ],
)
def test_it_refuses_another_origin(headers: dict[str, str]) -> None:
    assert not csrf.same_origin(headers, BASE)
