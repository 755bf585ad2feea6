"""Updates while serving: `yibao ingest` writes a new index and the running server switches to it
without a restart and without failing a request in flight; a deleted file leaves the answers."""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest

from .conftest import NEW_DOC, NEW_QUESTION, NEW_TEXT, ServerProcess, Tiny, http_json, yibao

TOKEN = "reload-test-token"
QUESTIONS = [
    "家庭共济怎么绑定",
    "医保个人账户的钱能给家人用吗",
    NEW_QUESTION,
    "近亲属包括哪些人",
    "补办医保卡要多少钱",
]


class Traffic:
    """Threads sending a steady mix of requests until stopped; every outcome is counted."""

    def __init__(self, base: str, threads: int = 3) -> None:
        self.base = base
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.tally: Counter[str] = Counter()
        self.failures: list[str] = []
        self.versions_seen: list[str] = []
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(threads)]

    def __enter__(self) -> Traffic:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=120)

    def _run(self, seed: int) -> None:
        n = seed
        with httpx.Client(base_url=self.base, timeout=60) as client:
            # Paced a little, so that the ingest running beside it gets the CPU it needs.
            while not self.stop.wait(0.02):
                n += 1
                q = QUESTIONS[n % len(QUESTIONS)]
                kind = n % 4
                try:
                    if kind == 0:
                        r = client.post("/api/ask", json={"question": f"{q} {n}"})  # cache misses too
                    elif kind == 1:
                        r = client.get("/api/search", params={"q": q})
                    elif kind == 2:
                        r = client.get("/healthz")
                    else:
                        r = client.get("/", params={"q": q})
                except httpx.HTTPError as exc:
                    with self.lock:
                        self.tally["connection error"] += 1
                        self.failures.append(f"{type(exc).__name__}: {exc}")
                    continue
                with self.lock:
                    self.tally[str(r.status_code)] += 1
                    if r.status_code != 200:
                        self.failures.append(
                            f"{r.request.method} {r.request.url}: {r.status_code} {r.text[:200]}"
                        )
                    elif kind == 2:
                        version = r.json()["index_version"]
                        if not self.versions_seen or self.versions_seen[-1] != version:
                            self.versions_seen.append(version)


def wait_for_version(server: ServerProcess, old: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        health = server.health()
        if health["index_version"] != old:
            return health
        time.sleep(0.2)
    raise AssertionError(f"the server kept {old} for {timeout} s:\n{server.output()[-3000:]}")


def docs_in_answers(server: ServerProcess, question: str) -> tuple[set[str], set[str]]:
    status, answer = http_json(f"{server.base}/api/ask", {"question": question})
    assert status == 200
    cited = {c["doc"] for c in answer["citations"]}
    status, search = http_json(f"{server.base}/api/search?{urlencode({'q': question})}")
    assert status == 200
    return cited, {p["doc"] for p in search["passages"]}


@pytest.mark.slow
def test_the_server_switches_to_a_new_index_without_failing_a_request(tiny: Tiny, tmp_path: Path) -> None:
    server = ServerProcess.start(tiny.env(YIBAO_ADMIN_TOKEN=TOKEN), tmp_path / "serve.log")
    try:
        before = server.health()
        cited, found = docs_in_answers(server, NEW_QUESTION)
        assert NEW_DOC not in cited | found

        # Added while serving, under load: the watcher switches, no request fails.
        with Traffic(server.base) as traffic:
            time.sleep(1)
            (tiny.corpus_dir / NEW_DOC).write_text(NEW_TEXT, encoding="utf-8")
            result = yibao("ingest", env=tiny.env())
            assert result.returncode == 0, result.stderr[-3000:]
            assert NEW_DOC in result.stdout
            after = wait_for_version(server, before["index_version"])
            time.sleep(2)  # requests keep coming on the new index
        print(
            f"\nreload (add): {sum(traffic.tally.values())} requests during the switch, "
            f"{dict(traffic.tally)}; versions seen {traffic.versions_seen}"
        )
        assert not traffic.failures, traffic.failures[:5]
        assert traffic.versions_seen[0] == before["index_version"]
        assert traffic.versions_seen[-1] == after["index_version"]
        assert after["index_version"] == tiny.live()
        assert after["chunks"] > before["chunks"] and after["documents"] == before["documents"] + 1
        cited, found = docs_in_answers(server, NEW_QUESTION)
        assert NEW_DOC in cited, "the question about the new file is answered from it"
        assert NEW_DOC in found

        # Deleted while serving: gone from answers after the next ingest; the admin reload
        # switches at once (the watcher would within two seconds).
        (tiny.corpus_dir / NEW_DOC).unlink()
        with Traffic(server.base, threads=2) as traffic:
            result = yibao("ingest", env=tiny.env())
            assert result.returncode == 0 and f"removed: {NEW_DOC}" in result.stdout, result.stdout
            reload = httpx.post(
                f"{server.base}/api/admin/reload", headers={"Authorization": f"Bearer {TOKEN}"}
            )
            assert reload.status_code == 200
            final = wait_for_version(server, after["index_version"], timeout=5)
        assert not traffic.failures, traffic.failures[:5]
        assert final["index_version"] == tiny.live()
        assert final["chunks"] == before["chunks"]
        cited, found = docs_in_answers(server, NEW_QUESTION)
        assert NEW_DOC not in cited | found
        assert "Traceback" not in server.output()
    finally:
        server.stop()


def test_a_damaged_new_index_is_not_switched_to_and_the_next_good_one_is(
    tiny: Tiny, settings, embedder, caplog
) -> None:
    """What the watcher does every two seconds, step by step, in process."""
    import shutil

    from index.build import build_index
    from server.engine import Engine

    conf = tiny.settings(settings)
    engine = Engine(conf, embedder)
    serving = engine.version
    assert engine.reload_if_changed() is False  # nothing new

    # A new version whose vectors are damaged, and CURRENT pointing at it.
    bad = tiny.index_dir / "v1-1"
    shutil.copytree(serving, bad)
    (bad / "vectors.npy").write_bytes(b"\x93NUMPY garbage")
    (tiny.index_dir / "CURRENT").write_text(bad.name)
    for _ in range(3):
        assert engine.reload_if_changed() is False
    assert engine.version == serving
    assert engine.answerer.ask("家庭共济怎么绑定").citations  # still answering from the old one
    complaints = [r for r in caplog.records if r.levelname == "ERROR" and "kept serving" in r.message]
    assert len(complaints) == 1 and "vectors.npy" in complaints[0].message  # said once, not every poll

    # A damaged CURRENT: same, the old index keeps serving.
    (tiny.index_dir / "CURRENT").write_bytes(b"\xff\xfe")
    assert engine.reload_if_changed() is False and engine.version == serving

    # The next good ingest is picked up.
    (tiny.corpus_dir / NEW_DOC).write_text(NEW_TEXT, encoding="utf-8")
    build_index(conf, embedder)
    assert engine.reload_if_changed() is True
    assert engine.version == tiny.index_dir / tiny.live()
    assert NEW_DOC in {c.passage.chunk.doc_id for c in engine.answerer.ask(NEW_QUESTION).citations}
