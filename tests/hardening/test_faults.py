"""Faults during ingest and at start-up: kills, write errors, a full disk, a read-only data dir,
two ingests at once, damaged index files. The live index always stays whole and loadable, the
next ingest succeeds, and every command fails with one clear line, never a traceback."""

from __future__ import annotations

import errno
import json
import os
import random
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import cli
from index import store
from index.build import build_index
from server.engine import Engine
from settings import ROOT, Settings

from .conftest import BASE_DOC, NEW_DOC, NEW_TEXT, Tiny, start_yibao, yibao

# A real corpus file whose ~100 passages and sentences take the embedder a few seconds: long
# enough to be killed in the middle of.
BIG_DOC = "001_5f10bce1473421be.txt"


def load(tiny: Tiny, embedder) -> store.StoredIndex:
    return store.load_index(tiny.index_dir, embedder.name, embedder.fingerprint, embedder.dim)


def lock_is_free(tiny: Tiny) -> bool:
    try:
        with store.ingest_lock(tiny.index_dir):
            return True
    except store.IngestLocked:
        return False


def one_error_line(output: str) -> str:
    """The command's message: a single `error: ...` line, and no traceback anywhere."""
    assert "Traceback" not in output, output[-3000:]
    errors = [line for line in output.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, output[-3000:]
    return errors[0]


# --- SIGKILL at several points ---------------------------------------------------------------


def run_and_kill(tiny: Tiny, log: Path, when: Callable[[str, set[str], float], bool], freeze: bool = False):
    """Start `yibao ingest`, SIGKILL it once ``when(log text, version folders, seconds)`` holds.

    With ``freeze`` it is first stopped (SIGSTOP) so that what it had written can be looked at."""
    before = set(tiny.versions())
    process = start_yibao("ingest", env=tiny.env(), log=log)
    started = time.monotonic()
    seen: dict = {}
    while process.poll() is None:
        elapsed = time.monotonic() - started
        assert elapsed < 300, "ingest ran for five minutes"
        text = log.read_text(encoding="utf-8", errors="replace")
        if when(text, set(tiny.versions()) - before, elapsed):
            if freeze:
                os.kill(process.pid, signal.SIGSTOP)
                new = set(tiny.versions()) - before
                seen["frozen_in"] = sorted(new)
                seen["files_written"] = sorted(p.name for v in new for p in (tiny.index_dir / v).iterdir())
                seen["live_when_frozen"] = tiny.live()
            os.kill(process.pid, signal.SIGKILL)
            seen["at"] = round(elapsed, 2)
            break
        time.sleep(0.001 if freeze else 0.02)
    process.wait(timeout=30)
    seen["rc"] = process.returncode
    return seen


@pytest.mark.slow
def test_ingest_killed_at_any_point_keeps_the_previous_index(tiny: Tiny, embedder, tmp_path: Path) -> None:
    old_live, old_chunks = tiny.live(), len(load(tiny, embedder))
    shutil.copy(ROOT / "corpus" / BIG_DOC, tiny.corpus_dir / BIG_DOC)
    rng = random.Random(int(os.environ.get("YIBAO_FAULT_SEED", "7")))
    embedding_delay, random_delay = rng.uniform(0.0, 2.0), rng.uniform(0.2, 6.0)
    points = [
        ("start-up (imports)", lambda text, new, t: t >= 0.3, False),
        ("model load", lambda text, new, t: "Loading" in text or "embedding" in text, False),
        (f"embedding (+{embedding_delay:.1f} s)", _after("texts to embed", embedding_delay), False),
        (f"random ({random_delay:.1f} s)", lambda text, new, t: t >= random_delay, False),
        ("writing the new version", lambda text, new, t: bool(new), True),
    ]
    report = []
    for n, (name, when, freeze) in enumerate(points):
        # Every run starts without the embedding cache, so that each kill lands in a whole ingest
        # (a killed ingest resuming from the cache is test_resume's subject).
        for cached in tiny.data_dir.glob("embed_cache.sqlite3*"):
            cached.unlink()
        seen = run_and_kill(tiny, tmp_path / f"kill-{n}.log", when, freeze)
        report.append((name, seen))
        index = load(tiny, embedder)  # whole and loadable, checksums and all
        assert lock_is_free(tiny)
        if seen["rc"] == -signal.SIGKILL and tiny.live() == old_live:
            assert len(index) == old_chunks
            assert {c.doc_id for c in index.chunks} == {BASE_DOC}
        elif (
            seen["rc"] == -signal.SIGKILL
        ):  # killed after the switch, while it tidied up: the new version is whole
            assert {c.doc_id for c in index.chunks} == {BASE_DOC, BIG_DOC}, (name, seen)
        else:  # it finished before the kill landed
            assert seen["rc"] == 0
            assert {c.doc_id for c in index.chunks} == {BASE_DOC, BIG_DOC}
        if freeze and "frozen_in" in seen and seen["frozen_in"]:
            assert seen["live_when_frozen"] == old_live  # caught before the switch
    print("\nkills:", json.dumps(report, ensure_ascii=False))
    killed = [name for name, seen in report if seen["rc"] == -signal.SIGKILL]
    assert len(killed) >= 4, report

    done = yibao("ingest", env=tiny.env())
    assert done.returncode == 0, done.stderr[-3000:]
    assert BIG_DOC in done.stdout
    index = load(tiny, embedder)
    assert {c.doc_id for c in index.chunks} == {BASE_DOC, BIG_DOC}
    assert len(index) > old_chunks
    assert len(tiny.versions()) == 2, "the new and the previous version; killed ones are swept"
    assert not (tiny.index_dir / "CURRENT.tmp").exists()


def _after(marker: str, delay: float) -> Callable[[str, set[str], float], bool]:
    seen_at: list[float] = []

    def when(text: str, new: set[str], t: float) -> bool:
        if marker in text and not seen_at:
            seen_at.append(t)
        return bool(seen_at) and t >= seen_at[0] + delay

    return when


# --- two ingests at once ---------------------------------------------------------------------


@pytest.mark.slow
def test_a_second_ingest_is_refused_while_one_runs_and_they_never_interleave(
    tiny: Tiny, embedder, tmp_path
) -> None:
    old_live = tiny.live()
    (tiny.corpus_dir / NEW_DOC).write_text(NEW_TEXT, encoding="utf-8")
    first = start_yibao("ingest", env=tiny.env(), log=tmp_path / "first.log")
    lock_file = tiny.index_dir / ".ingest.lock"
    deadline = time.monotonic() + 240
    while f"pid {first.pid}," not in lock_file.read_text(encoding="utf-8"):
        assert first.poll() is None and time.monotonic() < deadline, (tmp_path / "first.log").read_text()
        time.sleep(0.01)
    os.kill(first.pid, signal.SIGSTOP)  # holds the lock, frozen: the second one must meet it
    try:
        second = subprocess.Popen(
            [*_cli(), "ingest"],
            cwd=ROOT,
            env=tiny.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        _, err = second.communicate(timeout=240)
    finally:
        os.kill(first.pid, signal.SIGCONT)
    assert second.returncode == 2
    message = one_error_line(err)
    assert f"another ingest is running (pid {first.pid}," in message
    assert not [v for v in tiny.versions() if v.endswith(f"-{second.pid}")], "the refused ingest wrote"
    assert tiny.live() == old_live
    assert first.wait(timeout=240) == 0, (tmp_path / "first.log").read_text()[-3000:]
    assert tiny.live() != old_live and tiny.live().endswith(f"-{first.pid}")
    assert {c.doc_id for c in load(tiny, embedder).chunks} == {BASE_DOC, NEW_DOC}


def _cli() -> list[str]:
    import sys

    from .conftest import CLI

    return [sys.executable, "-c", CLI]


# --- write errors: in the middle of writing, a full disk, a read-only dir --------------------


def _fail_on_call(n: int, exc: OSError, real: Callable, counts: Callable[..., bool] = lambda *a: True):
    """``real``, except that its n-th call (of those ``counts`` selects) raises ``exc``."""
    calls = []

    def fake(*args, **kwargs):
        if counts(*args):
            calls.append(1)
            if len(calls) == n:
                raise exc
        return real(*args, **kwargs)

    return fake


def _named(name: str) -> Callable[..., bool]:
    # Only the writes of that file count: loading the live index also records it as the last good.
    return lambda path, *rest: Path(path).name == name


def _in_new_version(path: Path) -> bool:
    # The checksums of the version being written, not those the ingest verifies first.
    return path.parent.name != (path.parent.parent / "CURRENT").read_text().strip()


WRITE_FAULTS = [
    ("vectors.npy", lambda: (store.np, "save", 1, lambda *a: True)),
    ("unit_vectors.npy", lambda: (store.np, "save", 2, lambda *a: True)),
    ("dense.faiss", lambda: (store.faiss, "write_index", 1, lambda *a: True)),
    ("checksums", lambda: (store, "_sha256", 3, _in_new_version)),
    ("manifest.json", lambda: (store, "write_synced", 1, _named("manifest.json"))),
    ("CURRENT.tmp", lambda: (store, "write_synced", 1, _named("CURRENT.tmp"))),
    ("the CURRENT switch", lambda: (store.os, "replace", 1, _named("CURRENT.tmp"))),
]


@pytest.mark.parametrize("where", [name for name, _ in WRITE_FAULTS])
def test_a_write_interrupted_anywhere_keeps_the_previous_index(
    tiny: Tiny, settings: Settings, embedder, monkeypatch, where: str
) -> None:
    conf = tiny.settings(settings)
    old_live, old_versions = tiny.live(), tiny.versions()
    (tiny.corpus_dir / NEW_DOC).write_text(NEW_TEXT, encoding="utf-8")
    owner, name, nth, counts = dict(WRITE_FAULTS)[where]()
    disk_full = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), where)
    monkeypatch.setattr(owner, name, _fail_on_call(nth, disk_full, getattr(owner, name), counts))
    with pytest.raises(OSError) as err:
        build_index(conf, embedder)
    assert err.value.errno == errno.ENOSPC
    monkeypatch.undo()
    assert tiny.live() == old_live
    assert tiny.versions() == old_versions, "the unfinished version is removed at once"
    assert not (tiny.index_dir / "CURRENT.tmp").exists()
    assert {c.doc_id for c in load(tiny, embedder).chunks} == {BASE_DOC}
    assert lock_is_free(tiny)
    build_index(conf, embedder)  # and the next ingest succeeds
    assert {c.doc_id for c in load(tiny, embedder).chunks} == {BASE_DOC, NEW_DOC}


