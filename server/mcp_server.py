"""The corpus as an MCP server (the official `mcp` SDK): search, ask, get_document, list_documents.

Every tool goes through the Engine the HTTP API uses (one retrieval path, one answerer), so an
agent gets what /api/search and /api/ask give. Two transports: stdio (`yibao mcp`) and streamable
HTTP at /mcp on `yibao serve` (``mount_mcp``), behind YIBAO_API_KEY when it is set."""

# No ``from __future__ import annotations``: the SDK reads the tools' annotations, which name
# types built inside ``build_mcp`` from the settings.
import contextlib
import sys
import time
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.transport_security import TransportSecuritySettings
from mcp.types import ToolAnnotations
from pydantic import Field
from starlette.datastructures import Headers
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from server.api_key import key_accepted
from server.api_models import MAX_REGION_CHARS
from server.engine import Engine
from server.querylog import QueryLog
from server.records_json import document_json, documents_json, passage_json
from server.validation import BadQuestion, clean_question
from settings import Settings

PATH = "/mcp"
INSTRUCTIONS = (
    "医保问答: cited extractive answers over Chinese medical-insurance documents. "
    "`ask` answers with sentences quoted verbatim from the documents, each marked [n] with its source; "
    "repeat the disclaimer (仅供参考) when you pass an answer on. `search` gives the ranked passages, "
    "`get_document` a document's text (offsets as in the passages), `list_documents` what is indexed."
)
# Every tool only reads the index: safe to call again, nothing outside the corpus is reached.
READ_ONLY = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)


def build_mcp(settings: Settings, engine: Callable[[], Engine], querylog: QueryLog) -> MCPServer:
    """The MCP server over the engine ``engine()`` returns at each call (a reload swaps it); the
    questions asked go to the question log like the others."""
    mcp = MCPServer(name="yibao", title="医保问答 yibao-qa", instructions=INSTRUCTIONS, version="0.1.0")
    question_type = Annotated[
        str,
        Field(
            min_length=1,
            max_length=settings.max_question_chars,
            description="the question (simplified, traditional Chinese or English)",
        ),
    ]
    k_type = Annotated[int, Field(ge=1, le=settings.top_k_max, description="how many passages")]
    region_type = Annotated[
        str | None,
        Field(max_length=MAX_REGION_CHARS, description="only passages about this city or province: 厦门"),
    ]
    default_k = settings.top_k
    offset_type = Annotated[int | None, Field(ge=0, description="a character offset in the document's text")]

    def question_of(raw: str) -> str:
        try:
            return clean_question(raw, settings)
        except BadQuestion as exc:
            raise ToolError(str(exc)) from None

    @mcp.tool(title="Search the documents", annotations=READ_ONLY)
    def search(question: question_type, k: k_type = default_k, region: region_type = None) -> dict[str, Any]:
        """检索: the passages that best match the question, best first, each with its document, section,
        region, date, page (PDF), offsets in the document's text, score and why it matched."""
        result = engine().answerer.retriever.search(question_of(question), k, region=region or None)
        return {
            "query": result.query,
            "region": result.region,
            "passages": [passage_json(p) for p in result.passages],
        }

    @mcp.tool(title="Answer a question with citations", annotations=READ_ONLY)
    def ask(question: question_type, k: k_type = default_k, region: region_type = None) -> dict[str, Any]:
        """问答: an answer quoted verbatim from the documents: `answer` with [n] marks, `sentences` (the
        quotes with their offsets), `citations` (the sources [n]), `disclaimer` (show it with the
        answer). `abstained` is true when the documents hold no answer."""
        started = time.perf_counter()
        answer = engine().answerer.ask(question_of(question), k, region=region or None)
        querylog.record(answer, "mcp", (time.perf_counter() - started) * 1000)
        body = answer.to_dict()
        del body["timings_ms"]
        return body

    @mcp.tool(title="Read a document", annotations=READ_ONLY)
    def get_document(doc: str, start: offset_type = None, end: offset_type = None) -> dict[str, Any]:
        """原文: a document's text as indexed, from `start` to `end` (the offsets passages and citations
        give); at most a limited number of characters at once: `next_start` says where to go on."""
        record = engine().answerer.retriever.index.document(doc)
        if record is None:
            raise ToolError(f"索引中没有这个文档 / no such document: {doc} (list_documents names them)")
        length = len(record.text)
        begin = start or 0
        if begin > length or (end is not None and end < begin):
            raise ToolError(f"范围不对 / need 0 <= start <= end and start <= {length} (the text's length)")
        wanted = length if end is None else min(end, length)
        stop = min(wanted, begin + settings.mcp_document_chars)
        return {
            **document_json(record),
            "start": begin,
            "end": stop,
            "page": record.page_at(begin),
            "text": record.text[begin:stop],
            "next_start": stop if stop < wanted else None,
        }

    @mcp.tool(title="List the documents", annotations=READ_ONLY)
    def list_documents() -> dict[str, Any]:
        """文档列表: every indexed document: id (`doc`), title, type, pages, date, region, chunks."""
        documents = documents_json(engine().answerer.retriever.index)
        return {"count": len(documents), "documents": documents}

    return mcp


