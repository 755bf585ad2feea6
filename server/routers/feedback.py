"""「有帮助 / 没帮助」 under an answer: a plain form POST (no script), stored with the logged question.

The form carries the random id the question was logged under; nobody else can know it, so a
forged request cannot touch anyone's feedback, which is why no session or CSRF token is needed."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse

from server.deps import get_querylog
from server.querylog import QueryLog
from server.routers.pages import templates

router = APIRouter()


@router.post("/feedback", response_class=HTMLResponse, include_in_schema=False)
def feedback(
    request: Request,
    querylog: Annotated[QueryLog, Depends(get_querylog)],
    entry: Annotated[str, Form(max_length=64)] = "",
    helpful: Annotated[str, Form(max_length=8)] = "",
) -> HTMLResponse:
    outcome = querylog.feedback(entry, helpful == "1") if helpful in ("1", "0") else "invalid"
    if outcome == "invalid":
        context = {"title": "反馈无效", "text": "反馈格式不对 / invalid feedback", "link": "/"}
        return templates.TemplateResponse(request, "message.html", context, status_code=422)
    if outcome == "unknown":
        text = "没有这条回答的记录，反馈未保存 / no such answer was logged: feedback not recorded"
        context = {"title": "反馈无效", "text": text, "link": "/"}
        return templates.TemplateResponse(request, "message.html", context, status_code=404)
    context = {
        "title": "谢谢反馈",
        "text": "已记录，谢谢！/ Thank you, your feedback was recorded.",
        "link": "/",
    }
    return templates.TemplateResponse(request, "message.html", context)
