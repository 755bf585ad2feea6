"""Schemathesis against the server's own OpenAPI schema, in process (ASGI): valid and invalid
requests for every operation; no 5xx, and every refusal a 4xx with a JSON message.

Cases come from ``operation.as_strategy`` under plain Hypothesis (the pytest plugin's lazy
fixture loader does not run under this pytest)."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace

import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from starlette.testclient import TestClient

# Fuzzing, load and kill loops: minutes, left out of `make test-fast`.
pytestmark = pytest.mark.slow

EXAMPLES = 50  # per operation and mode
ADMIN_TOKEN = "schema-test-token"
# What the schema has today; any operation added later is fuzzed too (it is read from the schema).
KNOWN = {
    ("POST", "/api/ask"),
    ("GET", "/api/search"),
    ("GET", "/healthz"),
    ("POST", "/api/admin/reload"),
    ("POST", "/api/admin/eval"),
    ("GET", "/api/admin/jobs"),
    ("GET", "/api/admin/jobs/{job_id}"),
    ("POST", "/api/admin/jobs/{job_id}/cancel"),
    ("GET", "/v1/models"),
    ("GET", "/v1/models/{model}"),
    ("POST", "/v1/chat/completions"),
}
tally: Counter[str] = Counter()


@pytest.fixture(scope="module")
def api_schema(settings, embedder):
    from server.app import create_app
    from server.engine import Engine

    conf = replace(settings, admin_token=ADMIN_TOKEN)
    return schemathesis.openapi.from_asgi("/openapi.json", create_app(conf, Engine(conf, embedder)))


def operations(api_schema) -> list:
    return [result.ok() for result in api_schema.get_all_operations()]


def test_the_schema_lists_the_operations(api_schema) -> None:
    assert {(op.method.upper(), op.path) for op in operations(api_schema)} >= KNOWN


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
def test_no_server_errors_and_every_error_is_a_clear_4xx(api_schema, mode) -> None:
    fuzzed = []
    for operation in operations(api_schema):
        try:
            fuzz(operation, mode)
        except Unsatisfiable:
            # Nothing to make invalid: /healthz takes no input, the reload only a header, which is
            # always a string (tests/hardening/test_security.py sends it wrong tokens).
            assert mode == GenerationMode.NEGATIVE
            continue
        fuzzed.append(f"{operation.method.upper()} {operation.path}")
    assert {"POST /api/ask", "GET /api/search", "POST /v1/chat/completions"} <= set(fuzzed)


def fuzz(operation, mode: GenerationMode) -> None:
    label = f"{operation.method.upper()} {operation.path}"

    @hsettings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case) -> None:
        response = case.call()
        tally[f"{label} {mode} -> {response.status_code}"] += 1
        assert response.status_code < 500, f"{label}: {response.status_code} {response.text}"
        assert response.headers.get("x-content-type-options") == ["nosniff"]
        assert response.headers.get("content-security-policy")
        if response.status_code >= 400:
            assert _message(operation.path, response.json()), response.text

    run()


def _message(path: str, body: dict) -> str:
    """The refusal's message: OpenAI's shape under /v1 (what its clients read), ours elsewhere."""
    if path.startswith("/v1/") and "error" in body:
        detail = body["error"].get("message")
    else:
        detail = body.get("detail")
    return detail.strip() if isinstance(detail, str) else ""


# Bodies no schema describes: raw bytes, deep nesting, escapes JSON allows but text cannot hold.
RAW_BODIES = st.one_of(
    st.binary(max_size=300),
    st.builds(
        lambda o, n, c: (o * n + c * n).encode(),
        st.sampled_from(["[", '{"a":']),
        st.integers(1, 8000),
        st.sampled_from(["]", "}", ""]),
    ),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(st.sampled_from(["question", "top_k", "x"]), inner, max_size=3)
        ),
        max_leaves=20,
    ).map(lambda v: json.dumps(v).encode()),
    st.sampled_from(
        [
            b'{"question": "\\ud800"}',
            b'{"question": "\\udfff\\ud800 \\u0000"}',
            b'{"question": "a", "top_k": 1e400}',
            b'{"question": "a", "top_k": -0}',
            b'{"question": NaN, "top_k": Infinity}',
            b'\xef\xbb\xbf{"question": "a"}',
            b'{"question": "\xff"}',
        ]
    ),
)


@hsettings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(
    body=RAW_BODIES,
    content_type=st.sampled_from(["application/json", "text/plain", "", "application/x-www-form-urlencoded"]),
)
def test_any_body_to_ask_is_answered_or_refused_with_a_4xx(
    api_schema, body: bytes, content_type: str
) -> None:
    client = TestClient(api_schema.app)  # no lifespan needed: the engine is given
    response = client.post("/api/ask", content=body, headers={"content-type": content_type})
    tally[f"POST /api/ask raw body -> {response.status_code}"] += 1
    assert response.status_code < 500, (body[:80], response.text)
    if response.status_code >= 400:
        assert response.json()["detail"]


@pytest.fixture(scope="module")
def started(api_schema):
    """The schema's app with its lifespan run (MCP's session manager runs in it)."""
    with TestClient(api_schema.app) as client:
        yield client


@hsettings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(
    body=RAW_BODIES,
    path=st.sampled_from(["/v1/chat/completions", "/mcp"]),
    accept=st.sampled_from(["application/json, text/event-stream", "*/*", ""]),
)
def test_any_body_to_chat_or_mcp_is_answered_or_refused_with_a_4xx(
    started, body: bytes, path: str, accept: str
) -> None:
    response = started.post(
        path, content=body, headers={"content-type": "application/json", "accept": accept}
    )
    tally[f"POST {path} raw body -> {response.status_code}"] += 1
    assert response.status_code < 500, (path, body[:80], response.text)
    if response.status_code >= 400 and path.startswith("/v1/"):
        assert _message(path, response.json())


def test_schemathesis_reached_every_operation_and_got_answers() -> None:
    """Runs after the tests above (file order): every operation was called, and the fuzzed
    operations were both answered (2xx) and refused (4xx), so the fuzzing exercised both paths."""
    if not tally:
        pytest.skip("the fuzzing tests above did not run")
    called = {key.split(" -> ")[0].rsplit(" ", 1)[0] for key in tally}
    assert {"POST /api/ask", "GET /api/search", "GET /healthz", "POST /api/admin/reload"} <= called
    for operation in ("POST /api/ask", "GET /api/search", "POST /v1/chat/completions"):
        statuses = {int(key.rsplit(" ", 1)[1]) // 100 for key in tally if key.startswith(operation)}
        assert {2, 4} <= statuses, (operation, sorted(tally.items()))