def mount_mcp(app: FastAPI, settings: Settings) -> Callable[[], contextlib.AbstractAsyncContextManager[None]]:
    """Serve MCP over streamable HTTP at /mcp on ``app``; returns the context the app's lifespan
    must run it in."""
    mcp = build_mcp(settings, lambda: app.state.engine, app.state.querylog)
    gate = _Gate(settings)
    app.router.routes.append(Route(PATH, endpoint=gate))

    @contextlib.asynccontextmanager
    async def running() -> AsyncIterator[None]:
        # A session manager runs once: each start of the app gets its own (tests start one app
        # several times). Stateless with plain JSON replies: any replica behind a load balancer
        # can answer any call. No DNS-rebinding check: the tools read what /api/search serves to
        # anyone, and the Host a reverse proxy passes on is not known here; YIBAO_API_KEY is the gate.
        starlette_app = mcp.streamable_http_app(
            streamable_http_path=PATH,
            stateless_http=True,
            json_response=True,
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )
        (route,) = (r for r in starlette_app.routes if isinstance(r, Route) and r.path == PATH)
        async with mcp.session_manager.run():
            gate.app = route.app
            try:
                yield
            finally:
                gate.app = None

    return running


class _Gate:
    """Before MCP reads anything: 401 without the API key (when one is set), and 405 for anything
    but a POST. Stateless, the server has nothing to push on a GET stream (which would hold a
    connection open for nothing) and no session to DELETE."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.app: ASGIApp | None = None  # MCP's own, while the server runs

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        refused = None
        if not key_accepted(Headers(scope=scope).get("authorization"), self.settings):
            refused = JSONResponse(
                {"detail": "API 密钥无效 / missing or wrong API key (Authorization: Bearer $YIBAO_API_KEY)"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        elif scope.get("method") != "POST":
            refused = JSONResponse(
                {"detail": "MCP 只接受 POST / MCP takes POST only (stateless streamable HTTP)"},
                status_code=405,
                headers={"Allow": "POST"},
            )
        elif self.app is None:
            refused = JSONResponse({"detail": "MCP 尚未启动 / MCP is not running yet"}, status_code=503)
        if refused is not None:
            await refused(scope, receive, send)
            return
        await self.app(scope, receive, send)


def run_stdio(settings: Settings) -> None:
    """`yibao mcp`: load the model and the index, then speak MCP on stdin/stdout. A new index
    (`yibao ingest`) is picked up at the next call."""
    # stdout is the protocol's: anything printed while loading goes to stderr.
    with contextlib.redirect_stdout(sys.stderr):
        engine = Engine.start(settings)
    querylog = QueryLog(settings.data_dir, settings.log_retention_days, settings.log_max_rows)
    querylog.start()

    def current() -> Engine:
        engine.reload_if_changed()
        return engine

    try:
        build_mcp(settings, current, querylog).run("stdio")
    finally:
        querylog.close()
