"""Test-wide setup: the real corpus, the real model (from local files only, never the hub), and
one index built once per session into a temporary data dir."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import pytest

from settings import Settings


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Default settings with a data dir of the session's own (the corpus is the repo's)."""
    return Settings.from_env(data_dir=tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="session")
def embedder(settings: Settings):
    from index.embedding import load_embedder

    return load_embedder(settings)


@pytest.fixture(scope="session")
def retriever(settings: Settings, embedder):
    """The retriever over the corpus index, built by the same code `yibao ingest` runs."""
    from index.loader import open_retriever

    return open_retriever(settings, embedder)


@pytest.fixture(scope="session")
def answerer(settings: Settings, retriever):
    from answer.compose import Answerer

    return Answerer(retriever, settings)


@pytest.fixture(scope="session")
def infinity(settings: Settings, tmp_path_factory: pytest.TempPathFactory):
    """A real Infinity server serving the built-in model (bench/engine.py), started once."""
    from bench.engine import InfinityServer, infinity_binary
    from index.embedding.e5_model import ensure_e5_folder
    from tests.support import free_port

    binary = infinity_binary()
    if binary is None:
        pytest.skip("Infinity is not installed (`make engine` puts it in .venv-engine)")
    log = tmp_path_factory.mktemp("infinity") / "infinity.log"
    server = InfinityServer(binary, ensure_e5_folder(settings.model_cache), free_port(), log)
    server.start()
    yield server
    server.kill()


@pytest.fixture(scope="session")
def remote_settings(settings: Settings, infinity, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """YIBAO_BACKEND=remote against that server, with a data dir of its own."""
    from dataclasses import replace

    from bench.engine import SERVED_NAME

    return replace(
        settings,
        backend="remote",
        embed_url=infinity.url,
        embed_model=SERVED_NAME,
        data_dir=tmp_path_factory.mktemp("remote-data"),
    )
