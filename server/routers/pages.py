"""The HTML pages: the question box, the answer with its sources, a document (evaluation: evaluation.py)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from answer.records import Answer
from server.deps import admitted, get_engine, get_querylog, get_settings
from server.document_view import pieces
from server.engine import Engine
from server.highlight import highlight
from server.querylog import QueryLog
from server.validation import BadQuestion, clean_question
from settings import Settings

router = APIRouter()
templates = Jinja2Templates(directory=Path(__file__).resolve().parent.parent / "templates")
templates.env.globals["highlight"] = highlight

# A question this long still makes a short address (9 bytes a character percent-encoded); a longer
# message is answered on the POST itself.
_URL_QUESTION_CHARS = 200

EXAMPLES = ("医保卡余额怎么查", "醫保卡餘額能不能提現", "在厦门交的医保去其他城市能用吗", "家庭共济怎么绑定")


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def home(
    request: Request,
    engine: Annotated[Engine, Depends(get_engine)],
    settings: Annotated[Settings, Depends(get_settings)],
    querylog: Annotated[QueryLog, Depends(get_querylog)],
    q: Annotated[str | None, Query()] = None,
) -> HTMLResponse:
    """The question box, and the answer to ``q`` (links and bookmarks ask this way)."""
    return await _page(request, engine, settings, querylog, q)


@router.post("/", response_class=HTMLResponse, include_in_schema=False)
async def ask_form(
    request: Request,
    engine: Annotated[Engine, Depends(get_engine)],
    settings: Annotated[Settings, Depends(get_settings)],
    querylog: Annotated[QueryLog, Depends(get_querylog)],
) -> Response:
    """The question box's own way: a pasted message of up to YIBAO_MAX_QUESTION_CHARS characters
    is too long for a URL (nginx refuses request lines over 8 KB), so the form posts it. A question
    that fits one goes on to /?q=… (303), an address to share, bookmark and go back to."""
    q = (await request.form()).get("q")
    q = q if isinstance(q, str) else None
    if q is not None and len(q) <= _URL_QUESTION_CHARS:
        return RedirectResponse("/?" + urlencode({"q": q}) if q.strip() else "/", status_code=303)
    return await _page(request, engine, settings, querylog, q)


async def _page(
    request: Request, engine: Engine, settings: Settings, querylog: QueryLog, q: str | None
) -> HTMLResponse:
    context: dict = {"q": q or "", "examples": EXAMPLES, "answer": None, "error": None, "settings": settings}
    status, headers = 200, None
    if q is not None and q.strip():
        try:
            question = clean_question(q, settings)
            async with admitted(request, question):
                started = time.perf_counter()
                answer = await run_in_threadpool(engine.answerer.ask, question)
        except BadQuestion as exc:
            context["error"], status = str(exc), 422
        except HTTPException as exc:  # not admitted: the server is busy
            context["error"], status, headers = exc.detail, exc.status_code, exc.headers
        else:
            context["answer"], context["quoted"] = answer, _quoted_spans(answer)
            context["log_id"] = querylog.record(answer, "page", (time.perf_counter() - started) * 1000)
    return templates.TemplateResponse(request, "index.html", context, status_code=status, headers=headers)


@router.get("/doc/{doc_id:path}", response_class=HTMLResponse, include_in_schema=False)
def document(
    request: Request,
    doc_id: str,
    engine: Annotated[Engine, Depends(get_engine)],
    start: Annotated[int, Query(ge=0)] = 0,
    end: Annotated[int, Query(ge=0)] = 0,
) -> HTMLResponse:
    """A source as the index holds it, the cited span ``[start, end)`` marked and scrolled to."""
    index = engine.answerer.retriever.index
    record = index.document(doc_id)
    if record is None:
        return templates.TemplateResponse(
            request,
            "message.html",
            {"title": "未找到文档", "text": f"索引中没有这个文档 / no such document: {doc_id}", "link": "/"},
            status_code=404,
        )
    chunks = [c for c in index.chunks if c.doc_id == doc_id]
    cited = next((c for c in chunks if c.start <= start < c.end), None)
    context = {
        "document": record,
        "pieces": pieces(record, chunks, start, end),
        "cited": cited,
        "start": start,
        "end": min(end, len(record.text)),
    }
    return templates.TemplateResponse(request, "doc.html", context)


def _quoted_spans(answer: Answer) -> dict[int, list[tuple[int, int]]]:
    """For each citation, the spans (relative to its passage) of the sentences the answer quotes."""
    starts = {c.n: c.passage.chunk.start for c in answer.citations}
    spans: dict[int, list[tuple[int, int]]] = {n: [] for n in starts}
    for s in answer.sentences:
        spans[s.citation].append((s.start - starts[s.citation], s.end - starts[s.citation]))
    return spans
