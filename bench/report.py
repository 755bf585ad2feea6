"""The benchmark's targets (met or not) and its markdown tables."""

from __future__ import annotations

import json
from pathlib import Path

from bench.http_load import BACK_TO_BACK, MIXED

HTTP_P50_OVER_FLOOR = 1.5
NON_ENCODE_SHARE = 0.10
THROUGHPUT_SHARE = 0.9
INGEST_OVER_RAW = 0.9
SCALE_ROWS = 1_000_000
SCALE_P50_MS = 10.0
SCALE_RECALL = 0.95
SERVER_RESIDENT_GB = 0.7
INGEST_SPEEDUP = 3.0
INGEST_PEAK_GB = 1.5


def _target(name: str, goal: str, value: str, met: bool | None) -> dict:
    return {"target": name, "goal": goal, "measured": value, "met": met}


def targets(result: dict) -> list[dict]:
    """Each target of the performance issue with the measured value; met is None when not measured."""
    out = []
    http = result.get("http")
    inproc = result.get("inprocess")
    if http:
        r = http["p50_over_floor"]
        p50 = http["phases"]["1"]["latency"]["p50"]
        out.append(
            _target(
                "/api/ask p50, 1 client",
                f"≤ {HTTP_P50_OVER_FLOOR} × floor",
                f"{p50} ms = {r} × floor ({http['floor_interleaved']['p50']} ms)",
                r is not None and r <= HTTP_P50_OVER_FLOOR,
            )
        )
    if inproc:
        share, stage = inproc["max_non_encode_share"]
        out.append(
            _target(
                "largest stage other than encoding",
                f"≤ {NON_ENCODE_SHARE:.0%} of the ask",
                f"{stage}: {share:.1%}",
                share <= NON_ENCODE_SHARE,
            )
        )
    if http:
        out.append(_throughput_target(result, http, inproc))
        mixed = http["phases"].get(MIXED)
        if mixed:
            shown = f"{mixed['errors']} errors in {mixed['requests']} requests, {mixed['rps']} req/s"
            out.append(_target("32 clients, 30 % invalid", "0 errors", shown, mixed["errors"] == 0))
    ingest = result.get("ingest")
    if ingest:
        out.append(
            _target(
                "ingest throughput",
                f"≥ {INGEST_OVER_RAW} × the raw model on the same texts",
                f"{ingest['ingest_over_raw']} ({ingest['texts_per_second']} vs "
                f"{ingest['raw_texts_per_second']} texts/s)",
                ingest["ingest_over_raw"] is not None and ingest["ingest_over_raw"] >= INGEST_OVER_RAW,
            )
        )
    stages = result.get("stages")
    if stages:
        out += _ingest_stage_targets(stages["rows"])
    footprint = result.get("footprint")
    configured = result.get("settings", {}).get("backend")
    if footprint and configured in footprint["backends"]:
        row = footprint["backends"][configured]
        gb = row["rss_mib"] * 2**20 / 1e9
        out.append(
            _target(
                f"`yibao serve` resident memory ({configured})",
                f"≤ {SERVER_RESIDENT_GB} GB after {footprint['asks']} asks",
                f"{gb:.2f} GB ({row['rss_mib']} MiB), torch loaded: {row['torch_loaded']}",
                gb <= SERVER_RESIDENT_GB,
            )
        )
    scale = result.get("scale")
    if scale is not None:
        row = next((r for r in scale["rows"] if r["rows"] == SCALE_ROWS and r["auto_choice"]), None)
        if row is None:
            out.append(_target("1M chunks search", "p50 ≤ 10 ms at recall@10 ≥ 0.95", "not measured", None))
        else:
            out.append(
                _target(
                    "1M chunks search (auto kind)",
                    f"p50 ≤ {SCALE_P50_MS:g} ms at recall@10 ≥ {SCALE_RECALL}",
                    f"{row['kind']}: p50 {row['p50_ms']} ms, recall@10 {row['recall_at_10']}, "
                    f"{row['index_mib']} MiB",
                    row["p50_ms"] <= SCALE_P50_MS and row["recall_at_10"] >= SCALE_RECALL,
                )
            )
    return out


