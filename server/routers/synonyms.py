"""The synonym groups an administrator edits (index/synonyms.py): a form on /admin and an API.

A saved file applies to the next search, without a restart or an ingest (BM25 looks the words up
at query time), and stays in the data dir across restarts. A file that cannot be used is refused
with the line at fault and the old one stays."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, HTTPException, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from index.synonyms import MAX_BYTES, SynonymError, SynonymFile, Synonyms
from server.admin_auth import Session
from server.deps import EngineDep, SettingsDep
from server.engine import Engine
from server.routers.admin import Bearer, _admin, _form_action

router = APIRouter()

PAGE_PATH, API_PATH = "/admin/synonyms", "/api/admin/synonyms"
# A form sends the text percent-encoded (up to 9 bytes a Chinese character), JSON as \\u escapes.
BODY_BYTES = 4 * MAX_BYTES


def _file(engine: Engine) -> SynonymFile:
    return engine.answerer.retriever.synonyms


def _json(file: SynonymFile, synonyms: Synonyms) -> dict:
    return {"file": file.path.name, "text": file.text(), "groups": [list(g) for g in synonyms.groups]}


@router.get(API_PATH, summary="The synonym groups searches use", dependencies=[Bearer])
def get_synonyms(engine: EngineDep) -> dict:
    file = _file(engine)
    return _json(file, file.current())


@router.put(API_PATH, summary="Replace the synonym groups (the next search uses them)", dependencies=[Bearer])
def put_synonyms(engine: EngineDep, text: Annotated[str, Body(embed=True, max_length=MAX_BYTES)]) -> dict:
    file = _file(engine)
    try:
        return _json(file, file.save(text))
    except SynonymError as exc:
        raise HTTPException(422, str(exc)) from None


@router.post(PAGE_PATH, include_in_schema=False)
async def synonyms_page(request: Request, settings: SettingsDep) -> Response:
    async def save(request: Request, form: FormData, session: Session) -> Response:
        app = request.app.state
        try:
            saved = _file(app.engine).save(str(form.get("text", "")))
        except SynonymError as exc:
            error = f"同义词未保存 / synonyms not saved: {exc}"
            return _admin(request, app.engine, app.settings, app.querylog, session, error=error, status=422)
        groups = len(saved.groups)
        notice = f"同义词已保存（{groups} 组），即时生效 / {groups} synonym groups saved, used from now on"
        return _admin(request, app.engine, app.settings, app.querylog, session, notice=notice)

    return await _form_action(request, settings, save)
