"""The FastAPI application: lifespan (model and index loaded once), security headers, errors."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from index.embedding import EngineUnavailable
from server import body_limits, ingest_jobs
from server.admin_auth import Sessions
from server.admission import AskGate
from server.auth_throttle import AuthThrottle
from server.engine import Engine
from server.eval_view import Reports
from server.jobs import Job, Jobs
from server.mcp_server import mount_mcp
from server.querylog import QueryLog
from server.routers import admin, api, chat, evaluation, feedback, jobs, pages, synonyms
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
    app.state.querylog = QueryLog(settings.data_dir, settings.log_retention_days, settings.log_max_rows)
    app.state.sessions = Sessions(settings.admin_session_minutes)
    app.state.auth_throttle = AuthThrottle(settings.auth_free_failures, settings.auth_max_delay)
    app.state.gate = AskGate(
        settings.ask_workers or os.cpu_count() or 1, settings.ask_queue, settings.max_asks_per_client
    )
    app.state.jobs = Jobs(settings, on_done=lambda job: _after_job(app, job))
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
    app.include_router(synonyms.router)
    mcp_running = mount_mcp(app, settings)
    app.mount("/static", StaticFiles(directory=_STATIC), name="static")

    app.add_middleware(
        _LimitsAndHeaders,
        max_body_bytes=settings.max_body_bytes,
        max_upload_bytes=settings.max_upload_bytes,
        body_timeout=settings.body_timeout,
        larger={
            chat.COMPLETIONS: settings.max_chat_body_bytes,
            synonyms.PAGE_PATH: synonyms.BODY_BYTES,
            synonyms.API_PATH: synonyms.BODY_BYTES,
        },
    )

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        return body_limits.error(422, describe(list(exc.errors()), settings))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        response = body_limits.error(exc.status_code, str(exc.detail))
        response.headers.update(exc.headers or {})
        return response

    @app.exception_handler(EngineUnavailable)
    async def engine_down(request: Request, exc: EngineUnavailable) -> JSONResponse:
        log.warning("%s: %s", request.url.path, exc)
        return body_limits.error(
            503, "嵌入服务暂时不可用，请稍后再试 / the embedding engine is unavailable, try again"
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s", request.url.path)
        return body_limits.error(500, "服务器内部错误 / internal error")

    return app


class _LimitsAndHeaders:
    """Plain ASGI middleware: keeps request bodies within their limits (server/body_limits.py)
    and adds the security headers. Errors that escape the routes become a JSON 500 that carries
    the same headers."""

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
        if body_limits.declared_too_large(Headers(scope=scope).get("content-length"), limit):
            await body_limits.too_large(limit, upload)(scope, receive, send_with_headers)
            return
        if upload:
            # Read by the route after it has checked the login or token, and spooled to disk.
            receive_body = body_limits.counted(receive, limit, self.body_timeout)
        else:
            body = await body_limits.read_whole(receive, limit, self.body_timeout)
            if body is None:
                return  # the client is gone: nobody to answer
            if not isinstance(body, bytes):
                await body(scope, receive, send_with_headers)
                return
            receive_body = _replay(body, receive)
        try:
            await self.app(scope, receive_body, send_with_headers)
        except body_limits.BodyRefused as refused:
            if started:
                raise
            await refused.response(scope, receive, send_with_headers)
        except Exception:
            if started:
                raise
            log.exception("unhandled error on %s", path)
            await body_limits.error(500, "服务器内部错误 / internal error")(scope, receive, send_with_headers)


def _replay(body: bytes, receive: Receive) -> Receive:
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # after the body: waits for the disconnect, as ASGI has it

    return replay


def _after_job(app: FastAPI, job: Job) -> None:
    """A change of the corpus is served as soon as its job is done."""
    if job.kind in ingest_jobs.KINDS:
        app.state.engine.reload_if_changed()


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
        http=guarded_protocol(
            settings.header_timeout, settings.max_header_bytes, settings.max_connections_per_client
        ),
        h11_max_incomplete_event_size=settings.max_header_bytes,
        timeout_keep_alive=settings.keep_alive_timeout,
        limit_concurrency=settings.max_connections,
    )
