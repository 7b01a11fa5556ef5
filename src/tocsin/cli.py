from __future__ import annotations

import asyncio
import json
import logging
import logging.config
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table
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
from tocsin.lib import jsonlog
from tocsin.monitors import service as monitors
from tocsin.monitors.models import Monitor, MonitorKind
from tocsin.monitors.scheduler import MonitorScheduler, all_monitor_ids
from tocsin.monitors.schemas import MonitorCreate
from tocsin.monitors.service import Outcome
from tocsin.notify import worker as delivery
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
monitor_app = typer.Typer(no_args_is_help=True, help="Manage and run monitors.")
app.add_typer(monitor_app, name="monitor")

out = Console()
err = Console(stderr=True)
T = TypeVar("T")

AUTOMATION_EMAIL = "automation@tocsin.invalid"
WATCH_SECONDS = 1.0


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
    workers: Annotated[
        int, typer.Option(min=1, max=256, help="Web processes (on PostgreSQL; SQLite: 1 writer).")
    ] = 1,
) -> None:
    """Run the web server (and, unless TOCSIN_RUN_WORKER=false or --workers > 1, the worker).

    Starts even while the database is down: the public pages are then served from
    the snapshots saved on disk, and changes answer 503 until it is back.
    """
    from granian import Granian
    from granian.constants import Interfaces, Loops

    settings = _settings()
    try:
        settings.resolved_secret_key()
    except SettingsError as exc:
        raise _fail(exc.message) from None
    if migrate:
        try:
            _migrate(settings)
        except typer.Exit:
            err.print("warning: starting without a migration; see the error above", markup=False)
    if workers > 1 and settings.run_worker:
        # Each web process would otherwise run its own copy of the background jobs.
        os.environ["TOCSIN_RUN_WORKER"] = "false"
        err.print("note: with --workers, run `tocsin worker` as its own process", markup=False)
    # Granian parses HTTP and writes responses in Rust; each worker process builds
    # the app from the environment, which `_settings()` has just validated.
    Granian(
        "tocsin.main:app_factory",
        factory=True,
        interface=Interfaces.ASGI,
        loop=Loops.uvloop,
        address=host,
        port=port,
        workers=workers,
        websockets=False,
        respawn_failed_workers=True,
        log_dictconfig=jsonlog.logging_config() if settings.log_format == "json" else None,
    ).serve()


@app.command("worker")
def run_worker() -> None:
    """Deliver notifications and run the scheduled jobs (maintenance start and end) until
    SIGTERM or Ctrl-C, which let the sends in flight finish first."""
    settings = _settings()
    if settings.log_format == "json":
        logging.config.dictConfig(jsonlog.logging_config())
    else:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s"
        )
        for name in jsonlog.QUIET:
            logging.getLogger(name).setLevel(logging.WARNING)
    engine = make_engine(settings.database_url)
    factory = make_sessionmaker(engine)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        logging.getLogger("tocsin.worker").info(
            "worker running; SIGTERM lets the sends in flight finish, then stops"
        )
        await worker.run_forever(
            factory, interval=settings.scheduler_interval_seconds, stop=stop, settings=settings
        )

    try:
        asyncio.run(main())
    finally:
        engine.dispose()


