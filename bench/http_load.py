"""/api/ask over HTTP against a real ``yibao serve`` subprocess on 127.0.0.1.

The server runs with the configured settings and data dir, except that its query cache is off
(``YIBAO_QUERY_CACHE_SIZE=0``), so that every request really encodes its question. Clients are
stdlib threads with one keep-alive connection each; request counts are bounded and only
loopback is used.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from bench.stats import ratio, summarize
from settings import ROOT, Settings

HOST = "127.0.0.1"
START_TIMEOUT_S = 600.0  # the server builds the index first when there is none
REQUEST_TIMEOUT_S = 120.0
BACK_TO_BACK = "1 back-to-back"
MIXED = "32, 30 % invalid"
MIXED_CLIENTS = 32
INVALID_SHARE = 0.3
# Requests a client gets wrong, each with the status it must get (never a 5xx or a dropped
# connection): malformed or refused bodies and parameters, and questions with nothing to look up.
_LIMITS = Settings()
INVALID: tuple[tuple[str, str, bytes, int], ...] = (
    ("POST", "/api/ask", b"{not json", 400),
    ("POST", "/api/ask", b'{"question": ""}', 422),
    ("POST", "/api/ask", b'{"question": "' + b"x" * (_LIMITS.max_question_chars + 1) + b'"}', 422),
    ("POST", "/api/ask", b'{"question": "\\u0000"}', 422),
    ("POST", "/api/ask", b'{"question": "a", "top_k": 0}', 422),
    ("POST", "/api/ask", b'{"question": "a", "evil": 1}', 422),
    ("POST", "/api/ask", b"[" * 5000, 400),
    ("POST", "/api/ask", b'{"question": "' + b"a" * (_LIMITS.max_body_bytes + 1) + b'"}', 413),
    ("GET", "/api/search?q=&k=many", b"", 422),
    ("GET", "/api/search?q=a&retriever=magic", b"", 422),
    ("POST", "/api/admin/reload", b"", 403),
    ("GET", "/no/such/page", b"", 404),
)


@dataclass
class Server:
    process: subprocess.Popen
    port: int
    log: Path

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server process so far."""
        fields_ = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields_[11]) + int(fields_[12])) / os.sysconf("SC_CLK_TCK")

    def status(self) -> dict[str, int]:
        """Resident memory (MiB) and thread count of the server process."""
        out: dict[str, int] = {}
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                out["rss_mib"] = int(line.split()[1]) // 1024
            elif line.startswith("Threads:"):
                out["threads"] = int(line.split()[1])
        return out

    def log_tail(self, n: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def server_env(settings: Settings) -> dict[str, str]:
    """The environment that gives the subprocess exactly ``settings`` (cache off)."""
    env = dict(os.environ)
    for f in fields(settings):
        name, value = f"YIBAO_{f.name.upper()}", getattr(settings, f.name)
        if name in env or value != f.default:
            env[name] = str(value)
    env["PYTHONUNBUFFERED"] = "1"
    return env


@contextlib.contextmanager
def running_server(settings: Settings) -> Iterator[Server]:
    """Start ``yibao serve`` on a free loopback port, wait until /healthz answers, stop it after."""
    port = free_port()
    log_file = Path(tempfile.mkstemp(prefix="yibao-bench-serve-", suffix=".log")[1])
    with open(log_file, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "cli", "serve", "--host", HOST, "--port", str(port)],
            cwd=ROOT,
            env=server_env(settings),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = Server(process, port, log_file)
    try:
        _wait_healthy(server)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log_file.unlink(missing_ok=True)


def _wait_healthy(server: Server) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"yibao serve exited with {server.process.returncode}:\n{server.log_tail()}")
        try:
            conn = http.client.HTTPConnection(HOST, server.port, timeout=5)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                conn.close()
                return
            conn.close()
        except OSError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"yibao serve did not answer /healthz within {START_TIMEOUT_S:.0f} s")


