from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from tocsin import __version__, worker
from tocsin.api import docs as api_docs
from tocsin.api import routes as api_routes
from tocsin.db import make_engine, make_sessionmaker, transaction
from tocsin.errors import DomainError
from tocsin.lib.headers import SecurityHeaders
from tocsin.lib.jsonsuffix import StripJsonSuffix
from tocsin.lib.nulguard import RejectNul
from tocsin.pages import public_api
from tocsin.pages import routes as page_routes
from tocsin.pages import service as pages
from tocsin.pages import subscribe as subscribe_routes
from tocsin.pages.render import Renderer
from tocsin.settings import Settings

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    settings.resolved_secret_key()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.database_url)
        factory = make_sessionmaker(engine)
        app.state.engine = engine
        app.state.sessionmaker = factory
        with transaction(factory) as session:
            pages.ensure_default_page(session, name=settings.page_name)
        stop = asyncio.Event()
        task = None
        if settings.run_worker:
            task = asyncio.create_task(
                worker.run_forever(factory, interval=settings.scheduler_interval_seconds, stop=stop)
            )
        try:
            yield
        finally:
            stop.set()
            if task is not None:
                await task
            engine.dispose()

    app = FastAPI(
        title="Tocsin",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.settings = settings
    app.state.renderer = Renderer()
    app.add_middleware(StripJsonSuffix, prefix="/api/v1/")
    app.add_middleware(RejectNul)
    app.add_middleware(SecurityHeaders, hsts=settings.base_url.startswith("https://"))
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.mount("/api/docs/assets", StaticFiles(directory=api_docs.assets_dir()), name="api-docs")
    app.include_router(page_routes.router)
    app.include_router(subscribe_routes.router)
    app.include_router(public_api.router)
    app.include_router(api_routes.router)
    app.include_router(api_docs.router)
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
        return {"status": "ok"}

    return app


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _error(request: Request, status: int, message: str) -> Response:
    if _wants_json(request):
        return JSONResponse({"error": message, "message": message}, status_code=status)
    renderer: Renderer = request.app.state.renderer
    return Response(
        renderer.error(status, message),
        status_code=status,
        media_type="text/html; charset=utf-8",
    )


def _install_error_handlers(app: FastAPI) -> None:
    async def domain_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, DomainError)
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

    app.add_exception_handler(DomainError, domain_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
