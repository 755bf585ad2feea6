"""Security: admin token, strict headers on every response, user text escaped, no request path
reaching the file system, body limits (incl. chunked bodies), loopback by default."""

from __future__ import annotations

import http.client
import inspect
import json
from dataclasses import replace
from urllib.parse import quote

import psutil
import pytest
from fastapi.testclient import TestClient

import cli
from settings import ROOT

TOKEN = "correct horse battery staple"
PAYLOADS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "{{7*7}}",
    "{% print(7*7) %}",
    "'; alert(1); '",
    "javascript:alert(1)",
]
# What must never come back: the source of the app and the system's password file.
SECRETS = ("class Settings", "def create_app", "root:x:0:0", "import ", "[build-system]")


@pytest.fixture(scope="module")
def engine(settings, embedder):
    from server.engine import Engine

    return Engine(settings, embedder)


def make_client(settings, engine, **overrides) -> TestClient:
    from server.app import create_app

    return TestClient(create_app(replace(settings, **overrides), engine))


@pytest.fixture(scope="module")
def client(settings, engine) -> TestClient:
    # Every wrong token here must reach the check itself; the wait that failures earn has its own
    # test (test_login_throttle.py).
    return make_client(settings, engine, admin_token=TOKEN, auth_free_failures=10**6)


# --- admin actions -------------------------------------------------------------------------


def admin_operations(client: TestClient) -> list[tuple[str, str]]:
    """Every admin action the app offers (read from its schema, so new ones are covered)."""
    paths = client.get("/openapi.json").json()["paths"]
    found = [(method.upper(), path) for path, ops in paths.items() if "admin" in path for method in ops]
    assert ("POST", "/api/admin/reload") in found
    return found


def test_admin_actions_are_disabled_without_a_configured_token(settings, engine) -> None:
    client = make_client(settings, engine, admin_token="")
    for method, path in admin_operations(client):
        for headers in ({}, {"Authorization": "Bearer "}, {"Authorization": "Bearer anything"}):
            response = client.request(method, path, headers=headers)
            assert response.status_code == 403, response.text
            assert "YIBAO_ADMIN_TOKEN" in response.json()["detail"]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": ""},
        {"Authorization": TOKEN},
        {"Authorization": f"bearer {TOKEN}"},
        {"Authorization": f"Bearer {TOKEN} "},
        {"Authorization": f"Bearer {TOKEN[:-1]}"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": f"Basic {TOKEN}"},
        {"X-Admin-Token": TOKEN},
    ],
)
def test_a_missing_or_wrong_token_is_refused_with_401(client, headers) -> None:
    for method, path in admin_operations(client):
        response = client.request(method, path, headers=headers)
        assert response.status_code == 401, response.text
        assert response.json()["detail"]
        assert client.request(method, f"{path}?token={quote(TOKEN)}").status_code == 401  # not from the URL


