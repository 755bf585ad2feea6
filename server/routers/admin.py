"""The admin: the corpus's documents (list, upload, delete, re-ingest) and the question log's
problem questions, as pages behind a login and as an API behind ``Authorization: Bearer``.

Every change is a background job (server/ingest_jobs.py): the request checks what it can and
answers at once (202 and the job, or the job's page), the job runs the normal incremental ingest
under its lock, all or nothing; questions are answered from the previous index meanwhile. Nothing
here is reachable while YIBAO_ADMIN_TOKEN is unset."""

from __future__ import annotations

import math
import secrets
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.datastructures import FormData, UploadFile

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
from server.ingest_jobs import submit_delete, submit_reingest, submit_upload
from server.jobs import Job, JobError, Jobs
from server.querylog import QueryLog
from server.records_json import documents_json
from server.routers.pages import templates
from server.upload_names import BadUpload, clean_name
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


def _jobs(request: Request) -> Jobs:
    return request.app.state.jobs


async def _upload(request: Request, form: FormData, settings: Settings) -> Job:
    files = [f for f in form.getlist("files") if isinstance(f, UploadFile) and (f.filename or f.size)]
    names = [clean_name(f.filename, settings) for f in files]
    empty = [name for name, f in zip(names, files, strict=True) if not f.size]
    if empty:
        raise BadUpload(422, f"文件是空的 / empty file: {', '.join(empty)}")
    overwrite = str(form.get("overwrite", "")).lower() in _TRUE
    # The parser spooled each file to a temporary file on disk (past 1 MiB): copied from there.
    uploads = [(name, f.file) for name, f in zip(names, files, strict=True)]
    return await run_in_threadpool(submit_upload, _jobs(request), settings, uploads, overwrite)


async def _delete(request: Request, docs: list[str], engine: Engine) -> Job:
    index = engine.answerer.retriever.index
    known = set(index.documents) | set(index.manifest.skipped) | set(index.manifest.files)
    return await run_in_threadpool(submit_delete, _jobs(request), docs, known)


def accepted(job: Job) -> JSONResponse:
    """202: the job, and where to follow it."""
    return JSONResponse(job.to_dict(), status_code=202, headers={"Location": f"/api/admin/jobs/{job.id}"})


def _listing(engine: Engine) -> dict:
    index = engine.answerer.retriever.index
    return {
        "index_version": index.path.name if index.path else None,
        "documents": documents_json(index),
        "skipped": [{"doc": doc, "reason": why} for doc, why in sorted(index.manifest.skipped.items())],
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
    summary="Upload files (multipart `files`, `overwrite=true` to replace): 202 with the indexing job",
    status_code=202,
    dependencies=[Bearer],
)
async def upload_documents(request: Request, settings: SettingsDep) -> Response:
    form = await _form(request, settings)
    return await _api(_upload(request, form, settings))


@router.delete(
    "/api/admin/documents",
    summary="Delete documents (`?doc=…`, repeatable): 202 with the job",
    status_code=202,
    dependencies=[Bearer],
)
async def delete_documents(
    request: Request, engine: EngineDep, doc: Annotated[list[str], Query()]
) -> Response:
    return await _api(_delete(request, doc, engine))


@router.post(
    "/api/admin/ingest",
    summary="Re-ingest the corpus dir: 202 with the job",
    status_code=202,
    dependencies=[Bearer],
)
def reingest(request: Request) -> Response:
    return accepted(submit_reingest(_jobs(request)))


@router.get("/api/admin/questions", summary="Abstained and unhelpful questions", dependencies=[Bearer])
def problem_questions(querylog: QueryLogDep) -> dict:
    querylog.flush()
    return {"questions": [p.to_eval_record() for p in querylog.problems()]}


@router.get("/api/admin/questions.jsonl", summary="The same, as an eval question file", dependencies=[Bearer])
def export_questions_api(querylog: QueryLogDep) -> Response:
    return _export(querylog)


async def _api(work: Awaitable[Job]) -> Response:
    try:
        return accepted(await work)
    except (BadUpload, JobError) as exc:
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
    return _admin(request, engine, settings, querylog, session)


def _admin(
    request: Request,
    engine: Engine,
    settings: Settings,
    querylog: QueryLog,
    session: Session,
    *,
    error: str | None = None,
    notice: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    querylog.flush()
    context = {
        **_listing(engine),
        "csrf": session.csrf,
        "error": error,
        "notice": notice,
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
    async def act(request: Request, form: FormData) -> Job:
        return await _upload(request, form, settings)

    return await _form_action(request, settings, _queueing(act))


@router.post("/admin/delete", include_in_schema=False)
async def delete_page(request: Request, settings: SettingsDep) -> Response:
    async def act(request: Request, form: FormData) -> Job:
        return await _delete(request, [str(d) for d in form.getlist("doc")], request.app.state.engine)

    return await _form_action(request, settings, _queueing(act))


@router.post("/admin/reingest", include_in_schema=False)
async def reingest_page(request: Request, settings: SettingsDep) -> Response:
    async def act(request: Request, form: FormData) -> Job:
        return await run_in_threadpool(submit_reingest, _jobs(request))

    return await _form_action(request, settings, _queueing(act))


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


def _queueing(
    act: Callable[[Request, FormData], Awaitable[Job]],
) -> Callable[[Request, FormData, Session], Awaitable[Response]]:
    """A form action that queues a change of the corpus: on to the job's page (which follows it
    to the end), or /admin again with the reason and its 4xx status when it is refused."""

    async def run(request: Request, form: FormData, session: Session) -> Response:
        try:
            job = await act(request, form)
        except (BadUpload, JobError) as exc:
            app = request.app.state
            return _admin(
                request, app.engine, app.settings, app.querylog, session, error=str(exc), status=exc.status
            )
        return RedirectResponse(f"/admin/jobs/{job.id}", status_code=303)

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
