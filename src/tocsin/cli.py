from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from tocsin import migrate as migrations
from tocsin import worker
from tocsin.accounts import service as accounts
from tocsin.accounts.models import Membership, Role, User
from tocsin.accounts.schemas import ApiKeyCreate, UserCreate
from tocsin.audit.service import CLI
from tocsin.components import service as components
from tocsin.db import make_engine, make_sessionmaker, transaction, utcnow
from tocsin.errors import DomainError
from tocsin.incidents import service as incidents
from tocsin.pages import service as pages
from tocsin.pages.models import Page
from tocsin.settings import Settings, SettingsError

app = typer.Typer(
    add_completion=False,
    pretty_exceptions_enable=False,
    help="Tocsin status pages.",
)
user_app = typer.Typer(no_args_is_help=True, help="Manage users.")
apikey_app = typer.Typer(no_args_is_help=True, help="Manage API keys.")
app.add_typer(user_app, name="user")
app.add_typer(apikey_app, name="apikey")

out = Console()
err = Console(stderr=True)
T = TypeVar("T")

AUTOMATION_EMAIL = "automation@tocsin.invalid"


@app.callback(invoke_without_command=True)
def _root(ctx: typer.Context) -> None:
    if ctx.invoked_subcommand is None:
        out.print(ctx.get_help(), highlight=False, markup=False)


def _fail(message: str) -> typer.Exit:
    err.print(f"error: {message}", highlight=False, markup=False, soft_wrap=True)
    return typer.Exit(2)


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        raise _fail(f"TOCSIN_{str(first['loc'][0]).upper()}: {first['msg']}") from None


@contextmanager
def _session(settings: Settings) -> Iterator[Session]:
    """A committed transaction on an up-to-date database, with domain errors as exit code 2."""
    _upgrade(settings)
    engine = make_engine(settings.database_url)
    try:
        with transaction(make_sessionmaker(engine)) as session:
            yield session
    except DomainError as exc:
        raise _fail(exc.message) from None
    except OperationalError as exc:
        raise _fail(f"database: {exc.orig}") from None
    finally:
        engine.dispose()


def _default_page(session: Session, settings: Settings) -> Page:
    return pages.ensure_default_page(session, name=settings.page_name)


def _validated(build: Callable[[], T]) -> T:
    try:
        return build()
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise _fail(f"{field}: {first['msg']}") from None


def _upgrade(settings: Settings) -> None:
    engine = make_engine(settings.database_url)
    try:
        migrations.upgrade(engine)
    except OperationalError as exc:
        raise _fail(f"database: {exc.orig}") from None
    finally:
        engine.dispose()


def _migrate(settings: Settings) -> None:
    with _session(settings) as session:
        _default_page(session, settings)


@app.command()
def migrate() -> None:
    """Bring the database schema up to date and make sure a default page exists."""
    settings = _settings()
    _migrate(settings)
    out.print("database is up to date")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    migrate: Annotated[bool, typer.Option(help="Migrate the database before starting.")] = True,
) -> None:
    """Run the web server (and, unless TOCSIN_RUN_WORKER=false, the worker) in one process."""
    import uvicorn

    from tocsin.main import create_app

    settings = _settings()
    try:
        settings.resolved_secret_key()
    except SettingsError as exc:
        raise _fail(exc.message) from None
    if migrate:
        _migrate(settings)
    uvicorn.run(create_app(settings), host=host, port=port, proxy_headers=True, log_level="info")


@app.command("worker")
def run_worker() -> None:
    """Run the background jobs (maintenance start and end) until SIGTERM or Ctrl-C."""
    settings = _settings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    engine = make_engine(settings.database_url)
    factory = make_sessionmaker(engine)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await worker.run_forever(factory, interval=settings.scheduler_interval_seconds, stop=stop)

    try:
        asyncio.run(main())
    finally:
        engine.dispose()


@app.command()
def demo(
    replace: Annotated[
        bool, typer.Option(help="Load even if the page already has components.")
    ] = False,
) -> None:
    """Fill the default page with a realistic demo: components, 90 days of history, incidents."""
    from tocsin.demo import load_demo

    settings = _settings()
    with _session(settings) as session:
        page = _default_page(session, settings)
        if _has_components(session, page) and not replace:
            raise _fail("the page already has components; pass --replace to clear it first")
        _clear(session, page)
        load_demo(session, page=page, now=utcnow(), actor=CLI)
    out.print(f"demo loaded; open {settings.base_url}")


def _has_components(session: Session, page: Page) -> bool:
    return bool(components.list_components(session, page.id))


def _clear(session: Session, page: Page) -> None:
    for incident in incidents.list_incidents(session, page_id=page.id):
        incidents.delete_incident(session, incident=incident, actor=CLI)
    for component in components.list_components(session, page.id):
        components.delete_component(session, component=component, actor=CLI)


def _read_password() -> str:
    if sys.stdin.isatty():
        password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
        return password
    return sys.stdin.readline().rstrip("\r\n")


@user_app.command("create")
def user_create(
    email: Annotated[str, typer.Option(help="The user's email address.")],
    role: Annotated[Role, typer.Option(help="Role on the default page.")] = Role.VIEWER,
) -> None:
    """Create a user; the password is read from standard input (or prompted for)."""
    settings = _settings()
    password = _read_password()
    data = _validated(lambda: UserCreate(email=email, password=password, role=role))
    with _session(settings) as session:
        page = _default_page(session, settings)
        user = accounts.create_user(session, page=page, data=data, actor=CLI)
    out.print(f"created {user.email} ({role.value} of {page.name})", highlight=False)


def _key_owner(session: Session, page: Page, email: str | None) -> User:
    if email is not None:
        return accounts.get_user_by_email(session, email)
    owner = session.scalars(
        select(User)
        .join(Membership)
        .where(Membership.page_id == page.id, Membership.role == Role.OWNER)
        .order_by(User.created_at)
    ).first()
    if owner is not None:
        return owner
    # No owner yet: keys for scripts belong to an automation account that cannot sign in.
    return accounts.create_service_user(session, page=page, email=AUTOMATION_EMAIL, actor=CLI)


@apikey_app.command("create")
def apikey_create(
    name: Annotated[str, typer.Option(help="What the key is for, e.g. 'deploy script'.")],
    user: Annotated[str | None, typer.Option(help="Email of the user who owns the key.")] = None,
) -> None:
    """Create an API key; the key is printed alone on the last line, and shown only once."""
    settings = _settings()
    data = _validated(lambda: ApiKeyCreate(name=name))
    with _session(settings) as session:
        page = _default_page(session, settings)
        owner = _key_owner(session, page, user)
        created = accounts.create_api_key(session, user=owner, data=data, actor=CLI)
        count = session.scalar(select(func.count()).where(Membership.user_id == owner.id))
    out.print(
        f"API key {name!r} for {owner.email} ({count} page(s)); store it now:", highlight=False
    )
    print(created.secret)


def main() -> None:
    """Run the CLI; usage errors print one line and exit with code 2."""
    try:
        code = app(standalone_mode=False)
    except typer.Abort:
        code = 1
    except typer.TyperException as exc:
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        if message:
            err.print(f"error: {message}", highlight=False, markup=False, soft_wrap=True)
        code = 2
    sys.exit(code if isinstance(code, int) else 0)
