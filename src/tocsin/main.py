from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from granian.utils.proxies import wrap_asgi_with_proxy_headers
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from sqlalchemy.orm import Session, sessionmaker
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Receive, Scope, Send

from tocsin import __version__, worker
from tocsin.accounts import signin
from tocsin.admin import routes as admin_routes
from tocsin.admin.auth import SignInRequired, sign_in_redirect
from tocsin.api import docs as api_docs
from tocsin.api import routes as api_routes
from tocsin.db import make_engine, make_sessionmaker, transaction
from tocsin.errors import DomainError
from tocsin.lib.headers import SecurityHeaders, security_headers
from tocsin.lib.jsonsuffix import StripJsonSuffix
from tocsin.lib.nulguard import RejectNul
from tocsin.metrics import Metrics, RequestMetrics
from tocsin.monitors import alert_routes as alert_hooks
from tocsin.monitors import routes as monitor_routes
from tocsin.pages import i18n, public_api
from tocsin.pages import routes as page_routes
from tocsin.pages import service as pages
from tocsin.pages import subscribe as subscribe_routes
from tocsin.pages.render import Renderer
from tocsin.pages.serve import PublicAnswers
from tocsin.pages.store import SnapshotStore, follow_commits
from tocsin.settings import Settings

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"


class Tocsin(FastAPI):
    """The app, answering public snapshot hits before any middleware runs.

    A hit only needs a dict lookup; going through Starlette's error handling,
    our middleware and the router would cost several times the answer itself.
    """

    public: PublicAnswers | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.public is not None:
            found = self.public.find(scope)
            if found is not None:
                await send(found[0])
                await send(found[1])
                return
        await super().__call__(scope, receive, send)


