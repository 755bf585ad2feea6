"""An OpenAI-compatible chat API: /v1/models and /v1/chat/completions, for chat clients (Open WebUI,
LobeChat, Cherry Studio) and anything built on the `openai` library.

The last user message is the question; a city an earlier user message named counts as named when
the question names none. The reply is the cited answer, its sources and the disclaimer, as one
message (streamed as SSE chunks when asked); the citations also come as the extra field
``citations``. Errors use OpenAI's shape, ``{"error": {"message", "type", "param", "code"}}``."""

# No ``from __future__ import annotations``: pydantic reads the models' annotations at class creation.
import json
import time
import uuid
from collections.abc import Iterator
from typing import Annotated, Literal

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from answer.records import Answer
from ingest.regions import find_region
from server.api_key import key_accepted
from server.validation import BadQuestion, clean_question
from settings import Settings

MODEL = "yibao"
COMPLETIONS = "/v1/chat/completions"
MAX_MESSAGES = 200
_EXAMPLE = "医保卡余额怎么查"
_CREATED = int(time.time())
# Nothing is generated: an extractive answer has no tokens to count.
_NO_TOKENS = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
# Where a streamed reply is cut into chunks: after each line (a quote, an item, a source).
_STREAM_PIECE = "\n"

router = APIRouter(prefix="/v1", tags=["OpenAI-compatible chat"])


class _TextPart(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str
    text: str | None = None


class _Message(BaseModel):
    model_config = ConfigDict(extra="allow")  # name, tool_calls…: accepted and not used

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[_TextPart] | None = None

    @property
    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(p.text or "" for p in self.content if p.type == "text")
        return self.content or ""


class _StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")

    include_usage: bool = False


class ChatRequest(BaseModel):
    # Sampling settings (temperature, max_tokens…) mean nothing to an extractive answer: accepted, unused.
    model_config = ConfigDict(extra="allow")

    model: Annotated[str, Field(json_schema_extra={"enum": [MODEL]})]
    messages: Annotated[list[_Message], Field(min_length=1, max_length=MAX_MESSAGES)]
    stream: bool = False
    stream_options: _StreamOptions | None = None
    n: Literal[1] = 1


def _inlined(schema: dict) -> dict:
    """``schema`` with its ``$defs`` written in place: the OpenAPI document has no room for them."""
    defs = schema.pop("$defs", {})

    def walk(node: object) -> object:
        if isinstance(node, dict):
            if "$ref" in node:
                return walk(defs[node["$ref"].rsplit("/", 1)[-1]])
            return {key: walk(value) for key, value in node.items()}
        if isinstance(node, list):
            return [walk(value) for value in node]
        return node

    return walk(schema)


class OpenAIError(Exception):
    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.param, self.code = status, param, code

    def response(self) -> JSONResponse:
        kind = "authentication_error" if self.status == 401 else "invalid_request_error"
        error = {"message": str(self), "type": kind, "param": self.param, "code": self.code}
        return JSONResponse({"error": error}, status_code=self.status)


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def _check_key(request: Request) -> None:
    if not key_accepted(request.headers.get("authorization"), _settings(request)):
        message = "API 密钥无效 / incorrect API key (Authorization: Bearer $YIBAO_API_KEY)"
        raise OpenAIError(401, message, code="invalid_api_key")


@router.get("/models", summary="The one model: yibao", response_class=JSONResponse)
def list_models(request: Request) -> Response:
    try:
        _check_key(request)
    except OpenAIError as exc:
        return exc.response()
    return JSONResponse({"object": "list", "data": [_model_card()]})


@router.get("/models/{model}", summary="One model", response_class=JSONResponse)
def get_model(request: Request, model: str) -> Response:
    try:
        _check_key(request)
        _known(model)
    except OpenAIError as exc:
        return exc.response()
    return JSONResponse(_model_card())


@router.post(
    "/chat/completions",
    summary="Answer the last user message (OpenAI chat completions; `stream` for SSE)",
    response_class=JSONResponse,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": _inlined(ChatRequest.model_json_schema()),
                    "example": {"model": MODEL, "messages": [{"role": "user", "content": _EXAMPLE}]},
                }
            },
        }
    },
)
async def chat_completions(request: Request) -> Response:
    try:
        _check_key(request)
        chat = _parse(await request.body())
        _known(chat.model)
        settings = _settings(request)
        question, place = _question(chat.messages, settings)
    except OpenAIError as exc:
        return exc.response()
    started = time.perf_counter()
    answer = await run_in_threadpool(
        request.app.state.engine.answerer.ask, question, settings.top_k, place=place
    )
    request.app.state.querylog.record(answer, "chat", (time.perf_counter() - started) * 1000)
    reply = _Reply(answer)
    if chat.stream:
        usage = chat.stream_options is not None and chat.stream_options.include_usage
        return StreamingResponse(reply.events(usage), media_type="text/event-stream")
    return JSONResponse(reply.completion())


