"""The app over the session's index: an in-process client and a real server on a free port."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import replace

import pytest
from fastapi.testclient import TestClient

from tests.support import free_port, wait_until_healthy


@pytest.fixture(scope="session")
def engine(settings, embedder):
    """One engine (model and index loaded once) shared by every app the tests start."""
    from server.engine import Engine

    return Engine(settings, embedder)


@pytest.fixture(scope="session")
def client(settings, engine) -> Iterator[TestClient]:
    from server.app import create_app

    with TestClient(create_app(settings, engine)) as c:
        yield c


API_KEY = "test-api-key"


@contextlib.contextmanager
def serving(app) -> Iterator[str]:
    """``app`` under uvicorn in a background thread; yields its base URL."""
    import uvicorn

    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="live-server", daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    if not wait_until_healthy(base, thread.is_alive, timeout=30):
        server.should_exit = True
        pytest.fail(f"the live server did not answer /healthz on {base}")
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def live_server(settings, engine) -> Iterator[str]:
    from server.app import create_app

    with serving(create_app(settings, engine)) as base:
        yield base


@pytest.fixture(scope="session")
def keyed_server(settings, engine) -> Iterator[str]:
    """The same app with YIBAO_API_KEY set: /v1 and /mcp want ``Bearer API_KEY``."""
    from server.app import create_app

    with serving(create_app(replace(settings, api_key=API_KEY), engine)) as base:
        yield base
