"""What counts as a question, with messages in Chinese and English; shared by API and pages."""

from __future__ import annotations

import re

from settings import Settings

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")  # surrogates: no text can hold them


class BadQuestion(ValueError):
    """A question the server refuses, with the message to show the person who asked."""


def clean_question(raw: object, settings: Settings) -> str:
    if not isinstance(raw, str):
        raise BadQuestion("问题必须是文本 / question must be a string")
    if _CONTROL.search(raw):
        raise BadQuestion("问题含有控制字符 / question contains control characters")
    question = raw.strip()
    if not question:
        raise BadQuestion("问题不能为空 / question must not be empty")
    if len(question) > settings.max_question_chars:
        raise BadQuestion(
            f"问题太长（最多 {settings.max_question_chars} 字）/ "
            f"question is longer than {settings.max_question_chars} characters"
        )
    return question


def clean_top_k(raw: object, settings: Settings) -> int:
    if raw is None:
        return settings.top_k
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise BadQuestion("top_k 必须是整数 / top_k must be an integer")
    if not 1 <= raw <= 50:
        raise BadQuestion("top_k 必须在 1 到 50 之间 / top_k must be between 1 and 50")
    return raw