def test_the_right_token_reloads(client) -> None:
    response = client.post("/api/admin/reload", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    body = response.json()
    assert isinstance(body["reloaded"], bool)
    assert body["chunks"] > 0 and body["status"] == "ok"
    assert client.get("/api/admin/reload").status_code == 405  # only POST


# --- headers ---------------------------------------------------------------------------------


def strict_policy(csp: str) -> None:
    directives = {d.split()[0]: d.split()[1:] for d in csp.split(";") if d.strip()}
    assert directives["default-src"] == ["'none'"]
    assert "script-src" not in directives  # so no script at all runs on the pages
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["base-uri"] == ["'none'"]
    assert directives["form-action"] == ["'self'"]
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp and "*" not in csp


def test_every_kind_of_response_sends_the_strict_headers(client) -> None:
    responses = [
        client.get("/"),
        client.get("/?q=医保卡余额怎么查"),
        client.get("/?q=%00"),
        client.get("/eval"),
        client.get("/healthz"),
        client.get("/api/search?q=医保"),
        client.get("/api/search?q="),
        client.get("/static/style.css"),
        client.get("/no/such/page"),
        client.post("/api/ask", content=b"{"),
        client.post("/api/ask", content=b"x" * 100_000),
        client.post("/api/admin/reload"),
        client.delete("/api/ask"),
        client.get("/retrieval?q=医保卡余额怎么查"),
        client.get("/eval/compare?a=x&b=y"),
        client.get("/v1/models"),
        client.post("/v1/chat/completions", content=b"{"),
    ]
    assert sorted({r.status_code for r in responses}) == [200, 400, 401, 404, 405, 413, 422]
    for r in responses:
        strict_policy(r.headers["content-security-policy"])
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["referrer-policy"] == "no-referrer"
        assert "camera=()" in r.headers["permissions-policy"]
        assert r.headers["cross-origin-opener-policy"] == "same-origin"
        assert r.headers["content-type"].split(";")[0] in ("text/html", "application/json", "text/css")
    docs = client.get("/docs")
    assert "frame-ancestors 'none'" in docs.headers["content-security-policy"]


# --- escaping ------------------------------------------------------------------------------


@pytest.mark.parametrize("payload", PAYLOADS)
def test_user_text_is_escaped_on_the_page(client, payload) -> None:
    from markupsafe import escape

    for q in (payload, payload + "\x01", payload * 100):  # answered, refused (422), too long (422)
        response = client.get("/", params={"q": q})
        assert response.status_code in (200, 422)
        page = response.text
        assert "<script>alert" not in page and "<img src=x" not in page
        assert 'value="' + str(escape(q.strip())) + '"' in page or q.strip() not in page
        if "{{7*7}}" in q:
            assert 'value="{{7*7}}' in page  # shown as typed, never evaluated
        assert "<script" not in page.lower()  # no script tag on any page, ever


@pytest.mark.parametrize("payload", PAYLOADS)
def test_user_text_round_trips_as_data_in_the_api(client, payload) -> None:
    ask = client.post("/api/ask", json={"question": payload})
    assert ask.status_code == 200
    assert ask.headers["content-type"] == "application/json"
    assert ask.json()["question"] == payload
    search = client.get("/api/search", params={"q": payload})
    assert search.status_code == 200 and search.json()["query"] == payload
    # Templating syntax is data: the raw JSON holds it as sent.
    if payload == "{{7*7}}":
        assert '"question":"{{7*7}}"' in ask.text


# --- file system ---------------------------------------------------------------------------

TRAVERSALS = [
    "/static/../settings.py",
    "/static/../../settings.py",
    "/static/%2e%2e/settings.py",
    "/static/%2e%2e/%2e%2e/settings.py",
    "/static/%2e%2e%2fsettings.py",
    "/static/..%2f..%2fsettings.py",
    "/static/..%5c..%5csettings.py",
    "/static/%252e%252e/settings.py",
    "/static/....//....//settings.py",
    "/static//etc/passwd",
    "/static/%2fetc%2fpasswd",
    "/static/..%00/settings.py",
    "/static/style.css%00.py",
    "/static/../server/app.py",
    "/static/%2e%2e/app.py",
    "/../../etc/passwd",
    "/%2e%2e/%2e%2e/etc/passwd",
    "//etc/passwd",
    "/?q=../../etc/passwd",
    "/?q=..%2f..%2fsettings.py",
    "/?q=/etc/passwd",
    "/eval?path=/etc/passwd",
    "/eval/../settings.py",
    "/api/search?q=../../etc/passwd",
    "/templates/index.html",
    "/settings.py",
    "/.git/config",
]


def raw_get(port: int, target: str) -> tuple[int, str]:
    """A request whose target goes out exactly as written (no client-side normalising)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.putrequest("GET", target, skip_accept_encoding=True)
        conn.endheaders()
        response = conn.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        conn.close()


def test_no_request_path_reaches_the_file_system(served) -> None:
    assert raw_get(served.port, "/static/style.css")[0] == 200  # the one folder that is served
    statuses = {}
    for target in TRAVERSALS:
        status, body = raw_get(served.port, target)
        statuses[target] = status
        assert status < 500, (target, status, body[:200])
        for secret in SECRETS:
            assert secret not in body, (target, secret)
        if target.startswith("/static"):
            assert status in (400, 404), (target, status)
    assert (ROOT / "settings.py").exists()


# --- body limits ---------------------------------------------------------------------------


def post_chunked(port: int, chunks: list[bytes]) -> tuple[int, dict, dict]:
    """POST /api/ask with Transfer-Encoding: chunked and no Content-Length."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(
            "POST",
            "/api/ask",
            body=iter(chunks),
            headers={"Content-Type": "application/json"},
            encode_chunked=True,
        )
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), json.loads(response.read())
    finally:
        conn.close()


def test_bodies_over_the_limit_are_refused_with_413_chunked_or_not(served, settings) -> None:
    limit = settings.max_body_bytes
    question = json.dumps({"question": "医保卡余额怎么查"}).encode()
    # Chunked, small: answered.
    status, _, body = post_chunked(served.port, [question[:5], question[5:]])
    assert status == 200 and body["answer"]
    # Chunked, no Content-Length, over the limit: refused while it streams in.
    big = json.dumps({"question": "医" * limit}).encode()
    status, headers, body = post_chunked(served.port, [big[i : i + 1000] for i in range(0, len(big), 1000)])
    assert status == 413 and "too large" in body["detail"]
    assert headers["x-content-type-options"] == "nosniff"
    # Declared Content-Length over the limit: refused before reading.
    conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=60)
    try:
        conn.request("POST", "/api/ask", body=b"{" + b" " * limit + b"}")
        response = conn.getresponse()
        assert response.status == 413 and "too large" in json.loads(response.read())["detail"]
    finally:
        conn.close()
    # Exactly at the limit is still read (then refused for what it says, not for its size).
    at_limit = b'{"question": "' + b"a" * (limit - 16) + b'"}'
    assert len(at_limit) == limit
    assert post_chunked(served.port, [at_limit])[0] == 422


def test_chunked_limit_in_process_too(client, settings) -> None:
    def stream(total: int):
        for _ in range(total // 1000):
            yield b" " * 1000

    response = client.post("/api/ask", content=stream(settings.max_body_bytes + 1000))
    assert response.status_code == 413


# --- binding -------------------------------------------------------------------------------


def test_the_server_binds_loopback_unless_told_otherwise(served) -> None:
    from server.app import serve

    assert cli._parser().parse_args(["serve"]).host == "127.0.0.1"
    assert inspect.signature(serve).parameters["host"].default == "127.0.0.1"
    listening = [
        c.laddr
        for c in psutil.Process(served.process.pid).net_connections(kind="inet")
        if c.status == psutil.CONN_LISTEN
    ]
    assert listening and all(addr.ip == "127.0.0.1" for addr in listening), listening
