"""What counts as a question, with messages in Chinese and English; shared by API and pages."""

from __future__ import annotations

from pydantic import ValidationError

from server.api_models import api_models
from settings import Settings

_NOT_OBJECT = {"model_type", "model_attributes_type", "dict_type"}


class BadQuestion(ValueError):
    """A question the server refuses, with the message to show the person who asked."""


def clean_question(raw: object, settings: Settings) -> str:
    """``raw`` stripped, or BadQuestion saying why it is refused (the API's own rules)."""
    try:
        return api_models(settings).ask.model_validate({"question": raw}).question
    except ValidationError as exc:
        raise BadQuestion(describe(exc.errors(), settings)) from None


def describe(errors: list[dict], settings: Settings) -> str:
    """pydantic's validation errors as one message in Chinese and English."""
    unknown = [str(e["loc"][-1]) for e in errors if e["type"] == "extra_forbidden"]
    if unknown:
        return f"未知字段 / unknown fields: {', '.join(sorted(unknown))}"
    error = errors[0]
    kind, loc, ctx = error["type"], error.get("loc", ()), error.get("ctx", {})
    field = str(loc[-1]) if loc else ""
    if kind == "value_error":  # raised by our own validators, already bilingual
        return str(ctx["error"])
    if kind in _NOT_OBJECT:
        return "请求体必须是 JSON 对象 / body must be a JSON object"
    if field in ("question", "q"):
        return _question_message(kind, settings)
    if field in ("top_k", "k"):
        if kind in ("greater_than_equal", "less_than_equal"):
            n = settings.top_k_max
            return f"{field} 必须在 1 到 {n} 之间 / {field} must be between 1 and {n}"
        return f"{field} 必须是整数 / {field} must be an integer"
    if field == "region":
        if kind == "string_too_long":
            n = ctx["max_length"]
            return f"地区太长（最多 {n} 字）/ region is longer than {n} characters"
        return "地区必须是文本 / region must be a string"
    where = ".".join(str(p) for p in loc)
    return f"请求格式不对 / invalid request ({where}): {error.get('msg', '')}"


def _question_message(kind: str, settings: Settings) -> str:
    if kind in ("missing", "string_too_short"):
        return "问题不能为空 / question must not be empty"
    if kind == "string_too_long":
        n = settings.max_question_chars
        return f"问题太长（最多 {n} 字）/ question is longer than {n} characters"
    return "问题必须是文本 / question must be a string"
