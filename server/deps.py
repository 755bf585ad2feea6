"""Dependencies shared by the routers."""

from __future__ import annotations

from fastapi import Request

from server.engine import Engine
from server.querylog import QueryLog
from settings import Settings


def get_engine(request: Request) -> Engine:
    return request.app.state.engine


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_querylog(request: Request) -> QueryLog:
    return request.app.state.querylog
