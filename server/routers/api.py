"""The JSON API: /api/ask, /api/search, /healthz (the admin API: routers/admin.py)."""

# No ``from __future__ import annotations``: FastAPI reads the routes' annotations, and the search
# parameters' model is a local of ``api_router``, which a string annotation could not name.
import json
import time
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from server.api_models import api_models
from server.deps import admitted, get_engine, get_querylog
from server.engine import Engine
from server.querylog import QueryLog
from server.records_json import search_json
from server.validation import describe
from settings import Settings


def api_router(settings: Settings) -> APIRouter:
    """The API, with its request models (and so its limits and schema) built from ``settings``."""
    models = api_models(settings)
    SearchParams = models.search
    router = APIRouter()
    body_schema = {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": models.ask.model_json_schema(),
                    "example": {"question": "医保卡余额怎么查", "top_k": settings.top_k},
                }
            },
        }
    }

    # The JSON endpoints return a JSONResponse of plain dicts: FastAPI would otherwise validate and
    # re-encode every answer field by field, on the event loop (≈5 % of the server's CPU under load).
    @router.post(
        "/api/ask",
        summary="Answer a question with cited sentences",
        openapi_extra=body_schema,
        response_class=JSONResponse,
    )
    async def ask(
        request: Request,
        engine: Annotated[Engine, Depends(get_engine)],
        querylog: Annotated[QueryLog, Depends(get_querylog)],
    ) -> JSONResponse:
        """Body: ``question``, optional ``top_k`` (limits in the schema); any content type that holds JSON."""
        # Parsed here rather than by FastAPI so that every malformed body gets one clear message.
        try:
            body = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: "[[[[…" nested deep
            raise HTTPException(400, "请求体不是有效的 JSON / malformed JSON body") from None
        try:
            params = models.ask.model_validate(body)
        except ValidationError as exc:
            raise HTTPException(422, describe(exc.errors(), settings)) from None
        answerer = engine.answerer
        async with admitted(request, params.question):
            started = time.perf_counter()
            answer = await run_in_threadpool(
                answerer.ask, params.question, params.top_k or settings.top_k, region=params.region or None
            )
        querylog.record(answer, "api", (time.perf_counter() - started) * 1000)
        return JSONResponse(answer.to_dict())

    @router.get(
        "/api/search",
        summary="Ranked passages for a query (the passages answers are built from)",
        response_class=JSONResponse,
    )
    async def search(
        request: Request,
        engine: Annotated[Engine, Depends(get_engine)],
        params: Annotated[SearchParams, Query()],  # type: ignore[valid-type]
    ) -> JSONResponse:
        async with admitted(request, params.q):
            result = await run_in_threadpool(
                engine.answerer.retriever.search,
                params.q,
                params.k or settings.top_k,
                params.retriever,
                region=params.region or None,
            )
        return JSONResponse(search_json(result))

    router.add_api_route("/healthz", healthz, methods=["GET"], summary="Index loaded, chunk count, model")
    return router


def healthz(engine: Annotated[Engine, Depends(get_engine)]) -> dict:
    return engine.health()