def _parse(body: bytes) -> ChatRequest:
    try:
        raw = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise OpenAIError(400, "请求体不是有效的 JSON / malformed JSON body") from None
    try:
        return ChatRequest.model_validate(raw)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"]) or "body"
        if error["type"] in ("model_type", "dict_type", "model_attributes_type") and not error["loc"]:
            message = "请求体必须是 JSON 对象 / body must be a JSON object"
        elif error["type"] == "missing":
            message = f"缺少字段 / missing field: {where}"
        else:
            message = f"字段不对 / invalid field {where}: {error['msg']}"
        raise OpenAIError(400, message, param=where) from None


def _known(model: str) -> None:
    if model != MODEL:
        message = f"没有这个模型 / the model `{model}` does not exist (use `{MODEL}`)"
        raise OpenAIError(404, message, "model", "model_not_found")


def _question(messages: list[_Message], settings: Settings) -> tuple[str, str | None]:
    """The last message's text (it must be the user's), and the place an earlier user message
    named, the latest first. Assistant messages are not read: our own answers name the places
    their sources speak of."""
    if messages[-1].role != "user":
        raise OpenAIError(400, "最后一条消息必须来自用户 / the last message must be the user's", "messages")
    try:
        question = clean_question(messages[-1].text, settings)
    except BadQuestion as exc:
        raise OpenAIError(400, str(exc), "messages") from None
    earlier = (find_region(m.text) for m in reversed(messages[:-1]) if m.role == "user")
    return question, next((place for place in earlier if place), None)


def _model_card() -> dict:
    return {"id": MODEL, "object": "model", "created": _CREATED, "owned_by": "yibao-qa"}


class _Reply:
    """One answer as a chat completion or as its stream of chunks."""

    def __init__(self, answer: Answer) -> None:
        self.id = f"chatcmpl-{uuid.uuid4().hex}"
        self.created = int(time.time())
        self.content = _content(answer)
        self.citations = [c.to_dict() for c in answer.citations]

    def _base(self, kind: str) -> dict:
        return {"id": self.id, "object": kind, "created": self.created, "model": MODEL}

    def completion(self) -> dict:
        message = {"role": "assistant", "content": self.content}
        return {
            **self._base("chat.completion"),
            "choices": [{"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}],
            "usage": _NO_TOKENS,
            "citations": self.citations,
        }

    def events(self, usage: bool) -> Iterator[str]:
        pieces = self.content.split(_STREAM_PIECE)
        last = len(pieces) - 1
        deltas = [{"role": "assistant", "content": ""}]
        deltas += [{"content": piece + (_STREAM_PIECE if i < last else "")} for i, piece in enumerate(pieces)]
        for delta in deltas:
            yield self._event(choices=[{"index": 0, "delta": delta, "finish_reason": None}])
        yield self._event(
            choices=[{"index": 0, "delta": {}, "finish_reason": "stop"}], citations=self.citations
        )
        if usage:
            yield self._event(choices=[], usage=_NO_TOKENS)
        yield "data: [DONE]\n\n"

    def _event(self, **fields: object) -> str:
        chunk = {**self._base("chat.completion.chunk"), **fields}
        return f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n"


def _content(answer: Answer) -> str:
    """The answer with its [n] marks, its sources, then the disclaimer, as Markdown (chat clients
    render it): each line of the answer a paragraph or list item of its own, the sources a list."""
    lines = [answer.text.replace("\n", "\n\n")]
    if answer.citations:
        lines.append("来源 / sources:")
        sources = []
        for c in answer.citations:
            chunk = c.passage.chunk
            where = "，".join(x for x in (chunk.doc_id, chunk.whereabouts) if x)
            sources.append(f"- [{c.n}] {chunk.section}（{where}）")
        lines.append("\n".join(sources))
    lines.append(answer.disclaimer)
    return "\n\n".join(lines)
