"""YIBAO_BACKEND=remote against a real Infinity server serving the built-in model (bench/engine.py):
the same vectors and the same evaluation as the default backend, an index of one refused by the
other, and an engine killed mid-ingest: the ingest stops with a clear error, questions get 503,
and after a restart the ingest goes on from the embedding cache."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from index import store
from index.embed_cache import FILE as CACHE_FILE
from index.embedding import Embedder, ModelUnavailable, load_embedder
from settings import ROOT, Settings
from tests.index.embedding.test_embedder import PASSAGES, QUERY

pytestmark = pytest.mark.slow

QUESTIONS = [QUERY, "How do I check my balance?", "门诊报销比例", "异地就医怎么备案"]
METRICS = ("hit@1", "hit@5", "mrr@10", "ndcg@10", "answer_evidence_rate", "abstain_recall")


@pytest.fixture(scope="module")
def remote(remote_settings: Settings) -> Embedder:
    return load_embedder(remote_settings)


@pytest.fixture(scope="module")
def remote_retriever(remote_settings: Settings, remote: Embedder):
    """The corpus indexed through the engine, by the code `yibao ingest` runs."""
    from index.embedding.threads import for_ingest
    from index.loader import open_retriever

    # As `yibao ingest` runs it: YIBAO_EMBED_CONCURRENCY requests in flight.
    return open_retriever(remote_settings, for_ingest(remote))


def test_vectors_match_the_default_backend(embedder: Embedder, remote: Embedder) -> None:
    """The engine gets the e5 prompts from us and its vectors are normalized here: within 1e-3
    cosine of the onnx backend, queries and passages alike (long ones truncated the same way)."""
    passages = [*PASSAGES, PASSAGES[0] * 40]
    assert remote.dim == embedder.dim
    queries = (remote.encode_queries(QUESTIONS) * embedder.encode_queries(QUESTIONS)).sum(axis=1)
    docs = (remote.encode_passages(passages) * embedder.encode_passages(passages)).sum(axis=1)
    assert queries.min() >= 1 - 1e-3 and docs.min() >= 1 - 1e-3
    np.testing.assert_allclose(np.linalg.norm(remote.encode_passages(passages), axis=1), 1.0, atol=1e-5)
    # Without the prompts the vectors would differ: a query is not embedded as a passage.
    assert float(remote.encode_query(PASSAGES[0]) @ remote.encode_passages([PASSAGES[0]])[0]) < 0.995


def test_same_evaluation_as_the_default_backend(answerer, remote_retriever, remote_settings) -> None:
    from answer.compose import Answerer
    from eval.questions import load_questions
    from eval.run_questions import evaluate

    questions = load_questions(ROOT / "eval" / "questions.jsonl")
    local = evaluate(answerer, questions, "hybrid", 10)["metrics"]
    engine = evaluate(Answerer(remote_retriever, remote_settings), questions, "hybrid", 10)["metrics"]
    for key in METRICS:
        assert round(engine[key], 3) == round(local[key], 3), key


def test_an_index_is_refused_by_the_other_backend(
    settings, retriever, remote, remote_retriever, remote_settings
) -> None:
    """An index records the model that embedded it: the engine's is not the local model's."""
    with pytest.raises(store.IndexMismatch, match="fingerprint"):
        store.load_index(settings.index_dir, remote.name, remote.fingerprint, remote.dim)
    local = retriever.embedder
    with pytest.raises(store.IndexMismatch, match="fingerprint"):
        store.load_index(remote_settings.index_dir, local.name, local.fingerprint, local.dim)


def test_no_engine_is_one_clear_error(settings: Settings) -> None:
    with pytest.raises(ModelUnavailable, match="YIBAO_EMBED_URL"):
        load_embedder(replace(settings, backend="remote"))
    # Nothing listens on the discard port: refused at once, retried once, then one clear error.
    down = replace(settings, backend="remote", embed_url="http://127.0.0.1:9", embed_model="e5")
    with pytest.raises(ModelUnavailable, match=r"engine at http://127.0.0.1:9 did not answer after 1 "):
        load_embedder(replace(down, embed_retries=1))


def _cached_rows(data_dir: Path) -> int:
    try:
        with sqlite3.connect(data_dir / CACHE_FILE, timeout=5) as db:
            return int(db.execute("SELECT count(*) FROM vectors").fetchone()[0])
    except sqlite3.Error:
        return 0


def _ingest(conf: Settings, **extra: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "YIBAO_BACKEND": "remote",
        "YIBAO_EMBED_URL": conf.embed_url,
        "YIBAO_EMBED_MODEL": conf.embed_model,
        "YIBAO_DATA_DIR": str(conf.data_dir),
        "YIBAO_EMBED_RETRIES": "2",
        **extra,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "cli", "ingest"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_engine_killed_mid_ingest_then_restarted(
    infinity, remote_settings: Settings, remote: Embedder, remote_retriever, tmp_path: Path
) -> None:
    from fastapi.testclient import TestClient

    from server.app import create_app
    from server.engine import Engine

    conf = replace(remote_settings, data_dir=tmp_path / "data")
    # Small windows, so that the engine dies with some of them in the cache and more to come.
    ingest = _ingest(conf, YIBAO_EMBED_WINDOW="16")
    deadline = time.monotonic() + 300
    while _cached_rows(conf.data_dir) < 64 and ingest.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ingest.poll() is None, "the ingest ended before the engine could be killed"
    infinity.kill()
    try:
        _, err = ingest.communicate(timeout=300)
        assert ingest.returncode == 2
        assert f"the embedding engine at {conf.embed_url} did not answer" in err
        assert "the embedding cache keeps them and the next ingest goes on from there" in err
        assert "Traceback" not in err
        kept = _cached_rows(conf.data_dir)
        assert kept >= 64
        assert store.read_manifest(conf.index_dir) is None  # no half-built index went live

        # Meanwhile a server over an index built through the engine answers 503, not 500.
        with TestClient(create_app(remote_settings, Engine(remote_settings, remote))) as client:
            response = client.post("/api/ask", json={"question": "生育津贴怎么申领"})
        assert response.status_code == 503
        assert "the embedding engine is unavailable" in response.json()["detail"]
    finally:
        infinity.start()

    again = _ingest(conf)
    out, err = again.communicate(timeout=600)
    assert again.returncode == 0, err
    summary = next(line for line in out.splitlines() if "(embedded" in line)
    embedded = int(summary.split("(embedded ")[1].split(",")[0])
    reused = int(summary.split("reused ")[1].split(")")[0])
    assert reused >= kept and embedded > 0, summary
    # The resumed index holds the same vectors as one built in a single run.
    resumed = store.load_index(conf.index_dir, remote.name, remote.fingerprint, remote.dim)
    np.testing.assert_allclose(resumed.vectors, remote_retriever.index.vectors, atol=1e-5)