@pytest.fixture
def in_process_cli(tiny: Tiny, embedder, monkeypatch):
    """`cli.main` in this process, on the tiny dirs, with the session's model."""
    import index.embedding

    monkeypatch.setenv("YIBAO_CORPUS_DIR", str(tiny.corpus_dir))
    monkeypatch.setenv("YIBAO_DATA_DIR", str(tiny.data_dir))
    # cli imports load_embedder when a command runs, so it finds this one.
    monkeypatch.setattr(index.embedding, "load_embedder", lambda settings: embedder)
    return cli.main


def test_disk_full_during_ingest_is_one_clear_line_and_the_old_index_stays(
    tiny: Tiny, embedder, in_process_cli, monkeypatch, capsys
) -> None:
    old_live = tiny.live()
    (tiny.corpus_dir / NEW_DOC).write_text(NEW_TEXT, encoding="utf-8")
    full = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tiny.index_dir / "x" / "vectors.npy"))
    monkeypatch.setattr(store.np, "save", _fail_on_call(1, full, np.save))
    assert in_process_cli(["ingest"]) == 1
    message = one_error_line(capsys.readouterr().err)
    assert "No space left on device" in message and "previous index is kept" in message
    assert tiny.live() == old_live
    assert {c.doc_id for c in load(tiny, embedder).chunks} == {BASE_DOC}


