"""The admin: the corpus's documents (list, upload, delete, re-ingest) and the question log's
problem questions, as pages behind a login and as an API behind ``Authorization: Bearer``.

Every change runs the normal incremental ingest under its lock, all or nothing (Engine.edit);
questions are answered from the previous index meanwhile. Nothing here is reachable while
YIBAO_ADMIN_TOKEN is unset."""

from __future__ import annotations

import math
import secrets
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.datastructures import FormData, UploadFile

from index.build import BuildReport, UnusableUpload
from index.store import IngestLocked
from server.admin_auth import (
    COOKIE_PATH,
    DISABLED,
    LOGIN_COOKIE,
    SESSION_COOKIE,
    Session,
    Sessions,
    require_bearer,
    same_token,
    token_matches,
)
from server.auth_throttle import AuthThrottle, too_many_message
from server.body_limits import BodyRefused
from server.deps import EngineDep, QueryLogDep, SettingsDep, client_address
from server.engine import Engine
from server.eval_jobs import RETRIEVERS
from server.querylog import QueryLog
from server.records_json import documents_json
from server.routers.pages import templates
from server.upload_names import BadUpload, check_batch, clean_name
from settings import Settings

router = APIRouter()

# Bodies that carry files (the middleware allows them the upload size): documents, and question
# sets to evaluate (routers/jobs.py).
UPLOAD_PATHS = ("/admin/upload", "/api/admin/documents", "/admin/eval", "/api/admin/eval")
_TRUE = {"1", "true", "on", "yes"}


def _bearer(request: Request, settings: SettingsDep, authorization: Annotated[str, Header()] = "") -> None:
    """The API's check, after the address's wait for its failed tokens (server/auth_throttle.py)."""
    throttle: AuthThrottle = request.app.state.auth_throttle
    address = client_address(request)
    if settings.admin_token and (wait := throttle.wait(address)):
        raise HTTPException(429, too_many_message(wait), headers={"Retry-After": str(math.ceil(wait))})
    try:
        require_bearer(authorization, settings)
    except HTTPException as exc:
        if exc.status_code == 401 and authorization:  # a token was tried, not just left out
            throttle.failed(address, "bearer token")
        raise
    throttle.succeeded(address)


Bearer = Depends(_bearer)


# ---------------------------------------------------------------- the work both faces share


async def _upload(form: FormData, engine: Engine, settings: Settings) -> BuildReport:
    files = [f for f in form.getlist("files") if isinstance(f, UploadFile) and (f.filename or f.size)]
    names = [clean_name(f.filename, settings) for f in files]
    existing = {p.name for p in settings.corpus_dir.iterdir()} if settings.corpus_dir.is_dir() else set()
    check_batch(names, existing, str(form.get("overwrite", "")).lower() in _TRUE, settings)
    empty = [name for name, f in zip(names, files, strict=True) if not f.size]
    if empty:
        raise BadUpload(422, f"文件是空的 / empty file: {', '.join(empty)}")
    # The parser spooled each file to a temporary file on disk (past 1 MiB): copied from there.
    return await _run(engine.edit, {name: f.file for name, f in zip(names, files, strict=True)}, [])


async def _delete(docs: list[str], engine: Engine) -> BuildReport:
    index = engine.answerer.retriever.index
    known = set(index.documents) | set(index.manifest.skipped) | set(index.manifest.files)
    unknown = sorted(set(docs) - known)
    if not docs or unknown:
        raise BadUpload(404, f"语料中没有这个文件 / not in the corpus: {', '.join(unknown) or '(none)'}")
    return await _run(engine.edit, {}, sorted(set(docs)))


async def _run(action: Callable[..., BuildReport], *args: object) -> BuildReport:
    """Run an ingest off the event loop, its failures as clear 4xx (or 503 for the disk)."""
    try:
        return await run_in_threadpool(action, *args)
    except UnusableUpload as exc:
        raise BadUpload(422, f"无法读取，未做任何更改 / cannot be indexed, nothing changed: {exc}") from None
    except IngestLocked:
        raise BadUpload(
            409, "另一个导入正在进行，请稍后再试 / another ingest is running, try again"
        ) from None
    except OSError as exc:
        raise HTTPException(
            503,
            f"无法写入语料或索引，未做任何更改 / cannot write the corpus or index, nothing changed: "
            f"{exc.strerror or exc}",
        ) from None


def _listing(engine: Engine) -> dict:
    index = engine.answerer.retriever.index
    return {
        "index_version": index.path.name if index.path else None,
        "documents": documents_json(index),
        "skipped": [{"doc": doc, "reason": why} for doc, why in sorted(index.manifest.skipped.items())],
    }


def _report(report: BuildReport) -> dict:
    return {
        "changed": report.changed_docs,
        "removed": report.removed_docs,
        "chunks": report.chunks,
        "embedded": report.embedded,
        "skipped": [{"doc": s.path, "reason": s.reason} for s in report.skipped],
    }


