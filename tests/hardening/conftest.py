"""Shared pieces of the hardening tests: a tiny corpus with its own index (so that tests which
ingest again and again take seconds, not minutes), the `yibao` command as a subprocess, and a
real server process on a free loopback port."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from settings import ROOT, Settings
from tests.support import free_port, wait_until_healthy

CLI = "import sys, cli; sys.exit(cli.main())"
BASE_DOC = "base.txt"
# A document the tiny corpus does not have: added while serving, then deleted again.
NEW_DOC = "buban.txt"
NEW_TEXT = """医保卡丢失后怎么补办

补办流程

医保卡丢失后，应先拨打服务热线办理临时挂失，防止他人冒用。
补办医保卡需要携带本人身份证原件，到社保服务大厅的补卡窗口填写补办申请表。
补办医保卡的工本费为二十元，新卡一般在十五个工作日内制作完成，可凭回执领取。
领取新卡后，原卡内的个人账户余额会自动转入新卡，不会丢失。
"""
NEW_QUESTION = "医保卡丢了怎么补办"
RULES_DOC = "rules.txt"
RULES_QUESTION = "补办医保卡时应当携带什么"


def rules_text(rules: int) -> str:
    """A document of ``rules`` numbered sentences, each embedded: an upload whose ingest takes a
    while (about 1.1 texts to embed a rule), to be caught in the act."""
    return "医保卡补办须知\n\n" + "".join(
        f"第{n}条：参保人在第{n}个社保服务网点补办医保卡时，应当携带本人身份证原件和第{n}号申请表。\n"
        for n in range(1, rules + 1)
    )


def base_text() -> str:
    """The first sections of a real corpus file (family sharing of the personal account)."""
    text = (ROOT / "corpus" / "003_806fa7c8e5ae7b8f.txt").read_text(encoding="utf-8")
    return text[: text.rindex("\n\n", 0, 800)] + "\n"


def subprocess_env(corpus_dir: Path, data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a `yibao` subprocess: these dirs, the offline model, no stray YIBAO_*."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("YIBAO_")}
    for key in ("YIBAO_MODEL", "YIBAO_MODEL_CACHE"):
        if key in os.environ:
            env[key] = os.environ[key]
    env.update(
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        PYTHONUNBUFFERED="1",
        YIBAO_CORPUS_DIR=str(corpus_dir),
        YIBAO_DATA_DIR=str(data_dir),
        **extra,
    )
    return env


def yibao(*args: str, env: dict[str, str], timeout: float = 240) -> subprocess.CompletedProcess[str]:
    """Run the `yibao` command to the end; its output is returned, not printed."""
    return subprocess.run(
        [sys.executable, "-c", CLI, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def start_yibao(*args: str, env: dict[str, str], log: Path) -> subprocess.Popen:
    """Start the `yibao` command in the background, output (stdout and stderr) going to ``log``."""
    with open(log, "wb") as fh:
        return subprocess.Popen(
            [sys.executable, "-c", CLI, *args],
            cwd=ROOT,
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def http_json(url: str, body: dict | None = None, timeout: float = 30) -> tuple[int, dict]:
    """GET (or POST ``body`` as JSON) with the standard library; the status and the JSON body."""
    data = None if body is None else json.dumps(body, ensure_ascii=False).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


@dataclass
class ServerProcess:
    """`yibao serve` in a subprocess on a free 127.0.0.1 port."""

    process: subprocess.Popen
    port: int
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @classmethod
    def start(cls, env: dict[str, str], log: Path, timeout: float = 240) -> ServerProcess:
        port = free_port()
        server = cls(start_yibao("serve", "--port", str(port), env=env, log=log), port, log)
        if wait_until_healthy(server.base, lambda: server.process.poll() is None, timeout):
            return server
        server.stop()
        pytest.fail(f"`yibao serve` did not come up:\n{server.output()[-3000:]}")

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def health(self) -> dict:
        return http_json(f"{self.base}/healthz")[1]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


@dataclass(frozen=True)
class Tiny:
    """A corpus dir with one small document and a data dir with its index."""

    corpus_dir: Path
    data_dir: Path

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"

    def settings(self, base: Settings) -> Settings:
        return replace(base, corpus_dir=self.corpus_dir, data_dir=self.data_dir)

    def env(self, **extra: str) -> dict[str, str]:
        return subprocess_env(self.corpus_dir, self.data_dir, **extra)

    def versions(self) -> list[str]:
        return sorted(p.name for p in self.index_dir.iterdir() if p.is_dir())

    def live(self) -> str:
        return (self.index_dir / "CURRENT").read_text(encoding="utf-8").strip()


@pytest.fixture(scope="session")
def tiny_template(tmp_path_factory: pytest.TempPathFactory, settings: Settings, embedder) -> Tiny:
    """Built once per session with the session's model; tests work on copies (``tiny``)."""
    from index.build import build_index

    root = tmp_path_factory.mktemp("tiny")
    tiny = Tiny(root / "corpus", root / "data")
    tiny.corpus_dir.mkdir()
    (tiny.corpus_dir / BASE_DOC).write_text(base_text(), encoding="utf-8")
    build_index(tiny.settings(settings), embedder)
    return tiny


@pytest.fixture
def tiny(tiny_template: Tiny, tmp_path: Path) -> Tiny:
    """A fresh copy of the tiny corpus and its index, the test's own to damage."""
    copy = Tiny(tmp_path / "corpus", tmp_path / "data")
    shutil.copytree(tiny_template.corpus_dir, copy.corpus_dir)
    shutil.copytree(tiny_template.data_dir, copy.data_dir)
    return copy


@pytest.fixture(scope="session")
def served(
    settings: Settings, retriever, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """`yibao serve` over the session's full index (built by the ``retriever`` fixture)."""
    log = tmp_path_factory.mktemp("served") / "serve.log"
    server = ServerProcess.start(subprocess_env(settings.corpus_dir, settings.data_dir), log)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def site(tiny_template: Tiny, tmp_path: Path, settings: Settings, embedder) -> Iterator:
    """The admin test site (tests/admin/conftest.py) over a copy of the tiny corpus, admin enabled."""
    from tests.admin.conftest import TOKEN, make_site

    yield from make_site(tiny_template, tmp_path, settings, embedder, admin_token=TOKEN)
