"""The admin's background jobs (server/jobs.py): start an evaluation, follow a job, cancel it; as
pages behind the admin login and as an API behind ``Authorization: Bearer``."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData, UploadFile

from server.admin_auth import Session
from server.deps import SettingsDep
from server.eval_jobs import EvalRequest, submit_eval
from server.ingest_jobs import outcome
from server.jobs import Job, JobError, Jobs
from server.routers.admin import Bearer, _disabled, _form, _form_action, _message, _page_session, accepted
from server.routers.pages import templates
from settings import Settings

router = APIRouter()
_FORMS = ("multipart/form-data", "application/x-www-form-urlencoded")


def _jobs(request: Request) -> Jobs:
    return request.app.state.jobs


async def _eval_request(form: FormData) -> EvalRequest:
    upload = form.get("file")
    filename, data = "", b""
    if isinstance(upload, UploadFile) and (upload.filename or upload.size):
        filename, data = upload.filename or "upload", await upload.read()
    return EvalRequest.from_form(
        str(form.get("retriever") or "hybrid"), str(form.get("limit") or ""), filename, data
    )


def _job_or_404(jobs: Jobs, job_id: str) -> Job:
    job = jobs.get(job_id)
    if job is None:
        raise JobError(404, f"没有这个任务 / no such job: {job_id}")
    return job


# ---------------------------------------------------------------- the API


@router.post(
    "/api/admin/eval",
    summary="Start an evaluation job (multipart: optional `file`, `retriever`, `limit`); 202 with the job",
    status_code=202,
    dependencies=[Bearer],
)
async def start_eval_api(request: Request, settings: SettingsDep) -> Response:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in _FORMS and await request.body():
        raise HTTPException(
            415, "请以表单提交（multipart/form-data）/ send the fields as a form (multipart/form-data)"
        )
    form = await _form(request, settings)
    try:
        job = submit_eval(_jobs(request), settings, await _eval_request(form))
    except JobError as exc:
        raise HTTPException(exc.status, str(exc)) from None
    return accepted(job)


@router.get("/api/admin/jobs", summary="Jobs, newest first", dependencies=[Bearer])
def list_jobs_api(request: Request) -> dict:
    return {"jobs": [job.to_dict() for job in _jobs(request).list()]}


@router.get("/api/admin/jobs/{job_id}", summary="One job: state, progress, rate, ETA", dependencies=[Bearer])
def job_api(request: Request, job_id: str) -> dict:
    try:
        return _job_or_404(_jobs(request), job_id).to_dict()
    except JobError as exc:
        raise HTTPException(exc.status, str(exc)) from None


@router.post(
    "/api/admin/jobs/{job_id}/cancel", summary="Cancel a queued or running job", dependencies=[Bearer]
)
def cancel_job_api(request: Request, job_id: str) -> dict:
    try:
        return _jobs(request).cancel(job_id).to_dict()
    except JobError as exc:
        raise HTTPException(exc.status, str(exc)) from None


# ---------------------------------------------------------------- the pages


@router.post("/admin/eval", include_in_schema=False)
async def start_eval_page(request: Request, settings: SettingsDep) -> Response:
    async def act(request: Request, form: FormData, session: Session) -> Response:
        try:
            job = submit_eval(_jobs(request), settings, await _eval_request(form))
        except JobError as exc:
            return _message(request, exc.status, "无法开始评测", str(exc), "/admin")
        return RedirectResponse(f"/admin/jobs/{job.id}", status_code=303)

    return await _form_action(request, settings, act)


@router.get("/admin/jobs/{job_id}", response_class=HTMLResponse, include_in_schema=False)
def job_page(request: Request, job_id: str, settings: SettingsDep) -> Response:
    if (refused := _page_refused(request, settings)) is not None:
        return refused
    jobs = _jobs(request)
    job = jobs.get(job_id)
    if job is None:
        return _message(request, 404, "没有这个任务", f"没有这个任务 / no such job: {job_id}", "/admin")
    session = _page_session(request, settings)
    context = {
        "job": job,
        "view": job.to_dict(),
        "outcome": outcome(job),
        "output": jobs.output(job),
        "csrf": session.csrf,
    }
    return templates.TemplateResponse(request, "job.html", context)


@router.post("/admin/jobs/{job_id}/cancel", include_in_schema=False)
async def cancel_job_page(request: Request, job_id: str, settings: SettingsDep) -> Response:
    async def act(request: Request, form: FormData, session: Session) -> Response:
        try:
            await run_in_threadpool(_jobs(request).cancel, job_id)  # waits for the process to stop
        except JobError as exc:
            return _message(request, exc.status, "无法取消", str(exc), f"/admin/jobs/{job_id}")
        return RedirectResponse(f"/admin/jobs/{job_id}", status_code=303)

    return await _form_action(request, settings, act)


def _page_refused(request: Request, settings: Settings) -> Response | None:
    if not settings.admin_token:
        return _disabled(request)
    if _page_session(request, settings) is None:
        return RedirectResponse("/admin/login", status_code=303)
    return None
