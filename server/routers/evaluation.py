"""Evaluation pages: the reports (/eval, one run, two compared) and the retrieval test (/retrieval):
a question's passages by the dense, lexical and hybrid retrievers side by side."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from jinja2 import Undefined
from pydantic import ValidationError

from server.api_models import api_models
from server.deps import EngineDep, SettingsDep
from server.eval_view import Reports, compare_context, report_context
from server.routers.pages import templates
from server.validation import describe

router = APIRouter()


def _metric(value: object) -> str:
    if value is None or value == "" or isinstance(value, Undefined):
        return "—"
    if isinstance(value, float):
        return f"{value:.1f}" if abs(value) >= 10 else f"{value:.3f}"
    return str(value)


def _yesno(value: object) -> str:
    return "—" if value is None or isinstance(value, Undefined) else "是" if value else "否"


templates.env.filters["metric"] = _metric
templates.env.filters["yesno"] = _yesno
# The retrieval test's columns, left to right: each retriever, then their fusion.
COLUMNS = ("dense", "lexical", "hybrid")


def _reports(request: Request) -> Reports:
    return request.app.state.reports


@router.get("/eval", response_class=HTMLResponse, include_in_schema=False)
def eval_page(
    request: Request,
    run: Annotated[str | None, Query()] = None,
    only: Annotated[str, Query()] = "",
) -> HTMLResponse:
    """A report (the newest, or ``run``), with the list of kept reports to pick another or two to
    compare; ``only=misses`` keeps the questions it missed."""
    reports = _reports(request)
    entries = reports.entries()
    chosen = run or (entries[0].id if entries else None)
    report = reports.load(chosen) if chosen else None
    context: dict = {"entries": entries, "chosen": chosen, "path": str(reports.folder)}
    if report is None:
        status = 404 if run else 200
        return templates.TemplateResponse(
            request, "eval.html", {**context, "report": None}, status_code=status
        )
    context |= report_context(chosen, report, only == "misses")
    return templates.TemplateResponse(request, "eval.html", context)


@router.get("/eval/compare", response_class=HTMLResponse, include_in_schema=False)
def compare_page(
    request: Request,
    a: Annotated[str, Query()] = "",
    b: Annotated[str, Query()] = "",
) -> HTMLResponse:
    reports = _reports(request)
    first, second = reports.load(a), reports.load(b)
    if first is None or second is None:
        missing = ", ".join(x[:80] or "(空)" for x, r in ((a, first), (b, second)) if r is None)
        context = {
            "title": "找不到报告",
            "text": f"没有这份评测报告 / no such report: {missing}",
            "link": "/eval",
        }
        return templates.TemplateResponse(request, "message.html", context, status_code=404)
    entries = {e.id: e for e in reports.entries()}
    context = {"a": a, "b": b, "entry_a": entries.get(a), "entry_b": entries.get(b)}
    context |= compare_context(first, second)
    return templates.TemplateResponse(request, "eval_compare.html", context)


@router.get("/retrieval", response_class=HTMLResponse, include_in_schema=False)
async def retrieval_page(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    q: Annotated[str | None, Query()] = None,
    k: Annotated[str | None, Query()] = None,
    region: Annotated[str | None, Query()] = None,
) -> HTMLResponse:
    """检索测试: the three retrievers' ranked passages for one question, with scores and why."""
    context: dict = {"q": q or "", "k": k or str(settings.top_k), "region": region or "", "columns": None}
    if q is None or not q.strip():
        return templates.TemplateResponse(request, "retrieval.html", context)
    raw = {"q": q, "k": k or None, "region": region or None}
    try:
        params = api_models(settings).search.model_validate(raw)
    except ValidationError as exc:
        context["error"] = describe(exc.errors(), settings)
        return templates.TemplateResponse(request, "retrieval.html", context, status_code=422)
    retriever = engine.answerer.retriever

    def search_all() -> list:
        k, region = params.k or settings.top_k, params.region or None
        return [retriever.search(params.q, k, mode, region=region) for mode in COLUMNS]

    context["columns"] = await run_in_threadpool(search_all)
    return templates.TemplateResponse(request, "retrieval.html", context)
