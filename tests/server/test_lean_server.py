"""On the onnx backends, serving and answering never import torch or sentence-transformers: they
are what made a server hold ~1.9 GB for a 46 KB corpus (BENCHMARKS.md, "Server footprint")."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from settings import ROOT, Settings

SCRIPT = """
import json, sys
from fastapi.testclient import TestClient
import cli
from server.app import create_app
from settings import Settings

with TestClient(create_app(Settings.from_env())) as client:
    answer = client.post("/api/ask", json={"question": "医保卡余额怎么查"})
    assert answer.status_code == 200 and answer.json()["citations"], answer.text
assert cli.main(["ask", "异地就医怎么备案"]) == 0
assert cli.main(["search", "家庭共济"]) == 0
print(json.dumps([m for m in ("torch", "sentence_transformers", "transformers") if m in sys.modules]))
"""


def test_serve_ask_and_search_on_onnx_import_no_torch(settings: Settings, retriever) -> None:
    if settings.backend == "torch":
        pytest.skip("YIBAO_BACKEND=torch runs torch by design")
    # ``retriever`` has built the session's index (and the model's export and record) already.
    env = {**os.environ, "YIBAO_DATA_DIR": str(settings.data_dir), "YIBAO_BACKEND": settings.backend}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.splitlines()[-1]) == []