def test_disk_full_in_a_real_yibao_ingest_process(tiny: Tiny, embedder) -> None:
    """The same through the real command: np.save is made to fail inside the subprocess."""
    old_live = tiny.live()
    (tiny.corpus_dir / NEW_DOC).write_text(NEW_TEXT, encoding="utf-8")
    script = (
        "import errno, os, sys, numpy\n"
        "def full(*a, **k): raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(a[0]))\n"
        "numpy.save = full\n"
        "import cli\n"
        "sys.exit(cli.main(['ingest']))\n"
    )
    import sys

    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=tiny.env(), capture_output=True, text=True, timeout=240
    )
    assert result.returncode == 1, result.stderr[-3000:]
    message = one_error_line(result.stderr)
    assert "No space left on device" in message and "vectors.npy" in message
    assert tiny.live() == old_live
    assert {c.doc_id for c in load(tiny, embedder).chunks} == {BASE_DOC}


def test_a_read_only_data_dir_fails_cleanly(
    tiny: Tiny, embedder, in_process_cli, monkeypatch, capsys
) -> None:
    old_live = tiny.live()
    (tiny.corpus_dir / NEW_DOC).write_text(NEW_TEXT, encoding="utf-8")
    if os.geteuid() == 0:  # root writes through a read-only mode: refuse writes under the dir instead
        real_mkdir = Path.mkdir

        def mkdir(self: Path, *args, **kwargs) -> None:
            if self.is_relative_to(tiny.index_dir) and not self.exists():
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(self))
            real_mkdir(self, *args, **kwargs)

        monkeypatch.setattr(Path, "mkdir", mkdir)
    else:
        tiny.index_dir.chmod(0o555)
    try:
        assert in_process_cli(["ingest"]) == 1
    finally:
        tiny.index_dir.chmod(0o755)
    message = one_error_line(capsys.readouterr().err)
    assert "Permission denied" in message and str(tiny.index_dir) in message
    assert tiny.live() == old_live
    assert {c.doc_id for c in load(tiny, embedder).chunks} == {BASE_DOC}


