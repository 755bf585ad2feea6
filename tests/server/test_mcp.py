"""The MCP server, driven by the official SDK's own client over both transports: `yibao mcp` on
stdio, and streamable HTTP at /mcp on the running server (with and without YIBAO_API_KEY)."""

from __future__ import annotations

import asyncio
import sys

import httpx2
import pytest
from mcp import Client, MCPError, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from settings import ROOT, Settings
from tests.hardening.conftest import subprocess_env
from tests.server.conftest import API_KEY

MAX_QUESTION = Settings().max_question_chars

TOOLS = {"search", "ask", "get_document", "list_documents"}
QUESTION = "医保卡余额怎么查"


async def _exercise(client: Client) -> None:
    """List the tools, call each, and send bad arguments: each bad call is an MCP error result the
    client reads, and the server answers the next call as before."""
    tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert set(tools) == TOOLS
    for tool in tools.values():
        assert tool.annotations.read_only_hint is True and tool.annotations.destructive_hint is False
    assert tools["search"].input_schema["properties"]["question"]["maxLength"] == MAX_QUESTION

    found = await client.call_tool("search", {"question": QUESTION, "k": 3})
    assert not found.is_error
    passages = found.structured_content["passages"]
    assert len(passages) == 3 and [p["rank"] for p in passages] == [1, 2, 3]
    first = passages[0]
    assert {"doc", "section", "region", "date", "page", "start", "end", "why", "text"} <= set(first)
    assert first["why"].startswith(("句子", "语义", "关键词"))

    answer = (await client.call_tool("ask", {"question": QUESTION})).structured_content
    assert not answer["abstained"] and "[1]" in answer["answer"] and "仅供参考" in answer["disclaimer"]
    cited = answer["citations"][0]
    quote = answer["sentences"][0]
    assert cited["n"] == 1 and quote["n"] == 1 and quote["doc"] == cited["doc"]

    # The quote's offsets point into the document get_document returns.
    span = await client.call_tool(
        "get_document", {"doc": quote["doc"], "start": quote["start"], "end": quote["end"]}
    )
    assert not span.is_error and span.structured_content["text"] == quote["source"]
    whole = (await client.call_tool("get_document", {"doc": quote["doc"]})).structured_content
    assert whole["start"] == 0 and whole["end"] == whole["chars"] and whole["next_start"] is None

    listed = (await client.call_tool("list_documents", {})).structured_content
    assert listed["count"] == len(listed["documents"]) >= 5
    assert cited["doc"] in {d["doc"] for d in listed["documents"]}

    refused = [
        ("search", {"question": "", "k": 3}, "at least 1 character"),
        ("search", {"question": QUESTION, "k": 999}, "less than or equal to 50"),
        ("ask", {"question": "x" * (MAX_QUESTION + 1)}, f"at most {MAX_QUESTION} characters"),
        ("ask", {"question": "医保\x00卡"}, "控制字符"),
        ("ask", {}, "question"),
        ("get_document", {"doc": "no-such.txt"}, "no such document"),
        ("get_document", {"doc": quote["doc"], "start": 50, "end": 10}, "start <= end"),
        ("get_document", {"doc": quote["doc"], "start": -1}, "greater than or equal to 0"),
        ("no_such_tool", {}, "Unknown tool"),
    ]
    for name, arguments, message in refused:
        result = await client.call_tool(name, arguments)
        assert result.is_error, (name, arguments)
        assert message in result.content[0].text, (name, result.content[0].text)
    assert not (await client.call_tool("search", {"question": QUESTION})).is_error


@pytest.mark.parametrize("mode", ["auto", "legacy"])
def test_stdio_yibao_mcp(settings, retriever, mode) -> None:
    """``legacy``: the initialize handshake today's desktop clients use; ``auto``: the SDK's default."""
    env = subprocess_env(settings.corpus_dir, settings.data_dir)
    params = StdioServerParameters(command=sys.executable, args=["-m", "cli", "mcp"], cwd=str(ROOT), env=env)

    async def run() -> None:
        async with Client(params, mode=mode) as client:
            await _exercise(client)

    asyncio.run(run())


@pytest.mark.parametrize("mode", ["auto", "legacy"])
def test_streamable_http_on_yibao_serve(live_server, mode) -> None:

    async def run() -> None:
        async with Client(f"{live_server}/mcp", mode=mode) as client:
            await _exercise(client)

    asyncio.run(run())


def _keyed(base: str, key: str | None) -> Client:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return Client(streamable_http_client(f"{base}/mcp", http_client=httpx2.AsyncClient(headers=headers)))


def test_http_wants_the_api_key_when_one_is_set(keyed_server) -> None:
    async def run() -> None:
        async with _keyed(keyed_server, API_KEY) as client:
            assert {t.name for t in (await client.list_tools()).tools} == TOOLS
        for key in (None, "wrong-key"):
            with pytest.raises(ExceptionGroup) as refused:
                async with _keyed(keyed_server, key) as client:
                    await client.list_tools()
            assert refused.group_contains(MCPError, match="error response")  # the client read the 401

    asyncio.run(run())
    for key in (None, "wrong-key"):
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        refused = httpx2.post(f"{keyed_server}/mcp", json={}, headers=headers)
        assert refused.status_code == 401 and "API" in refused.json()["detail"]
        assert refused.headers["www-authenticate"] == "Bearer"


def test_a_bad_http_request_to_mcp_is_a_4xx(live_server) -> None:
    for body, headers in [
        (b"not json", {"content-type": "application/json", "accept": "application/json, text/event-stream"}),
        (
            b'{"jsonrpc": "2.0"}',
            {"content-type": "application/json", "accept": "application/json, text/event-stream"},
        ),
        (b"{}", {"content-type": "text/plain"}),
    ]:
        response = httpx2.post(f"{live_server}/mcp", content=body, headers=headers)
        assert 400 <= response.status_code < 500, (body, response.status_code, response.text)
    # Stateless: no stream to hold open on a GET, no session to delete.
    for method in ("GET", "DELETE", "PUT"):
        response = httpx2.request(method, f"{live_server}/mcp", headers={"accept": "text/event-stream"})
        assert response.status_code == 405 and response.headers["allow"] == "POST"
