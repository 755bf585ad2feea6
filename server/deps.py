"""Dependencies shared by the routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from server.engine import Engine
from server.querylog import QueryLog
from settings import Settings


def get_engine(request: Request) -> Engine:
    return request.app.state.engine


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_querylog(request: Request) -> QueryLog:
    return request.app.state.querylog


# For signatures that take several of them (the admin routes).
EngineDep = Annotated[Engine, Depends(get_engine)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
QueryLogDep = Annotated[QueryLog, Depends(get_querylog)]
