from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tocsin.accounts import service as accounts
from tocsin.accounts.models import Role, User
from tocsin.pages import service as pages


def tocsin(
    database_url: str, tmp_path: Path, *args: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "TOCSIN_DATABASE_URL": database_url,
        "TOCSIN_VAR_DIR": str(tmp_path / "var"),
        "TOCSIN_PAGE_NAME": "Acme Cloud",
    }
    return subprocess.run(
        [sys.executable, "-m", "tocsin", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_migrate_creates_the_default_page(
    database_url: str, tmp_path: Path, factory: sessionmaker[Session]
) -> None:
    result = tocsin(database_url, tmp_path, "migrate")
    assert result.returncode == 0, result.stderr
    with factory() as session:
        page = pages.default_page(session)
        assert page is not None
        assert page.name == "Acme Cloud"


def test_user_create_reads_the_password_from_stdin(
    database_url: str, tmp_path: Path, factory: sessionmaker[Session]
) -> None:
    result = tocsin(
        database_url,
        tmp_path,
        "user",
        "create",
        "--email",
        "Alice@Example.com",
        "--role",
        "owner",
        stdin="correct horse battery\n",
    )
    assert result.returncode == 0, result.stderr
    with factory() as session:
        user = accounts.get_user_by_email(session, "alice@example.com")
        assert accounts.verify_password(user, "correct horse battery")
        assert not accounts.verify_password(user, "wrong")
        page = pages.default_page(session)
        assert page is not None
        assert accounts.role_on(session, user_id=user.id, page_id=page.id) is Role.OWNER
        assert "correct horse" not in (user.password_hash or "")


def test_apikey_create_prints_the_key_alone_on_the_last_line(
    database_url: str, tmp_path: Path, factory: sessionmaker[Session]
) -> None:
    result = tocsin(database_url, tmp_path, "apikey", "create", "--name", "deploy script")
    assert result.returncode == 0, result.stderr
    key = result.stdout.strip().splitlines()[-1]
    assert key.startswith("tocsin_")
    assert " " not in key
    with factory() as session:
        found = accounts.authenticate_api_key(session, key)
        assert found is not None
        assert found.name == "deploy script"
        assert found.key_hash != key
        owner = session.scalars(select(User).where(User.id == found.user_id)).one()
        assert owner.password_hash is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("user", "create", "--email", "not-an-email", "--role", "owner"), "email"),
        (("user", "create", "--email", "a@example.com", "--role", "emperor"), "emperor"),
        (("apikey", "create", "--name", "x", "--user", "nobody@example.com"), "no user"),
        (("serve", "--port", "99999"), "--port"),
        (("frobnicate",), "frobnicate"),
    ],
)
def test_bad_arguments_give_one_line_and_exit_code_2(
    database_url: str,
    tmp_path: Path,
    factory: sessionmaker[Session],
    args: tuple[str, ...],
    message: str,
) -> None:
    tocsin(database_url, tmp_path, "migrate")
    result = tocsin(database_url, tmp_path, *args, stdin="long enough password\n")
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_a_duplicate_user_is_refused(
    database_url: str, tmp_path: Path, factory: sessionmaker[Session]
) -> None:
    args = ("user", "create", "--email", "bob@example.com")
    assert tocsin(database_url, tmp_path, *args, stdin="long enough password\n").returncode == 0
    again = tocsin(database_url, tmp_path, *args, stdin="long enough password\n")
    assert again.returncode == 2
    assert "already exists" in again.stderr


def test_production_refuses_to_start_without_a_secret_key(tmp_path: Path) -> None:
    env = {**os.environ, "TOCSIN_ENV": "production", "TOCSIN_VAR_DIR": str(tmp_path)}
    env.pop("TOCSIN_SECRET_KEY", None)
    result = subprocess.run(
        [sys.executable, "-m", "tocsin", "serve", "--no-migrate"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "TOCSIN_SECRET_KEY" in result.stderr


def test_the_worker_stops_cleanly_on_sigterm(database_url: str, tmp_path: Path) -> None:
    env = {**os.environ, "TOCSIN_DATABASE_URL": database_url, "TOCSIN_VAR_DIR": str(tmp_path)}
    worker = subprocess.Popen(
        [sys.executable, "-m", "tocsin", "worker"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert worker.stderr is not None
    # Signal only once the handlers are in place (startup takes seconds on a busy machine).
    deadline = time.monotonic() + 60
    started = []
    while time.monotonic() < deadline:
        line = worker.stderr.readline()
        started.append(line)
        if "worker running" in line or not line:
            break
    assert "worker running" in started[-1], "".join(started)
    # Logs are JSON lines, as `tocsin serve` writes them (TOCSIN_LOG_FORMAT=json).
    assert json.loads(started[-1])["logger"] == "tocsin.worker"
    worker.send_signal(signal.SIGTERM)
    _, stderr = worker.communicate(timeout=15)
    assert worker.returncode == 0, stderr
    assert "Traceback" not in "".join(started) + stderr


def test_setup_link_prints_the_first_run_link_until_an_account_exists(
    database_url: str, tmp_path: Path, factory: sessionmaker[Session]
) -> None:
    first = tocsin(database_url, tmp_path, "setup-link")
    assert first.returncode == 0, first.stderr
    assert re.fullmatch(r"http://127\.0\.0\.1:8000/admin/setup\?token=[0-9a-f]{32}\n", first.stdout)

    created = tocsin(
        database_url,
        tmp_path,
        "user",
        "create",
        "--email",
        "a@example.com",
        "--role",
        "owner",
        stdin="correct horse battery\n",
    )
    assert created.returncode == 0, created.stderr
    closed = tocsin(database_url, tmp_path, "setup-link")
    assert closed.returncode == 2
    assert "setup is closed" in closed.stderr