# ---------------------------------------------------------------- the API


@router.post(
    "/api/admin/reload",
    summary="Switch to the newest index (409 when it cannot be loaded)",
    dependencies=[Bearer],
)
def reload(engine: EngineDep) -> Response:
    switched = engine.reload_if_changed()
    problem = engine.refused()
    if problem is None:
        return JSONResponse({"reloaded": switched, **engine.health()})
    error = (
        "新索引已损坏或无法加载，仍使用原索引 / the new index was refused, still serving the old one: "
        + problem
    )
    body = {**engine.health(), "status": "refused", "reloaded": False, "error": error}
    return JSONResponse(body, status_code=409)


@router.get("/api/admin/documents", summary="The indexed documents and skipped files", dependencies=[Bearer])
def list_documents(engine: EngineDep) -> dict:
    return _listing(engine)


@router.post(
    "/api/admin/documents",
    summary="Upload files (multipart `files`, `overwrite=true` to replace) and index them",
    status_code=201,
    dependencies=[Bearer],
)
async def upload_documents(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
) -> dict:
    form = await _form(request, settings)
    return _report(await _api(_upload(form, engine, settings)))


@router.delete(
    "/api/admin/documents", summary="Delete documents (`?doc=…`, repeatable)", dependencies=[Bearer]
)
async def delete_documents(engine: EngineDep, doc: Annotated[list[str], Query()]) -> dict:
    return _report(await _api(_delete(doc, engine)))


@router.post("/api/admin/ingest", summary="Re-ingest the corpus dir", dependencies=[Bearer])
async def reingest(engine: EngineDep) -> dict:
    return _report(await _api(_run(engine.reingest)))


@router.get("/api/admin/questions", summary="Abstained and unhelpful questions", dependencies=[Bearer])
def problem_questions(querylog: QueryLogDep) -> dict:
    querylog.flush()
    return {"questions": [p.to_eval_record() for p in querylog.problems()]}


@router.get("/api/admin/questions.jsonl", summary="The same, as an eval question file", dependencies=[Bearer])
def export_questions_api(querylog: QueryLogDep) -> Response:
    return _export(querylog)


async def _api(work: Awaitable[BuildReport]) -> BuildReport:
    try:
        return await work
    except BadUpload as exc:
        raise HTTPException(exc.status, str(exc)) from None


async def _form(request: Request, settings: Settings) -> FormData:
    try:
        return await request.form(max_files=settings.max_upload_files + 1, max_fields=20)
    except BodyRefused:
        raise  # too large or too slow: the middleware answers (server/body_limits.py)
    except Exception as exc:  # python-multipart's and starlette's errors have no common base
        raise HTTPException(400, f"表单格式不对 / malformed form data ({type(exc).__name__})") from None


def _export(querylog: QueryLog) -> Response:
    querylog.flush()
    return Response(
        querylog.export_jsonl(),
        media_type="application/x-ndjson; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="questions-export.jsonl"'},
    )


# ---------------------------------------------------------------- the pages


def _sessions(request: Request) -> Sessions:
    return request.app.state.sessions


def _message(request: Request, status: int, title: str, text: str, link: str | None = None) -> HTMLResponse:
    context = {"title": title, "text": text, "link": link}
    return templates.TemplateResponse(request, "message.html", context, status_code=status)


def _disabled(request: Request) -> HTMLResponse:
    return _message(request, 403, "管理功能未启用", DISABLED)


def _page_session(request: Request, settings: Settings) -> Session | None:
    return _sessions(request).get(request.cookies.get(SESSION_COOKIE)) if settings.admin_token else None


@router.get("/admin", response_class=HTMLResponse, include_in_schema=False)
def admin_page(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    querylog: QueryLogDep,
) -> Response:
    if not settings.admin_token:
        return _disabled(request)
    session = _page_session(request, settings)
    if session is None:
        return RedirectResponse("/admin/login", status_code=303)
    notice, session.notice = session.notice, None
    return _admin(request, engine, settings, querylog, session, notice=notice)


