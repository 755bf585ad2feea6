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
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.admin_auth import Sessions
from server.engine import Engine
from server.eval_view import Reports
from server.jobs import Jobs
from server.mcp_server import mount_mcp
from server.querylog import QueryLog
from server.routers import admin, api, chat, evaluation, feedback, jobs, pages
from server.validation import describe
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
        app.state.querylog.start()
        app.state.jobs.start()
        watcher = asyncio.create_task(_watch_index(app))
        try:
            async with mcp_running():
                yield
        finally:
            watcher.cancel()
            await asyncio.to_thread(app.state.jobs.close)
            await asyncio.to_thread(app.state.querylog.close)

    app = FastAPI(
        title="医保问答 yibao-qa",
        description="Cited extractive answers over Chinese medical-insurance documents. 仅供参考。",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.querylog = QueryLog(settings.data_dir, settings.log_retention_days)
    app.state.sessions = Sessions(settings.admin_session_minutes)
    app.state.jobs = Jobs(settings)
    app.state.reports = Reports(settings)
    if engine is not None:
        app.state.engine = engine
    app.include_router(api.api_router(settings))
    app.include_router(pages.router)
    app.include_router(evaluation.router)
    app.include_router(feedback.router)
    app.include_router(admin.router)
    app.include_router(jobs.router)
    app.include_router(chat.router)
    mcp_running = mount_mcp(app, settings)
    app.mount("/static", StaticFiles(directory=_STATIC), name="static")

    app.add_middleware(
        _LimitsAndHeaders,
        max_body_bytes=settings.max_body_bytes,
        max_upload_bytes=settings.max_upload_bytes,
        body_timeout=settings.body_timeout,
        larger={chat.COMPLETIONS: settings.max_chat_body_bytes},
    )

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _error(422, describe(list(exc.errors()), settings))

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


class _LimitsAndHeaders:
    """Plain ASGI middleware: refuses bodies over the limit and adds the security headers.

    The body is read here, before any route sees it, and counted as it arrives: a declared
    Content-Length over the limit is refused at once, and a chunked body (no Content-Length)
    is refused as soon as it passes the limit, so no request can make the server buffer more
    than ``max_body_bytes``; a body not received within ``body_timeout`` seconds gets a 408 and
    the connection is closed. Errors that escape the routes become a JSON 500 that carries the
    same headers."""

    def __init__(
        self,
        app: ASGIApp,
        max_body_bytes: int,
        max_upload_bytes: int,
        body_timeout: float,
        larger: dict[str, int],
    ) -> None:
        self.app = app
        self.body_timeout = body_timeout
        self.max_body_bytes = max_body_bytes
        self.max_upload_bytes = max_upload_bytes
        self.larger = larger  # paths whose bodies may be larger than max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = MutableHeaders(scope=message)
                for name, value in _HEADERS.items():
                    if name not in headers:
                        headers[name] = value
                if path.startswith(("/docs", "/redoc")):
                    headers["Content-Security-Policy"] = _DOCS_CSP
            await send(message)

        upload = scope.get("method") == "POST" and path in admin.UPLOAD_PATHS
        limit = self.max_upload_bytes if upload else self.larger.get(path, self.max_body_bytes)
        length = Headers(scope=scope).get("content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            await _too_large(limit, upload)(scope, receive, send_with_headers)
            return
        parts: list[bytes] = []
        size = 0
        try:
            async with asyncio.timeout(self.body_timeout):
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        return  # the client is gone: nobody to answer
                    body = message.get("body", b"")
                    size += len(body)
                    if size > limit:
                        await _too_large(limit, upload)(scope, receive, send_with_headers)
                        return
                    parts.append(body)
                    if not message.get("more_body", False):
                        break
        except TimeoutError:
            # A body trickled in (or never sent) would hold a connection and a buffer for good.
            slow = _error(408, f"请求体在 {self.body_timeout:g} 秒内未发送完 / request body too slow")
            slow.headers["Connection"] = "close"
            await slow(scope, receive, send_with_headers)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(parts), "more_body": False}
            return await receive()  # after the body: waits for the disconnect, as ASGI has it

        try:
            await self.app(scope, replay, send_with_headers)
        except Exception:
            if started:
                raise
            log.exception("unhandled error on %s", path)
            await _error(500, "服务器内部错误 / internal error")(scope, replay, send_with_headers)


def _too_large(limit: int, upload: bool) -> JSONResponse:
    if upload:
        return _error(413, f"上传的文件太大（一次最多 {limit / 1048576:.1f} MB）/ upload too large")
    return _error(413, f"请求体太大（最多 {limit} 字节）/ request body too large")


async def _watch_index(app: FastAPI) -> None:
    """Pick up the index that `yibao ingest` writes while the server runs."""
    while True:
        await asyncio.sleep(_RELOAD_POLL_SECONDS)
        try:
            await asyncio.to_thread(app.state.engine.reload_if_changed)
        except Exception:
            log.exception("index reload check failed; still serving the current index")


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Load the model and the index first, then listen: a missing model or a damaged index is
    reported by the command as one line (an IndexStoreError) before any port is opened."""
    import uvicorn

    from server.slow_clients import guarded_protocol

    engine = Engine.start(settings)
    uvicorn.run(
        create_app(settings, engine),
        host=host,
        port=port,
        log_level="info",
        http=guarded_protocol(settings.header_timeout, settings.max_header_bytes),
        h11_max_incomplete_event_size=settings.max_header_bytes,
        timeout_keep_alive=settings.keep_alive_timeout,
        limit_concurrency=settings.max_connections,
    )
