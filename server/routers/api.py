"""The JSON API: /api/ask, /api/search, /healthz (the admin API: routers/admin.py)."""

from __future__ import annotations

import json
import time
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from server.deps import get_engine, get_querylog, get_settings
from server.engine import Engine
from server.querylog import QueryLog
from server.validation import BadQuestion, clean_question, clean_top_k
from settings import Settings

router = APIRouter()

_ASK_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["question"],
                    "additionalProperties": False,
                    "properties": {
                        "question": {"type": "string", "minLength": 1, "maxLength": 500},
                        "top_k": {"type": "integer", "minimum": 1, "maximum": 50},
                    },
                },
                "example": {"question": "医保卡余额怎么查", "top_k": 5},
            }
        },
    }
}


# The JSON endpoints return a JSONResponse of plain dicts: FastAPI would otherwise validate and
# re-encode every answer field by field, on the event loop (≈5 % of the server's CPU under load).
@router.post(
    "/api/ask",
    summary="Answer a question with cited sentences",
    openapi_extra=_ASK_BODY,
    response_class=JSONResponse,
)
async def ask(
    request: Request,
    engine: Annotated[Engine, Depends(get_engine)],
    settings: Annotated[Settings, Depends(get_settings)],
    querylog: Annotated[QueryLog, Depends(get_querylog)],
) -> JSONResponse:
    """Body: ``{"question": str, "top_k": int (1–50, optional)}``; any content type that holds JSON."""
    # Parsed here rather than by FastAPI so that every malformed body gets one clear message.
    try:
        body = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: "[[[[…" nested deep
        raise HTTPException(400, "请求体不是有效的 JSON / malformed JSON body") from None
    try:
        if not isinstance(body, dict):
            raise BadQuestion("请求体必须是 JSON 对象 / body must be a JSON object")
        unknown = set(body) - {"question", "top_k"}
        if unknown:
            raise BadQuestion(f"未知字段 / unknown fields: {', '.join(sorted(unknown))}")
        question = clean_question(body.get("question"), settings)
        top_k = clean_top_k(body.get("top_k"), settings)
    except BadQuestion as exc:
        raise HTTPException(422, str(exc)) from None
    answerer = engine.answerer
    started = time.perf_counter()
    answer = await run_in_threadpool(answerer.ask, question, top_k)
    querylog.record(answer, "api", (time.perf_counter() - started) * 1000)
    return JSONResponse(answer.to_dict())


@router.get(
    "/api/search",
    summary="Ranked passages for a query (the passages answers are built from)",
    response_class=JSONResponse,
)
def search(
    engine: Annotated[Engine, Depends(get_engine)],
    settings: Annotated[Settings, Depends(get_settings)],
    q: Annotated[str, Query(description="the question")] = "",
    k: Annotated[int | None, Query(description="how many passages, 1–50")] = None,
    retriever: Annotated[str, Query(pattern="^(hybrid|dense|lexical)$")] = "hybrid",
) -> JSONResponse:
    try:
        question = clean_question(q, settings)
        top_k = clean_top_k(k, settings)
    except BadQuestion as exc:
        raise HTTPException(422, str(exc)) from None
    result = engine.answerer.retriever.search(question, top_k, retriever)
    return JSONResponse(
        {
            "query": result.query,
            "retriever": result.mode,
            "passages": [
                {
                    "rank": p.rank,
                    "doc": p.chunk.doc_id,
                    "title": p.chunk.title,
                    "section": p.chunk.section,
                    "date": p.chunk.date,
                    "region": p.chunk.region,
                    "start": p.chunk.start,
                    "end": p.chunk.end,
                    "text": p.chunk.text,
                    "score": round(p.score, 4),
                    "dense_rank": p.dense_rank,
                    "dense_score": None if p.dense_score is None else round(p.dense_score, 4),
                    "lexical_rank": p.lexical_rank,
                    "lexical_score": None if p.lexical_score is None else round(p.lexical_score, 4),
                    "matched_terms": list(p.matched_terms),
                }
                for p in result.passages
            ],
            "timings_ms": {k: round(v, 2) for k, v in result.timings_ms.items()},
        }
    )


@router.get("/healthz", summary="Index loaded, chunk count, model")
def healthz(engine: Annotated[Engine, Depends(get_engine)]) -> dict:
    return engine.health()