def test_a_missing_corpus_dir_fails_cleanly(tiny: Tiny, in_process_cli, capsys) -> None:
    shutil.rmtree(tiny.corpus_dir)
    assert in_process_cli(["ingest"]) == 1
    assert "corpus directory not found" in one_error_line(capsys.readouterr().err)


# --- damaged or missing index files at start-up ----------------------------------------------


def _version(tiny: Tiny) -> Path:
    return tiny.index_dir / tiny.live()


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


DAMAGE: dict[str, Callable[[Tiny], None]] = {
    "vectors.npy truncated": lambda t: _truncate(_version(t) / "vectors.npy"),
    "dense.faiss missing": lambda t: (_version(t) / "dense.faiss").unlink(),
    "chunks.jsonl one bit flipped": lambda t: _flip(_version(t) / "chunks.jsonl"),
    "units.jsonl emptied": lambda t: (_version(t) / "units.jsonl").write_bytes(b""),
    "unit_vectors.npy missing": lambda t: (_version(t) / "unit_vectors.npy").unlink(),
    "manifest.json garbage": lambda t: (_version(t) / "manifest.json").write_bytes(b"\x00\xff{"),
    "manifest.json missing": lambda t: (_version(t) / "manifest.json").unlink(),
    "manifest.json wrong types": lambda t: (_version(t) / "manifest.json").write_text(
        json.dumps({**json.loads((_version(t) / "manifest.json").read_text()), "checksums": None})
    ),
    "version folder missing": lambda t: shutil.rmtree(_version(t)),
    "CURRENT names nothing": lambda t: (t.index_dir / "CURRENT").write_text("v0-0"),
    "CURRENT garbage": lambda t: (t.index_dir / "CURRENT").write_bytes(b"\xff\xfe\x00"),
    "CURRENT empty": lambda t: (t.index_dir / "CURRENT").write_bytes(b""),
    "CURRENT points outside": lambda t: (t.index_dir / "CURRENT").write_text("../../../etc"),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_index_is_one_clear_line_from_search_and_serve(
    tiny: Tiny, settings: Settings, embedder, in_process_cli, capsys, damage: str
) -> None:
    intact = tiny.live()
    DAMAGE[damage](tiny)
    assert in_process_cli(["search", "医保卡余额怎么查"]) == 2
    message = one_error_line(capsys.readouterr().err)
    assert "damaged" in message and "yibao ingest --rebuild" in message
    if damage.startswith("CURRENT"):
        # The version is intact, only the pointer is not: `yibao serve` starts on it (the
        # fallback itself is tests/hardening/test_damaged_start.py).
        assert Engine(tiny.settings(settings), embedder).version.name == intact
    else:
        with pytest.raises(store.IndexCorrupt):
            Engine(tiny.settings(settings), embedder)  # what `yibao serve` starts with


@pytest.mark.parametrize(
    ("damage", "args"),
    [("CURRENT garbage", ["ingest"]), ("chunks.jsonl one bit flipped", ["ingest", "--rebuild"])],
)
def test_the_way_out_the_message_names_works(
    tiny: Tiny, embedder, in_process_cli, capsys, damage, args
) -> None:
    DAMAGE[damage](tiny)
    assert in_process_cli(args) == 0
    assert "Traceback" not in capsys.readouterr().err
    assert {c.doc_id for c in load(tiny, embedder).chunks} == {BASE_DOC}
    assert in_process_cli(["search", "家庭共济"]) == 0


def test_real_serve_exits_with_one_line_on_a_damaged_index(tiny: Tiny) -> None:
    """`yibao serve` as a process (`yibao search` takes the same path, in process above)."""
    DAMAGE["dense.faiss missing"](tiny)
    result = yibao("serve", "--port", "9", env=tiny.env(), timeout=240)
    assert result.returncode == 2, result.stderr[-3000:]
    message = one_error_line(result.stderr)
    assert "damaged" in message and "dense.faiss" in message
    assert "Uvicorn running" not in result.stderr  # refused before listening
