"""A killed ingest keeps what it embedded: the next run encodes only the rest and writes the same
index a run from scratch writes."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import time
from pathlib import Path

import numpy as np
import pytest

from index import store
from index.build import index_texts
from index.embed_cache import FILE
from settings import Settings

from .conftest import start_yibao, subprocess_env, yibao

WINDOW = 64


def _cached_rows(data_dir: Path) -> int:
    try:
        with sqlite3.connect(data_dir / FILE, timeout=5) as db:
            return int(db.execute("SELECT count(*) FROM vectors").fetchone()[0])
    except sqlite3.OperationalError:  # not created yet
        return 0


@pytest.mark.slow
def test_a_killed_ingest_resumes_and_builds_the_same_index(
    settings: Settings, retriever, embedder, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    env = subprocess_env(settings.corpus_dir, data_dir, YIBAO_EMBED_WINDOW=str(WINDOW))
    process = start_yibao("ingest", env=env, log=tmp_path / "killed.log")
    deadline = time.monotonic() + 600
    while _cached_rows(data_dir) < 2 * WINDOW:
        assert process.poll() is None, (tmp_path / "killed.log").read_text()
        assert time.monotonic() < deadline, "the ingest cached nothing"
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    assert store.current_version(data_dir / "index") is None  # killed before any index was written
    cached = _cached_rows(data_dir)

    done = yibao("ingest", env=env, timeout=900)
    assert done.returncode == 0, done.stderr
    embedded = int(re.search(r"embedded (\d+)", done.stdout).group(1))
    reference = retriever.index  # the same corpus and model, embedded from scratch in one run
    total = len(set(index_texts(reference)))
    assert embedded == total - cached and embedded < total

    resumed = store.load_index(data_dir / "index", embedder.name, embedder.fingerprint, embedder.dim)
    assert index_texts(resumed) == index_texts(reference)
    # The same vectors: the batches differ (a resumed window is padded with other texts, and the
    # command embeds with every core), which moves float32 sums in their last bits only.
    np.testing.assert_allclose(resumed.vectors, reference.vectors, atol=2e-6)
    np.testing.assert_allclose(resumed.units.vectors, reference.units.vectors, atol=2e-6)
    # The cache now holds exactly what the live index uses.
    assert _cached_rows(data_dir) == total
