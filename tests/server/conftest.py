"""The app over the session's index: an in-process client and a real server on a free port."""

from __future__ import annotations

import socket
import threading
import time
import urllib.request
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient


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


@pytest.fixture(scope="session")
def live_server(settings, engine) -> Iterator[str]:
    """The app under uvicorn in a background thread; yields its base URL."""
    import uvicorn

    from server.app import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(create_app(settings, engine), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="live-server", daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            pass
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            pytest.fail(f"the live server did not answer /healthz on {base}")
        time.sleep(0.1)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=10)
