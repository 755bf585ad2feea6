"""Dependencies shared by the routers."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from server.admission import RETRY_AFTER_SECONDS, Busy
from server.engine import Engine
from server.querylog import QueryLog
from settings import Settings


def get_engine(request: Request) -> Engine:
    return request.app.state.engine


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_querylog(request: Request) -> QueryLog:
    return request.app.state.querylog


def client_address(request: Request) -> str:
    """The client's address (behind a trusted proxy, uvicorn takes it from X-Forwarded-For)."""
    return request.client.host if request.client else ""


@contextlib.asynccontextmanager
async def admitted(request: Request, question: str) -> AsyncIterator[None]:
    """The model's turn for ``question`` (server/admission.py); 429 or 503 with Retry-After."""
    try:
        async with request.app.state.gate.admit(client_address(request), len(question)):
            yield
    except Busy as exc:
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
        raise HTTPException(exc.status, str(exc), headers=headers) from None


# For signatures that take several of them (the admin routes).
EngineDep = Annotated[Engine, Depends(get_engine)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
QueryLogDep = Annotated[QueryLog, Depends(get_querylog)]
