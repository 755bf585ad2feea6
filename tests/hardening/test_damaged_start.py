"""A server started on a damaged live index serves the newest intact version instead of exiting,
says so in its log and on /healthz (which never shows an absolute path), and the next ingest
writes a new index that repairs CURRENT and is picked up while serving."""

from __future__ import annotations

import json
import shutil
import time
import urllib.request
from pathlib import Path

import pytest

from index import store
from server.engine import Engine

from .conftest import ServerProcess, Tiny, yibao


def damaged_copy(tiny: Tiny, file: str) -> tuple[str, str]:
    """A newer copy of the live version with ``file`` cut in half, made live; (intact, damaged)."""
    intact = tiny.live()
    damaged = f"v{time.time_ns()}-1"
    shutil.copytree(tiny.index_dir / intact, tiny.index_dir / damaged)
    path = tiny.index_dir / damaged / file
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    (tiny.index_dir / "CURRENT").write_text(damaged)
    return intact, damaged


def no_absolute_path(value: object) -> None:
    if isinstance(value, dict):
        for v in value.values():
            no_absolute_path(v)
    elif isinstance(value, str):
        assert "/tmp" not in value and not value.startswith("/"), value


def test_serve_on_a_damaged_current_serves_the_older_version_until_the_next_ingest(
    tiny: Tiny, tmp_path: Path
) -> None:
    intact, damaged = damaged_copy(tiny, "vectors.npy")
    server = ServerProcess.start(tiny.env(), tmp_path / "serve.log")
    try:
        health = server.health()
        assert health["index_version"] == intact and health["refused_version"] == damaged
        assert "damaged" in health["refused_reason"] and "$YIBAO_DATA_DIR/index/" in health["refused_reason"]
        no_absolute_path(health)
        raw = urllib.request.urlopen(f"{server.base}/healthz", timeout=30).read().decode()
        assert str(tiny.data_dir) not in raw and str(tmp_path) not in raw
        assert "Serving the last good version " + intact in server.output()
        request = urllib.request.Request(
            f"{server.base}/api/ask",
            data=json.dumps({"question": "家庭共济怎么绑定"}).encode(),
            headers={"Content-Type": "application/json"},
        )
        assert json.loads(urllib.request.urlopen(request, timeout=60).read())["citations"]

        done = yibao("ingest", env=tiny.env())
        assert done.returncode == 0, done.stderr[-2000:]
        repaired = tiny.live()
        assert repaired not in (intact, damaged)
        assert not (tiny.index_dir / damaged).exists()  # damaged versions are swept first
        deadline = time.monotonic() + 120
        while server.health()["index_version"] != repaired and time.monotonic() < deadline:
            time.sleep(0.2)
        health = server.health()
        assert health["index_version"] == repaired and "refused_version" not in health
    finally:
        server.stop()


@pytest.mark.parametrize("file", ["dense.faiss", "chunks.jsonl"])
def test_the_engine_starts_on_the_last_good_version(tiny: Tiny, settings, embedder, file: str) -> None:
    intact, damaged = damaged_copy(tiny, file)
    engine = Engine(tiny.settings(settings), embedder)
    assert engine.version.name == intact
    health = engine.health()
    assert health["refused_version"] == damaged and str(tiny.data_dir) not in json.dumps(health)
    assert store.is_bad(tiny.index_dir / damaged)


def test_a_garbled_current_serves_the_last_good_version(tiny: Tiny, settings, embedder) -> None:
    intact = tiny.live()
    (tiny.index_dir / "CURRENT").write_text("../../etc")
    engine = Engine(tiny.settings(settings), embedder)
    assert engine.version.name == intact
    assert engine.health()["refused_version"] is None and "CURRENT" in engine.health()["refused_reason"]


def test_with_no_intact_version_the_damage_is_reported(tiny: Tiny, settings, embedder) -> None:
    live = tiny.index_dir / tiny.live()
    (live / "vectors.npy").write_bytes(b"")
    with pytest.raises(store.IndexCorrupt, match=r"vectors\.npy"):
        Engine(tiny.settings(settings), embedder)