@app.command()
def deliveries(
    incident: Annotated[
        str | None, typer.Option(help="Only this incident's notifications.")
    ] = None,
    watch: Annotated[
        bool, typer.Option(help="Keep refreshing until every delivery is sent or failed.")
    ] = False,
    limit: Annotated[int, typer.Option(min=1, max=100, help="How many notifications.")] = 10,
) -> None:
    """Show how far the latest notifications have got: pending, sending, sent, failed."""
    settings = _settings()
    engine = make_engine(settings.database_url)
    factory = make_sessionmaker(engine)

    def read() -> list[delivery.FanOut]:
        with factory() as session:
            return delivery.fan_outs(session, incident_id=incident, limit=limit)

    try:
        fan_outs = read()
        if not fan_outs:
            out.print("no notifications yet", highlight=False)
            return
        with _progress() as progress:
            bars = {
                f.notification_id: progress.add_task(_label(f), total=f.total, detail=_detail(f))
                for f in fan_outs
            }
            while True:
                for f in fan_outs:
                    progress.update(
                        bars[f.notification_id], completed=f.done, total=f.total, detail=_detail(f)
                    )
                if not watch or all(f.done == f.total for f in fan_outs):
                    break
                time.sleep(WATCH_SECONDS)
                fan_outs = [f for f in read() if f.notification_id in bars]
    except OperationalError as exc:
        raise _fail(f"database: {exc.orig}") from None
    finally:
        engine.dispose()


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[detail]}"),
        console=out,
    )


def _label(fan_out: delivery.FanOut) -> str:
    when = fan_out.created_at.strftime("%Y-%m-%d %H:%M")
    title = f" {escape(fan_out.title)}" if fan_out.title else ""
    return f"{when} {fan_out.kind.value}{title}"


def _detail(fan_out: delivery.FanOut) -> str:
    return " ".join(f"{status} {count}" for status, count in fan_out.counts.items())


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


@app.command("export")
def export(
    dest: Annotated[Path, typer.Argument(help="Directory to write the site into (replaced).")],
    page_id: Annotated[
        str | None, typer.Option("--page", help="Id of the page (default: the default page).")
    ] = None,
    base_url: Annotated[
        str | None, typer.Option(help="The live site's address, for absolute links.")
    ] = None,
    gzip: Annotated[bool, typer.Option(help="Write a .gz beside each text file.")] = True,
) -> None:
    """Write the public site as static files: pages, the v2 API as .json, feeds, badges."""
    from tocsin.pages.export import export_site
    from tocsin.pages.render import Renderer
    from tocsin.pages.state import load_state

    settings = _settings()
    with _session(settings) as session:
        page = pages.get_page(session, page_id) if page_id else _default_page(session, settings)
        state = load_state(session, page=page, now=utcnow(), base_url=base_url or settings.base_url)
    try:
        written = export_site(state, Renderer(relative_links=True), dest, precompress=gzip)
    except DomainError as exc:
        raise _fail(exc.message) from None
    except OSError as exc:
        raise _fail(f"{dest}: {exc.strerror or exc}") from None
    out.print(f"exported {len(written)} files to {dest}", highlight=False)


@app.command("setup-link")
def setup_link() -> None:
    """Print the link that creates the first account (only while there is none)."""
    from tocsin.accounts import signin

    settings = _settings()
    with _session(settings) as session:
        if not signin.nobody_can_sign_in(session):
            raise _fail("setup is closed: accounts exist; sign in, or reset a password")
    out.print(signin.setup_link(settings), highlight=False, soft_wrap=True)


@app.command()
def prune() -> None:
    """Delete what has served its purpose (the worker also does this hourly): expired
    sessions and rate-limit buckets, subscribers 30 days after unsubscribing, finished
    notifications older than TOCSIN_DELIVERY_RETENTION_DAYS with their delivery log."""
    from tocsin import housekeeping

    settings = _settings()
    with _session(settings) as session:
        pruned = housekeeping.prune(session, settings=settings, now=utcnow())
    out.print(
        f"pruned {pruned.rate_limits} rate-limit buckets, {pruned.sessions} sessions, "
        f"{pruned.subscribers} subscribers, {pruned.notifications} notifications, "
        f"{pruned.account_emails} account emails",
        highlight=False,
    )


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


# --- monitors -------------------------------------------------------------------------------