def _admin(
    request: Request,
    engine: Engine,
    settings: Settings,
    querylog: QueryLog,
    session: Session,
    *,
    notice: str | None = None,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    querylog.flush()
    context = {
        **_listing(engine),
        "csrf": session.csrf,
        "notice": notice,
        "error": error,
        "problems": querylog.problems(),
        "log_path": str(querylog.path),
        "settings": settings,
        "jobs": request.app.state.jobs.list()[:10],
        "synonyms": engine.answerer.retriever.synonyms.text(),
        "synonyms_file": engine.answerer.retriever.synonyms.path.name,
        "retrievers": RETRIEVERS,
    }
    return templates.TemplateResponse(request, "admin.html", context, status_code=status)


@router.get("/admin/login", response_class=HTMLResponse, include_in_schema=False)
def login_page(request: Request, settings: SettingsDep) -> Response:
    if not settings.admin_token:
        return _disabled(request)
    return _login(request, None, 200)


def _login(request: Request, error: str | None, status: int) -> HTMLResponse:
    csrf = secrets.token_urlsafe(32)
    response = templates.TemplateResponse(
        request, "admin_login.html", {"csrf": csrf, "error": error}, status_code=status
    )
    _set_cookie(request, response, LOGIN_COOKIE, csrf)
    return response


@router.post("/admin/login", response_class=HTMLResponse, include_in_schema=False)
async def login(request: Request, settings: SettingsDep) -> Response:
    if not settings.admin_token:
        return _disabled(request)
    form = await _form(request, settings)
    throttle: AuthThrottle = request.app.state.auth_throttle
    address = client_address(request)
    if wait := throttle.wait(address):
        response = _login(request, too_many_message(wait), 429)
        response.headers["Retry-After"] = str(math.ceil(wait))
        return response
    if not same_token(request.cookies.get(LOGIN_COOKIE), str(form.get("csrf", ""))):
        return _login(request, "表单已过期，请重试 / the form expired (CSRF check failed), try again", 403)
    if not token_matches(str(form.get("token", "")), settings):
        throttle.failed(address, "login")
        return _login(request, "令牌不对 / wrong admin token", 401)
    throttle.succeeded(address)
    response = RedirectResponse("/admin", status_code=303)
    _set_cookie(request, response, SESSION_COOKIE, _sessions(request).create())
    response.delete_cookie(LOGIN_COOKIE, path=COOKIE_PATH)
    return response


@router.post("/admin/logout", include_in_schema=False)
async def logout(request: Request, settings: SettingsDep) -> Response:
    return await _form_action(request, settings, _end_session)


async def _end_session(request: Request, form: FormData, session: Session) -> Response:
    _sessions(request).end(request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/admin/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH)
    return response


@router.post("/admin/upload", include_in_schema=False)
async def upload_page(request: Request, settings: SettingsDep) -> Response:
    async def act(engine: Engine, form: FormData) -> str:
        report = await _upload(form, engine, settings)
        changed = ", ".join(report.changed_docs) or "(内容未变 / unchanged)"
        return f"已上传并导入 / uploaded and indexed: {changed}"

    return await _form_action(request, settings, _changing(act))


@router.post("/admin/delete", include_in_schema=False)
async def delete_page(request: Request, settings: SettingsDep) -> Response:
    async def act(engine: Engine, form: FormData) -> str:
        report = await _delete([str(d) for d in form.getlist("doc")], engine)
        return f"已删除 / deleted: {', '.join(report.removed_docs)}"

    return await _form_action(request, settings, _changing(act))


@router.post("/admin/reingest", include_in_schema=False)
async def reingest_page(request: Request, settings: SettingsDep) -> Response:
    async def act(engine: Engine, form: FormData) -> str:
        report = await _run(engine.reingest)
        return (
            "索引已是最新 / the index was up to date"
            if report.unchanged
            else (f"已重新导入 / re-ingested: {report.chunks} chunks")
        )

    return await _form_action(request, settings, _changing(act))


@router.get("/admin/questions.jsonl", include_in_schema=False)
def export_questions_page(
    request: Request,
    settings: SettingsDep,
    querylog: QueryLogDep,
) -> Response:
    if not settings.admin_token:
        return _disabled(request)
    if _page_session(request, settings) is None:
        return RedirectResponse("/admin/login", status_code=303)
    return _export(querylog)


def _changing(
    act: Callable[[Engine, FormData], Awaitable[str]],
) -> Callable[[Request, FormData, Session], Awaitable[Response]]:
    """A form action that changes the corpus: success goes back to /admin with a notice, a
    refused request shows /admin again with the reason and its 4xx status."""

    async def run(request: Request, form: FormData, session: Session) -> Response:
        engine: Engine = request.app.state.engine
        try:
            session.notice = await act(engine, form)
        except BadUpload as exc:
            app = request.app.state
            return _admin(
                request, engine, app.settings, app.querylog, session, error=str(exc), status=exc.status
            )
        return RedirectResponse("/admin", status_code=303)

    return run


async def _form_action(
    request: Request, settings: Settings, action: Callable[[Request, FormData, Session], Awaitable[Response]]
) -> Response:
    """The checks every admin form passes first: enabled, logged in, the session's CSRF token."""
    if not settings.admin_token:
        return _disabled(request)
    session = _page_session(request, settings)
    if session is None:
        return _message(request, 401, "请先登录", "请先登录管理页面 / please log in first", "/admin/login")
    form = await _form(request, settings)
    if not same_token(session.csrf, str(form.get("csrf", ""))):
        return _message(
            request,
            403,
            "请求无效",
            "表单校验失败，请返回管理页重试 / CSRF check failed, nothing changed",
            "/admin",
        )
    return await action(request, form, session)


def _set_cookie(request: Request, response: Response, name: str, value: str) -> None:
    response.set_cookie(
        name,
        value,
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