def _ingest_stage_targets(rows: dict) -> list[dict]:
    out = []
    for name, r in rows.items():
        chars = r["source_chars_per_second"]
        speedup = chars["after"] / chars["before"]
        out.append(
            _target(
                f"ingest source chars/s, {name}",
                f"≥ {INGEST_SPEEDUP:g} × before",
                f"{chars['before']} → {chars['after']} = {speedup:.2f} ×",
                speedup >= INGEST_SPEEDUP,
            )
        )
        full = r.get("full_ingest")
        if full:
            gb = full["peak_rss_mib"] * 2**20 / 1e9
            out.append(
                _target(
                    f"`yibao ingest` peak memory, {name}",
                    f"≤ {INGEST_PEAK_GB:g} GB",
                    f"{gb:.2f} GB ({full['peak_rss_mib']} MiB)",
                    gb <= INGEST_PEAK_GB,
                )
            )
    return out


def _throughput_target(result: dict, http: dict, inproc: dict | None) -> dict:
    """16 clients against "2 busy cores": the cores this machine really delivers (the capacity
    probe, taken between the load rounds; a shared VM gives less than its core count) times what
    one busy core serves (one client, back to back, over the same HTTP path, in the same rounds)."""
    p16 = http["phases"]["16"]
    one = http["phases"].get(BACK_TO_BACK)
    nproc = result.get("machine", {}).get("nproc") or 1
    probe = http.get("effective_cores")
    cores = min(nproc, probe) if probe else nproc
    shown = f"{p16['rps']} req/s, {p16['errors']} errors, server CPU {p16['server_cpu_cores']} cores"
    met = p16["errors"] == 0
    if one:
        busy = cores * one["rps"]
        shown += f" = {p16['rps'] / busy:.2f} × ({cores} cores × {one['rps']} req/s of one client)"
        met = met and p16["rps"] >= THROUGHPUT_SHARE * busy
    capacity = (inproc or {}).get("parallel_capacity", {}).get("asks_per_second")
    if capacity:
        shown += f"; in process, without HTTP: {capacity} asks/s ({p16['rps'] / capacity:.2f})"
    goal = f"0 errors, ≥ {THROUGHPUT_SHARE} × (cores delivered × one client's req/s)"
    return _target("16 concurrent clients", goal, shown, met)


def write_json(result: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, ensure_ascii=False, indent=1, default=str) + "\n", encoding="utf-8")


