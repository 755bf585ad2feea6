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
