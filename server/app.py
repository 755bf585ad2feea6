"""The FastAPI application: lifespan (model and index loaded once), security headers, errors."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from server.engine import Engine
from server.routers import api, pages
from settings import Settings

log = logging.getLogger(__name__)

_STATIC = Path(__file__).resolve().parent / "static"
_HEADERS = {
    # No script runs on these pages: the forms and [n] links work as plain HTML.
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        "base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}
# /docs loads Swagger UI from its own inline script; it gets a policy that allows exactly that.
_DOCS_CSP = (
    "default-src 'none'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "img-src 'self' data: https://fastapi.tiangolo.com; "
    "connect-src 'self'; frame-ancestors 'none'"
)
_RELOAD_POLL_SECONDS = 2.0


def create_app(settings: Settings, engine: Engine | None = None) -> FastAPI:
    """The app; ``engine`` lets tests share one loaded model across several apps."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if engine is None:
            app.state.engine = await asyncio.to_thread(Engine.start, settings)
        watcher = asyncio.create_task(_watch_index(app))
        try:
            yield
        finally:
            watcher.cancel()

    app = FastAPI(
        title="医保问答 yibao-qa",
        description="Cited extractive answers over Chinese medical-insurance documents. 仅供参考。",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    if engine is not None:
        app.state.engine = engine
    app.include_router(api.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=_STATIC), name="static")

    @app.middleware("http")
    async def limits_and_headers(request: Request, call_next):
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > settings.max_body_bytes):
            response = _error(
                413, f"请求体太大（最多 {settings.max_body_bytes} 字节）/ request body too large"
            )
        else:
            response = await call_next(request)
        for name, value in _HEADERS.items():
            response.headers.setdefault(name, value)
        if request.url.path.startswith(("/docs", "/redoc")):
            response.headers["Content-Security-Policy"] = _DOCS_CSP
        return response

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return _error(400, "请求体不是有效的 JSON / malformed JSON body")
        where = ", ".join(".".join(str(p) for p in e.get("loc", ())) for e in errors)
        return _error(422, f"请求格式不对 / invalid request ({where}): {errors[0].get('msg', '')}")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s", request.url.path)
        return _error(500, "服务器内部错误 / internal error")

    return app


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status)


async def _watch_index(app: FastAPI) -> None:
    """Pick up the index that `yibao ingest` writes while the server runs."""
    while True:
        await asyncio.sleep(_RELOAD_POLL_SECONDS)
        try:
            await asyncio.to_thread(app.state.engine.reload_if_changed)
        except Exception:
            log.exception("index reload check failed; still serving the current index")


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 8000) -> None:
    import uvicorn

    uvicorn.run(create_app(settings), host=host, port=port, log_level="info")