def _table(header: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join("" if c is None else str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _met(value: bool | None) -> str:
    return {True: "met", False: "**not met**", None: "not measured"}[value]


def render_markdown(result: dict) -> str:
    """The tables of one run, in the order of BENCHMARKS.md."""
    out = []
    m = result["machine"]
    out.append(
        f"Run {result['created_at']}{' (quick)' if result['quick'] else ''}, {result['seconds']} s. "
        f"Machine: {m['nproc']} cores ({m['cpu']}), {m['ram_gib']} GiB RAM; Python {m['python']}, "
        f"torch {m['torch']}, onnxruntime {m['onnxruntime']}, faiss {m['faiss']}, "
        f"sentence-transformers {m['sentence_transformers']}, transformers {m['transformers']}, "
        f"numpy {m['numpy']}. Load average at start {m['load_average_start']}, "
        f"at end {m.get('load_average_end')}."
    )
    cap = m.get("cpu_capacity")
    if cap:
        out[-1] += (
            f" CPU capacity probe (GIL-free hashing, 1 process vs one per core): "
            f"{cap['effective_cores']} effective cores."
        )
    out.append(
        "### Targets\n\n"
        + _table(
            ["target", "goal", "measured", ""],
            [[t["target"], t["goal"], t["measured"], _met(t["met"])] for t in result["targets"]],
        )
    )
    sections = (
        ("inprocess", _inprocess),
        ("http", _http),
        ("ingest", _ingest),
        ("stages", _stages),
        ("backends", _backends),
        ("footprint", _footprint),
        ("stores", _stores),
        ("scale", _scale),
        ("library", _library),
    )
    out.extend(render(result[key]) for key, render in sections if result.get(key))
    return "\n\n".join(out) + "\n"


def _backends(b: dict) -> str:
    keys: list[str] = []
    for row in b["backends"].values():
        keys += [k for k in row.get("quality", {}) if k not in keys]
    rows = []
    for name, r in b["backends"].items():
        cap = r["parallel_capacity"]
        rows.append(
            [
                f"{name} (configured)" if name == b["configured"] else name,
                r.get("load_seconds", ""),
                r["floor"]["p50"],
                r["floor"]["p95"],
                r["floor_vs_configured"],
                r["cosine_to_torch_min"],
                r.get("model_file_mib", ""),
                r.get("ingest_texts_per_second", "(configured index)"),
                f"{cap['single_thread_asks_per_second']} / {cap['asks_per_second']}",
                *(r.get("quality", {}).get(k, "") for k in keys),
            ]
        )
    skipped = "".join(f" Not measured: {name} ({why})." for name, why in b.get("skipped", {}).items())
    return (
        f"### Inference backends\n\nThe same model on each backend, {b['threads']} intra-op thread(s) "
        "everywhere. Load = seconds to open it in this process (an ONNX backend's first load exports "
        "the model once; later loads reuse the file). Floor = one question through the backend's "
        "forward pass, interleaved across backends. Quality: eval/questions.jsonl, hybrid, over an "
        f"index built with that backend.{skipped}\n\n"
        + _table(
            [
                "backend",
                "load s",
                "floor p50 ms",
                "p95 ms",
                "floor / configured",
                "min cos to torch",
                "model file MiB",
                "ingest texts/s",
                "asks/s 1 thread / all cores",
                *keys,
            ],
            rows,
        )
    )


def _footprint(f: dict) -> str:
    rows = [
        [
            name,
            r["startup_seconds"],
            r["rss_mib"],
            round(r["rss_mib"] * 2**20 / 1e9, 2),
            r["threads"],
            "yes" if r["torch_loaded"] else "no",
            r["errors"],
        ]
        for name, r in f["backends"].items()
    ]
    return (
        "### Server footprint\n\nPer backend, `yibao ingest` into a temporary data dir first (model, "
        "export and index on disk), then `yibao serve`: start-up = seconds from launching it to the "
        f"first /healthz answer; resident memory (VmRSS) after {f['asks']} asks from one client; torch "
        "loaded = its library mapped into the server process.\n\n"
        + _table(
            ["backend", "start-up s", "resident MiB", "resident GB", "threads", "torch loaded", "errors"],
            rows,
        )
    )


def _inprocess(r: dict) -> str:
    floor = r["floor"]["p50"]
    rows = [["floor: the model alone, 1 question", r["floor"]["p50"], r["floor"]["p95"], 1.0]]
    for mode, s in r["retrieve"].items():
        rows.append([f"retrieve {mode}", s["p50"], s["p95"], round(s["p50"] / floor, 2)])
    rows.append(["ask (hybrid + answer)", r["ask"]["p50"], r["ask"]["p95"], r["ask_over_floor"]])
    c = r["cached"]
    rows.append(
        [
            f"ask, cached repeat (cache {c['cache_size']})",
            c["ask"]["p50"],
            c["ask"]["p95"],
            c["ask_over_floor"],
        ]
    )
    parts = [
        f"### In process\n\n{r['questions']} distinct questions × {r['passes']} passes, query cache off "
        "(each question really encoded); measurements interleaved question by question.\n\n"
        + _table(["measure", "p50 ms", "p95 ms", "p50 / floor"], rows)
    ]
    stage_rows = [[name, s["p50"], s["p95"], f"{s['share']:.1%}"] for name, s in r["stages"].items()]
    parts.append(
        "Ask by stage (share = stage's total time / all asks' total time; `other` is the ask's time "
        "outside the named stages):\n\n" + _table(["stage", "p50 ms", "p95 ms", "share"], stage_rows)
    )
    t = r["threads"]
    trows = [
        [f"floor, {n} thread(s) per forward pass", s["p50"], s["p95"]]
        for n, s in t["floor_by_threads"].items()
    ]
    for label, s in t["ask_by_blas_threads"].items():
        trows.append([f"ask, {label} (fusion p50 {s['fusion']['p50']} ms)", s["ask"]["p50"], s["ask"]["p95"]])
    cap = r["parallel_capacity"]
    trows.append(
        [
            f"in-process capacity: {cap['threads']} threads asking at once ({cap['requests']} asks)",
            f"{cap['asks_per_second']} asks/s",
            f"1 thread: {cap['single_thread_asks_per_second']} asks/s",
        ]
    )
    parts.append(
        f"Thread settings (configured: {t['configured_threads']} thread(s) per forward pass; "
        "variants interleaved):\n\n" + _table(["variant", "p50 ms", "p95 ms"], trows)
    )
    return "\n\n".join(parts)


def _http(h: dict) -> str:
    s = h["server"]
    rows = []
    for clients, p in h["phases"].items():
        lat = p["latency"]
        rows.append(
            [
                clients,
                p["requests"],
                p["errors"],
                p["rps"],
                lat["p50"],
                lat["p95"],
                lat["p99"],
                p["server_cpu_cores"],
                p.get("client_cpu_cores", "(floor in between)"),
            ]
        )
    return (
        f"### HTTP /api/ask\n\nOne `yibao serve` process (query cache off), started in "
        f"{s['startup_seconds']} s; {s.get('rss_mib')} MiB resident, {s.get('threads')} threads at the end. "
        f"The 1-client run alternates each request with the floor for the same question in the "
        f"benchmark process: floor p50 {h['floor_interleaved']['p50']} ms, /api/ask p50 = "
        f"{h['p50_over_floor']} × floor. Then 4 clients; then, in {h.get('rounds', 1)} alternating "
        "rounds, one client sending its next request as soon as the last is answered (what one busy "
        "core serves), 16 clients, and the CPU capacity probe (median "
        f"{h.get('effective_cores')} effective cores). Last, 32 clients of which 30 % of the requests "
        "are invalid (malformed, refused or unknown; an error is any status other than the one due).\n\n"
        + _table(
            [
                "clients",
                "requests",
                "errors",
                "req/s",
                "p50 ms",
                "p95 ms",
                "p99 ms",
                "server CPU (cores)",
                "client CPU (cores)",
            ],
            rows,
        )
    )


def _ingest(r: dict) -> str:
    rows = [
        ["documents / chunks / embedded texts", f"{r['documents']} / {r['chunks']} / {r['embedded_texts']}"],
        ["build from scratch, s", ", ".join(map(str, r["build_seconds"]))],
        ["the raw model on the same texts, s", ", ".join(map(str, r["raw_encode_seconds"]))],
        ["chunks/s (ingest)", r["chunks_per_second"]],
        ["embedded texts/s: ingest vs raw encode", f"{r['texts_per_second']} vs {r['raw_texts_per_second']}"],
        ["ingest / raw encode throughput", r["ingest_over_raw"]],
    ]
    return f"### Ingest\n\nCorpus: {r['corpus']}.\n\n" + _table(["", ""], rows)


def _stages(s: dict) -> str:
    rows = []
    for name, r in s["rows"].items():
        sec = r["seconds"]
        full = r.get("full_ingest", {})
        rows.append(
            [
                name,
                f"{r['source_chars']} / {r['chunks']} / {r['texts']}",
                *(sec.get(k, "") for k in ("reading", "chunking", "tokenising", "indexing", "writing")),
                f"{r['model_seconds']['before']} → {r['model_seconds']['after']}",
                f"{r['texts_per_second']['before']} → {r['texts_per_second']['after']}",
                f"{r['source_chars_per_second']['before']} → {r['source_chars_per_second']['after']}",
                r["model_sample"],
                full.get("seconds", ""),
                full.get("source_chars_per_second", ""),
                full.get("peak_rss_mib", ""),
            ]
        )
    return (
        "### Ingest by stage\n\nBefore → after: the model in batches of 32 texts, one at a time on one "
        "thread (the ingest before issue 12) → batches of at most YIBAO_EMBED_BATCH_TOKENS padded "
        f"tokens, {s['threads_after']} at a time on one thread each (`yibao ingest` now). Tokenising is "
        "part of the model time; indexing is jieba, BM25 and FAISS. Model time is measured on `sample` "
        "texts spread over the corpus and scaled to all of them; source chars/s is the whole ingest. "
        "Full ingest: `yibao ingest` on the whole corpus in a subprocess, its seconds, source chars/s "
        "and peak resident memory.\n\n"
        + _table(
            [
                "corpus",
                "chars / chunks / texts",
                "read s",
                "chunk s",
                "tokenise s",
                "index s",
                "write s",
                "model s",
                "texts/s",
                "source chars/s",
                "sample",
                "full ingest s",
                "full ingest chars/s",
                "full ingest peak RSS MiB",
            ],
            rows,
        )
    )


def _stores(s: dict) -> str:
    rows = [
        [r["data"], r["store"], r["skipped"], "", "", ""]
        if "skipped" in r
        else [
            r["data"],
            r["store"],
            r["build_seconds"],
            r["first_search_ms"],
            f"{r['dense_p50_ms']} / {r['dense_p95_ms']}",
            f"{r['lexical_p50_ms']} / {r['lexical_p95_ms']}",
        ]
        for r in s["rows"]
    ]
    header = [
        "data", "store", "build, s", "first search, ms", "dense p50 / p95, ms", "lexical p50 / p95, ms"
    ]  # fmt: skip
    return (
        f"### Stores: local vs Milvus\n\nk={s['k']}, {s['questions']} questions; Milvus is milvus-lite "
        "(embedded, pure Python, over a file): the Milvus code path on one machine, not the path to "
        "scale. Build: filling the store from vectors already embedded (Milvus: inserting and "
        "flushing; milvus-lite then builds the dense index in the background); first search: one "
        "dense and one lexical query on the cold store (milvus-lite builds a segment's BM25 index "
        "then).\n\n" + _table(header, rows)
    )


def _scale(s: dict) -> str:
    rows = []
    for r in s["rows"]:
        extra = r.get("param", "")
        if "p50_ms_all_threads" in r:
            extra = f"all OpenMP threads: p50 {r['p50_ms_all_threads']} ms"
        rows.append(
            [
                f"{r['rows']:,}",
                r["kind"] + (" (auto)" if r["auto_choice"] else ""),
                r["build_seconds"],
                r["index_mib"],
                r["bytes_per_vector"],
                r["p50_ms"],
                r["p95_ms"],
                r["recall_at_10"],
                extra,
            ]
        )
    sweep_rows = []
    for r in s["rows"]:
        for point in r.get("sweep", []):
            name = next(k for k in point if k not in ("p50_ms", "p95_ms", "recall_at_10"))
            sweep_rows.append(
                [
                    f"{r['rows']:,}",
                    r["kind"],
                    f"{name}={point[name]}",
                    point["p50_ms"],
                    point["p95_ms"],
                    point["recall_at_10"],
                ]
            )
    neighbours = "; ".join(
        f"{d['rows']:,}: 1st {d['top1_cosine_p50']}, 10th {d['top10_cosine_p50']}" for d in s["neighbours"]
    )
    return (
        f"### FAISS at scale\n\nSynthetic {s['dim']}-d vectors ({s['data']}); {s['queries']} queries, "
        f"one search thread, recall@{s['k']} against exact search. Median cosine of the exact "
        f"neighbours — {neighbours}. Parameters: flat up to {s['params']['exact_max_rows']:,} rows; "
        f"hnsw = {s['params']['hnsw']}; ivfpq = {s['params']['ivfpq']}.\n\n"
        + _table(
            [
                "rows",
                "kind",
                "build s",
                "index MiB",
                "bytes/vector",
                "search p50 ms",
                "p95 ms",
                "recall@10",
                "notes",
            ],
            rows,
        )
        + "\n\nSearch-parameter sweeps (same indexes):\n\n"
        + _table(["rows", "kind", "parameter", "p50 ms", "p95 ms", "recall@10"], sweep_rows)
    )


def _library(r: dict) -> str:
    rows = []
    for row in r["rows"]:
        if "skipped" in row:
            rows.append([row["backend"], "", "", "", "", "", row["skipped"]])
            continue
        engine = (
            f"remote, {row['concurrency']} in flight"
            if row["concurrency"]
            else f"{row['backend']} (in process)"
        )
        rows.append(
            [
                engine,
                row["texts"],
                row["seconds"],
                row["texts_per_second"],
                row.get("chars_per_second", ""),
                row["peak_rss_mib"],
                "",
            ]
        )
    peak = r.get("engine_peak_rss_mib")
    return (
        f"### A library\n\n{r['files']} of the {r['of_files']} files of {r['corpus']} (spread evenly), "
        f"{r['characters']:,} characters, indexed from scratch by `yibao ingest` in a subprocess; "
        f"texts/s and chars/s are of the whole ingest. Engine: {r['engine']}"
        + (f", peak memory {peak} MiB" if peak else "")
        + ".\n\n"
        + _table(
            ["backend", "texts embedded", "wall s", "texts/s", "chars/s", "`yibao ingest` peak MiB", "note"],
            rows,
        )
    )