def create_app(settings: Settings | None = None) -> Tocsin:
    settings = settings or Settings()
    settings.resolved_secret_key()

    @contextlib.asynccontextmanager
    async def lifespan(app: Tocsin) -> AsyncIterator[None]:
        engine = make_engine(settings.database_url)
        factory = make_sessionmaker(engine)
        app.state.engine = engine
        app.state.sessionmaker = factory
        _ensure_default_page(factory, settings)
        snapshots = _start_snapshots(app, settings, factory)
        stop = asyncio.Event()
        task = None
        if settings.run_worker:
            task = asyncio.create_task(
                worker.run_forever(
                    factory,
                    interval=settings.scheduler_interval_seconds,
                    stop=stop,
                    settings=settings,
                )
            )
        try:
            yield
        finally:
            stop.set()
            if task is not None:
                await task
            await asyncio.to_thread(snapshots.stop)
            engine.dispose()

    app = Tocsin(
        title="Tocsin",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.settings = settings
    app.state.renderer = Renderer()
    app.state.metrics = Metrics()
    app.add_middleware(StripJsonSuffix, prefix="/api/v1/")
    app.add_middleware(RejectNul)
    app.add_middleware(SecurityHeaders, hsts=settings.base_url.startswith("https://"))
    app.add_middleware(RequestMetrics, metrics=app.state.metrics)
    app.add_middleware(wrap_asgi_with_proxy_headers, trusted_hosts=settings.forwarded_allow_ips)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.mount("/api/docs/assets", StaticFiles(directory=api_docs.assets_dir()), name="api-docs")
    app.include_router(page_routes.router)
    app.include_router(subscribe_routes.router)
    app.include_router(monitor_routes.router)
    app.include_router(alert_hooks.router)
    app.include_router(public_api.router)
    app.include_router(api_routes.router)
    app.include_router(api_docs.router)
    for router in admin_routes.routers():
        app.include_router(router)
    _install_error_handlers(app)

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> FileResponse:
        # Browsers ask for /favicon.ico whatever the page links; answer rather than log a 404.
        return FileResponse(
            STATIC_DIR / "favicon.svg",
            media_type="image/svg+xml",
            headers={"Cache-Control": "public, max-age=86400"},
        )

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        """The process is up (whatever the database's state)."""
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    def readyz(request: Request) -> JSONResponse:
        """Ready for writes: the database answers, with our tables in it."""
        try:
            with request.app.state.sessionmaker() as session:
                pages.default_page(session)
        except DBAPIError:
            return JSONResponse({"status": "database unreachable"}, status_code=503)
        return JSONResponse({"status": "ok"})

    @app.get("/metrics", include_in_schema=False)
    def metrics(request: Request) -> Response:
        _check_scraper(request, settings)
        body = generate_latest(app.state.metrics.registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return app


_RELAYED = ("forwarded", "x-forwarded-for", "x-real-ip")


def _check_scraper(request: Request, settings: Settings) -> None:
    """Metrics need TOCSIN_METRICS_TOKEN as a bearer token; without one configured, only
    a scraper on the machine itself (not relayed by a proxy) gets them (security.md 59)."""
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else ""
    if token:
        scheme, _, presented = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(presented.strip(), token):
            raise StarletteHTTPException(401, "metrics need Authorization: Bearer <token>")
        return
    local = request.client is not None and request.client.host in ("127.0.0.1", "::1")
    if not local or any(name in request.headers for name in _RELAYED):
        raise StarletteHTTPException(
            403, "metrics are served to this machine only; set TOCSIN_METRICS_TOKEN to scrape"
        )


def app_factory() -> Tocsin:
    """The app configured from the environment, for `tocsin serve` (`granian --factory`)."""
    return create_app(Settings())


def _ensure_default_page(factory: sessionmaker[Session], settings: Settings) -> None:
    try:
        with transaction(factory) as session:
            pages.ensure_default_page(session, name=settings.page_name)
            fresh = signin.nobody_can_sign_in(session)
    except DBAPIError as exc:
        logger.warning("database unreachable at startup, starting read-only: %s", exc)
        return
    if fresh:
        logger.warning(
            "no one can sign in yet: create the first account at %s", signin.setup_link(settings)
        )


def _start_snapshots(
    app: Tocsin, settings: Settings, factory: sessionmaker[Session]
) -> SnapshotStore:
    """Build every page's snapshot (or, the database being down, load the last ones saved),
    then keep them fresh in the background."""
    metrics: Metrics = app.state.metrics
    store = SnapshotStore(
        factory,
        app.state.renderer,
        base_url=settings.base_url,
        directory=settings.var_dir / "snapshots",
        poll_seconds=settings.snapshot_poll_seconds,
        on_rebuild=metrics.rebuilds.observe,
    )
    if not store.refresh():
        loaded = store.load_from_disk()
        logger.warning("serving %d page(s) from the snapshots saved on disk", loaded)
    follow_commits(store, factory)
    metrics.watch(store, factory)
    store.start(settings.database_url)
    app.state.snapshots = store
    app.public = PublicAnswers(
        store,
        extra_headers=security_headers(hsts=settings.base_url.startswith("https://")),
        hits=metrics.requests.hits,
    )
    return store


READ_ONLY = (
    "the database is unreachable: the status page stays up, but changes are read-only "
    "until the database is back"
)


def _is_outage(exc: Exception) -> bool:
    """Whether `exc` means the database cannot be reached (not a constraint or a bug)."""
    if isinstance(exc, SQLAlchemyTimeoutError | OperationalError | InterfaceError):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def _wants_json(request: Request) -> bool:
    # Machines call /api and /hooks: they get JSON errors, people get pages.
    return request.url.path.startswith(("/api/", "/hooks/"))


def _error(request: Request, status: int, message: str) -> Response:
    if _wants_json(request):
        return JSONResponse({"error": message, "message": message}, status_code=status)
    renderer: Renderer = request.app.state.renderer
    return Response(
        renderer.error(status, message, _page_language(request)),
        status_code=status,
        media_type="text/html; charset=utf-8",
    )


def _page_language(request: Request) -> str:
    """The language of the public page at this host; the admin's errors stay in English."""
    store: SnapshotStore | None = getattr(request.app.state, "snapshots", None)
    if store is None or request.url.path.startswith("/admin"):
        return i18n.DEFAULT
    snapshot = store.for_host(request.headers.get("host"))
    return snapshot.state.page.language if snapshot is not None else i18n.DEFAULT


def _install_error_handlers(app: FastAPI) -> None:
    async def domain_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, DomainError)
        if isinstance(exc, SignInRequired):
            return sign_in_redirect(exc.next_url)
        return _error(request, exc.status_code, exc.message)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        return _error(request, exc.status_code, str(exc.detail))

    async def validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid input"}
        where = ".".join(str(part) for part in first.get("loc", ()) if part != "body")
        return _error(
            request, 422, f"{where}: {first.get('msg')}" if where else str(first.get("msg"))
        )

    async def database_error(request: Request, exc: Exception) -> Response:
        if not _is_outage(exc):
            raise exc
        logger.warning("database unreachable on %s %s", request.method, request.url.path)
        return _error(request, 503, READ_ONLY)

    app.add_exception_handler(DomainError, domain_error)
    app.add_exception_handler(DBAPIError, database_error)
    app.add_exception_handler(SQLAlchemyTimeoutError, database_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
