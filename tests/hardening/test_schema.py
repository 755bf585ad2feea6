"""Schemathesis against the server's own OpenAPI schema, in process (ASGI): valid and invalid
requests for every operation; no 5xx, and every refusal a 4xx with a JSON message.

Cases come from ``operation.as_strategy`` under plain Hypothesis (the pytest plugin's lazy
fixture loader does not run under this pytest)."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from schemathesis import GenerationMode

EXAMPLES = 50  # per operation and mode
ADMIN_TOKEN = "schema-test-token"
OPERATIONS = [
    ("POST", "/api/ask"),
    ("GET", "/api/search"),
    ("GET", "/healthz"),
    ("POST", "/api/admin/reload"),
]
tally: Counter[str] = Counter()


@pytest.fixture(scope="module")
def api_schema(settings, embedder):
    from server.app import create_app
    from server.engine import Engine

    conf = replace(settings, admin_token=ADMIN_TOKEN)
    return schemathesis.openapi.from_asgi("/openapi.json", create_app(conf, Engine(conf, embedder)))


def test_every_operation_in_the_schema_is_fuzzed(api_schema) -> None:
    found = {(r.ok().method.upper(), r.ok().path) for r in api_schema.get_all_operations()}
    assert found == set(OPERATIONS)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_no_server_errors_and_every_error_is_a_clear_4xx(api_schema, method, path, mode) -> None:
    operation = api_schema[path][method]

    @hsettings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case) -> None:
        response = case.call()
        tally[f"{method} {path} {mode} -> {response.status_code}"] += 1
        assert response.status_code < 500, f"{case.method} {case.path}: {response.status_code} {response.text}"
        assert response.headers.get("x-content-type-options") == ["nosniff"]
        assert response.headers.get("content-security-policy")
        if response.status_code >= 400:
            detail = response.json().get("detail")
            assert isinstance(detail, str) and detail.strip(), response.text

    run()


def test_report_what_schemathesis_sent() -> None:
    """Runs after the tests above (file order): the tally of operations, modes and statuses."""
    print(f"\nschemathesis: {sum(tally.values())} requests")
    for key, n in sorted(tally.items()):
        print(f"  {key}: {n}")