@monitor_app.command("add")
def monitor_add(
    name: Annotated[str, typer.Option(help="What the monitor watches, e.g. 'API'.")],
    kind: Annotated[MonitorKind, typer.Option(help="The kind of check.")],
    target: Annotated[
        str, typer.Option(help="URL (http), host:port (tcp, tls) or DNS name (dns).")
    ] = "",
    interval: Annotated[int, typer.Option(help="Seconds between checks (at least 10).")] = 60,
    timeout: Annotated[float, typer.Option(help="Seconds each check may take.")] = 10.0,
    component: Annotated[
        list[str] | None, typer.Option(help="Id of a component it moves (repeatable).")
    ] = None,
    auto_incident: Annotated[bool, typer.Option(help="Open incidents by itself.")] = False,
    config: Annotated[str, typer.Option(help="Kind-specific settings as JSON.")] = "{}",
) -> None:
    """Add a monitor to the default page."""
    settings = _settings()
    settings_for_kind = _json_object(config)
    data = _validated(
        lambda: MonitorCreate(
            name=name,
            kind=kind,
            target=target,
            interval_seconds=interval,
            timeout_seconds=timeout,
            component_ids=component or [],
            auto_incident=auto_incident,
            config=settings_for_kind,
        )
    )
    with _session(settings) as session:
        monitor = monitors.create_monitor(
            session,
            page=_default_page(session, settings),
            data=data,
            actor=CLI,
            allow_private=settings.monitors_allow_private,
        )
        path = monitors.ping_path(monitor)
    out.print(f"added monitor {monitor.id} ({escape(monitor.name)})", highlight=False)
    if path:
        out.print(f"ping URL: {settings.base_url.rstrip('/')}{path}", highlight=False)


def _json_object(text: str) -> dict[str, object]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _fail(f"--config: {exc.msg}") from None
    if not isinstance(value, dict):
        raise _fail("--config must be a JSON object")
    return value


@monitor_app.command("list")
def monitor_list() -> None:
    """List the default page's monitors and their state."""
    settings = _settings()
    with _session(settings) as session:
        rows = monitors.list_monitors(session, page_id=_default_page(session, settings).id)
    table = Table("id", "name", "kind", "target", "every", "state", "last check")
    for m in rows:
        last = m.last_checked_at.strftime("%Y-%m-%d %H:%M:%S") if m.last_checked_at else "-"
        state = "paused" if m.paused else m.state.value
        table.add_row(
            m.id,
            escape(m.name),
            m.kind.value,
            escape(m.target),
            f"{m.interval_seconds} s",
            state,
            last,
        )
    out.print(table)


@monitor_app.command("run-once")
def monitor_run_once(
    monitor_id: Annotated[
        list[str] | None, typer.Option("--id", help="Run this monitor (repeatable).")
    ] = None,
    run_all: Annotated[bool, typer.Option("--all", help="Run every monitor, due or not.")] = False,
) -> None:
    """Run the due monitors (or the ones named, or all) once now, and print the results."""
    settings = _settings()
    with _session(settings) as session:
        ids = monitor_id or (all_monitor_ids(session) if run_all else None)
    engine = make_engine(settings.database_url)
    try:
        scheduler = MonitorScheduler(make_sessionmaker(engine), settings)
        outcomes = asyncio.run(scheduler.run_once(ids))
        with make_sessionmaker(engine)() as session:
            states = {m.id: m for m in session.scalars(select(Monitor))}
    except OperationalError as exc:
        raise _fail(f"database: {exc.orig}") from None
    finally:
        engine.dispose()
    out.print(_results_table(outcomes, states))
    if not outcomes:
        out.print("no monitor was due", highlight=False)


def _results_table(outcomes: list[Outcome], states: dict[str, Monitor]) -> Table:
    table = Table("name", "kind", "result", "latency", "state", "error")
    for o in outcomes:
        monitor = states.get(o.due.id)
        latency = f"{o.result.latency_ms:.0f} ms" if o.result.latency_ms is not None else "-"
        table.add_row(
            escape(monitor.name if monitor else o.due.id),
            o.due.kind.value,
            "[green]ok[/]" if o.result.ok else "[red]failed[/]",
            latency,
            monitor.state.value if monitor else "-",
            escape(o.result.error or ""),
        )
    return table


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