class Client:
    """One keep-alive connection; ``ask`` returns (milliseconds, ok)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection(HOST, port, timeout=REQUEST_TIMEOUT_S)

    def ask(self, question: str) -> tuple[float, bool]:
        body = json.dumps({"question": question}, ensure_ascii=False).encode()
        return self.send("POST", "/api/ask", body, 200)

    def send(self, method: str, path: str, body: bytes, expected: int) -> tuple[float, bool]:
        """One request; ok when it gets ``expected`` (an answer, for a 200 from /api/ask)."""
        headers = {"Content-Type": "application/json"}
        t0 = time.perf_counter()
        try:
            self.conn.request(method, path, body=body or None, headers=headers)
            response = self.conn.getresponse()
            payload = response.read()
            ok = response.status == expected and (expected != 200 or b'"answer"' in payload)
            if response.getheader("connection", "").lower() == "close":
                self._reconnect()
        except (OSError, http.client.HTTPException):
            self._reconnect()
            ok = False
        return (time.perf_counter() - t0) * 1000, ok

    def _reconnect(self) -> None:
        self.conn.close()
        self.conn = http.client.HTTPConnection(HOST, self.port, timeout=REQUEST_TIMEOUT_S)

    def close(self) -> None:
        self.conn.close()


@dataclass
class Load:
    """Raw figures of one or more load runs, merged before they are summarised."""

    clients: int
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    seconds: float = 0.0
    server_cpu: float = 0.0
    client_cpu: float = 0.0

    def phase(self) -> dict:
        phase = _phase(self.clients, self.latencies, self.errors, self.seconds, self.server_cpu)
        phase["client_cpu_cores"] = round(self.client_cpu / self.seconds, 2) if self.seconds else 0.0
        return phase


def mixed_requests(questions: list[str], n: int) -> list[tuple[str, str, bytes, int]]:
    """``n`` requests, INVALID_SHARE of them invalid (in turn from INVALID), the rest questions."""
    out = []
    for i in range(n):
        if i % 10 < 10 * INVALID_SHARE:
            out.append(INVALID[i % len(INVALID)])
        else:
            body = json.dumps({"question": questions[i % len(questions)]}, ensure_ascii=False).encode()
            out.append(("POST", "/api/ask", body, 200))
    return out


def run_clients(
    server: Server,
    questions: list[str],
    clients: int,
    requests: int,
    load: Load | None = None,
    mixed: list[tuple[str, str, bytes, int]] | None = None,
) -> Load:
    """``requests`` asks spread over ``clients`` threads, each sending its next as soon as the last
    is answered; questions are taken in turn from the list (or the ``mixed`` requests, each with
    the status it must get). Figures are added to ``load``."""
    load = load or Load(clients)
    lock = threading.Lock()
    counter = iter(range(requests))

    def worker() -> None:
        client = Client(server.port)
        try:
            while True:
                with lock:
                    i = next(counter, None)
                if i is None:
                    return
                if mixed is None:
                    ms, ok = client.ask(questions[i % len(questions)])
                else:
                    ms, ok = client.send(*mixed[i % len(mixed)])
                with lock:
                    load.latencies.append(ms)
                    load.errors += not ok
        finally:
            client.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(clients)]
    cpu0, own0, t0 = server.cpu_seconds(), _own_cpu(), time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    load.seconds += time.perf_counter() - t0
    load.server_cpu += server.cpu_seconds() - cpu0
    load.client_cpu += _own_cpu() - own0
    return load


def _phase(clients: int, latencies: list[float], errors: int, seconds: float, server_cpu: float) -> dict:
    """One load phase's figures; rates are over ``seconds`` (the time requests were in flight)."""
    return {
        "clients": clients,
        "requests": len(latencies),
        "errors": errors,
        "seconds": round(seconds, 2),
        "rps": round(len(latencies) / seconds, 2),
        "latency": summarize(latencies),
        "server_cpu_cores": round(server_cpu / seconds, 2),
    }


def _own_cpu() -> float:
    """CPU seconds of this (the clients') process so far."""
    times = os.times()
    return times.user + times.system


def run_single_interleaved(
    server: Server, questions: list[str], requests: int, floor: Callable[[str], float]
) -> tuple[dict, dict]:
    """One client, each request preceded by the floor for the same question in this process (the
    server is idle meanwhile), so the two share the machine's load of that moment."""
    client = Client(server.port)
    latencies, floors = [], []
    errors = 0
    cpu0, t0, busy = server.cpu_seconds(), time.perf_counter(), 0.0
    try:
        for i in range(requests):
            q = questions[i % len(questions)]
            floors.append(floor(q))
            ms, ok = client.ask(q)
            latencies.append(ms)
            busy += ms / 1000
            errors += not ok
    finally:
        client.close()
    phase = _phase(1, latencies, errors, busy, server.cpu_seconds() - cpu0)
    phase["wall_seconds_with_floor"] = round(time.perf_counter() - t0, 2)
    return phase, summarize(floors)


def measure(settings: Settings, questions: list[str], floor: Callable[[str], float], quick: bool) -> dict:
    """Start the server, warm it up, then 1 client (interleaved with the floor), 4 clients, and in
    alternating rounds one client back to back, 16 clients and the CPU capacity probe."""
    from bench.machine import cpu_capacity

    counts = {1: 10, 4: 24, 16: 48, MIXED_CLIENTS: 100} if quick else {1: 100, 4: 160, 16: 320}
    counts.setdefault(MIXED_CLIENTS, 1500)
    rounds = 2 if quick else 4
    conf = replace(settings, query_cache_size=0)
    started = time.perf_counter()
    with running_server(conf) as server:
        startup = time.perf_counter() - started
        run_clients(server, questions, 2, 6)  # warm-up: first requests allocate
        single, floor_stats = run_single_interleaved(server, questions, counts[1], floor)
        four = run_clients(server, questions, 4, counts[4])
        # The 16-client figure is judged against what one busy core serves (one client back to
        # back) times the cores the machine delivers; the three alternate so that all see the
        # same neighbours.
        one, many, probes = Load(1), Load(16), []
        for _ in range(rounds):
            run_clients(server, questions, 1, counts[1] // rounds, one)
            run_clients(server, questions, 16, counts[16] // rounds, many)
            probes.append(cpu_capacity(48 if quick else 96)["effective_cores"])
        # The hardening probe's load: 32 clients, 30 % of their requests invalid, every one
        # answered as it must be (server/admission.py and the per-client limits in force).
        requests = mixed_requests(questions, counts[MIXED_CLIENTS])
        mixed = run_clients(server, questions, MIXED_CLIENTS, len(requests), mixed=requests)
        phases = {
            "1": single,
            BACK_TO_BACK: one.phase(),
            "4": four.phase(),
            "16": many.phase(),
            MIXED: mixed.phase(),
        }
        status = server.status()
    p50 = phases["1"]["latency"]["p50"]
    return {
        "server": {
            "command": "python -m cli serve --host 127.0.0.1 --port <free>",
            "query_cache_size": 0,
            "startup_seconds": round(startup, 1),
            "processes": 1,
            **status,
        },
        "floor_interleaved": floor_stats,
        "phases": phases,
        "rounds": rounds,
        "effective_cores": sorted(probes)[len(probes) // 2],
        "p50_over_floor": ratio(p50, floor_stats["p50"]),
        "errors": sum(p["errors"] for p in phases.values()),
    }
