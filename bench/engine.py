"""A real embedding engine on this machine: Infinity serving a local model folder, offline.

For the remote backend's tests and the library benchmark. `make engine` (part of `make test`)
installs Infinity into a venv of its own, .venv-engine (see the Makefile). The server is one
process that a test may kill (as a crash would) and start again on the same port.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

from settings import ROOT

SERVED_NAME = "multilingual-e5-small"
START_SECONDS = 240


def infinity_binary() -> Path | None:
    """The ``infinity_emb`` command: the Makefile's engine venv first, else one on PATH."""
    local = ROOT / ".venv-engine" / "bin" / "infinity_emb"
    if local.exists():
        return local
    found = shutil.which("infinity_emb")
    return Path(found) if found else None


class InfinityServer:
    def __init__(self, binary: Path, model_folder: Path, port: int, log_path: Path) -> None:
        self._command = [
            str(binary),
            "v2",
            "--model-id",
            str(model_folder),
            "--served-model-name",
            SERVED_NAME,
            "--engine",
            "torch",
            "--device",
            "cpu",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-model-warmup",
            # Every text is embedded by the model: no answers from Infinity's own cache.
            "--no-vector-disk-cache",
        ]
        self.url = f"http://127.0.0.1:{port}"
        self._log_path = log_path
        self._process: subprocess.Popen | None = None

    def start(self) -> None:
        quiet = {"HF_HUB_OFFLINE": "1", "DO_NOT_TRACK": "1", "INFINITY_ANONYMOUS_USAGE_STATS": "0"}
        env = {**os.environ, **quiet}
        with open(self._log_path, "ab") as log:
            self._process = subprocess.Popen(
                self._command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline and self._process.poll() is None:
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        self.kill()
        tail = self._log_path.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"Infinity did not start on {self.url}:\n{tail}")

    def peak_rss_mib(self) -> float | None:
        """The server's peak resident memory so far (VmHWM), None when it is not running."""
        if self._process is None:
            return None
        status = Path(f"/proc/{self._process.pid}/status").read_text()
        kib = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:"))
        return round(kib / 1024, 1)

    def kill(self) -> None:
        """SIGKILL, as a crash or an OOM kill would end it; waits until it is gone."""
        if self._process is not None and self._process.poll() is None:
            os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait(timeout=30)
        self._process = None
