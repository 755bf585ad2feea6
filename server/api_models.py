"""The API's inputs as pydantic models whose limits come from Settings.

The OpenAPI schema, the validation and the messages (``server.validation.describe``) all read
the same numbers, so changing ``YIBAO_MAX_QUESTION_CHARS`` or ``YIBAO_TOP_K_MAX`` changes all three.
"""

# No ``from __future__ import annotations``: the models are built inside a function, and pydantic
# must see their annotations evaluated there, not as strings naming the function's locals.
import functools
import re
from typing import Annotated, Literal, NamedTuple

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from settings import Settings

MAX_REGION_CHARS = 20
CONTROL_MESSAGE = "问题含有控制字符 / question contains control characters"
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")  # surrogates: no text can hold them


class ApiModels(NamedTuple):
    ask: type[BaseModel]  # the JSON body of POST /api/ask
    search: type[BaseModel]  # the query parameters of GET /api/search


def _no_control_characters(raw: object) -> object:
    # Before stripping, so that a control character at either end is refused too.
    if isinstance(raw, str) and _CONTROL.search(raw):
        raise ValueError(CONTROL_MESSAGE)
    return raw


@functools.cache
def api_models(settings: Settings) -> ApiModels:
    """The request models for ``settings`` (built once per settings)."""
    question_field = Field(
        min_length=1,
        max_length=settings.max_question_chars,
        description=f"the question, 1–{settings.max_question_chars} characters, no control characters",
    )
    top_k_field = Field(
        ge=1, le=settings.top_k_max, description=f"passages to draw from, 1–{settings.top_k_max}"
    )
    region_field = Field(
        max_length=MAX_REGION_CHARS, description="only passages about this city or province (e.g. 厦门)"
    )
    Question = Annotated[str, question_field, BeforeValidator(_no_control_characters)]

    class AskBody(BaseModel):
        # Strict: JSON gives real types, so "5" or true for top_k is refused rather than converted.
        model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, strict=True)

        question: Question
        top_k: Annotated[int, top_k_field] | None = None
        region: Annotated[str, region_field] | None = None

    class SearchParams(BaseModel):
        model_config = ConfigDict(str_strip_whitespace=True)

        q: Annotated[Question, Field(validate_default=True)] = ""
        k: Annotated[int, top_k_field] | None = None
        retriever: Literal["hybrid", "dense", "lexical"] = "hybrid"
        region: Annotated[str, region_field] | None = None

    return ApiModels(AskBody, SearchParams)
