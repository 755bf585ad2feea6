"""The `yibao` command: ingest, search, ask, serve, mcp, eval, bench.

The command line sits on top of the pipeline and is the one place that wires all packages.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from settings import ROOT, STORES, Settings

if TYPE_CHECKING:
    from index.retriever import Retriever

log = logging.getLogger("yibao")


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    # FAISS reports at INFO each CPU-specific build it tries before the one that loads.
    logging.getLogger("faiss.loader").setLevel(logging.WARNING)
    try:
        settings = Settings.from_env()
    except ValueError as exc:
        parser.error(str(exc))
    from index.embedding import ModelUnavailable
    from index.store import IndexStoreError

    try:
        return args.run(args, settings)
    except (IndexStoreError, ModelUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        # A full disk, a read-only or missing dir: one line, no traceback. An ingest that fails
        # this way has left the live index as it was (see index/store.write_index).
        where = f" ({exc.filename})" if exc.filename else ""
        kept = "; the previous index is kept as it was" if args.run is _ingest else ""
        print(f"error: {exc.strerror or exc}{where}{kept}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _store_list(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in STORES]
    if not names or unknown:
        raise argparse.ArgumentTypeError(f"stores are {', '.join(STORES)}, comma-separated")
    return names


def _parser() -> argparse.ArgumentParser:
    from bench import PARTS

    parser = argparse.ArgumentParser(prog="yibao", description="医保问答: cited answers from the corpus")
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    def command(name: str, run: Callable, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(run=run)
        return p

    p = command("ingest", _ingest, "build or update the index from the corpus dir")
    p.add_argument("--rebuild", action="store_true", help="re-embed everything from scratch")
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="say how many texts would be embedded and how long, change nothing",
    )
    p.add_argument("--store", choices=STORES, help="fill this store (default YIBAO_STORE)")
    p.add_argument(
        "--edit",
        type=Path,
        metavar="FILE",
        help="first add, replace and remove the corpus files FILE names (JSON: add {name: file}, "
        "remove [names]; what an upload in /admin runs), all or nothing",
    )
    _progress_option(p)

    p = command("search", _search, "print the ranked passages for a question")
    p.add_argument("question")
    p.add_argument("-k", type=int, default=None, help="how many passages (default YIBAO_TOP_K)")
    p.add_argument("--retriever", choices=("hybrid", "dense", "lexical"), default="hybrid")

    p = command("ask", _ask, "answer a question with cited sentences")
    p.add_argument("question")
    p.add_argument("-k", type=int, default=None, help="how many passages to draw from")
    p.add_argument("--json", action="store_true", help="print the API's JSON")

    p = command("eval", _eval, "measure retrieval and answer quality on a question set or a BEIR dataset")
    p.add_argument("--questions", type=Path, default=ROOT / "eval" / "questions.jsonl")
    p.add_argument("--retriever", choices=("hybrid", "dense", "lexical"), default="hybrid")
    p.add_argument("--k", type=int, default=10, help="cut-off for hit/mrr/ndcg/recall (default 10)")
    p.add_argument("--compare", action="store_true", help="dense, lexical, hybrid and hybrid without MMR")
    p.add_argument("--beir", type=Path, metavar="DIR", help="a BEIR-layout dataset instead of the questions")
    p.add_argument("--limit", type=int, default=None, help="only the first N queries")
    p.add_argument("--subset", help="with --beir: only the queries of this slice (baoxianzhidao: medins)")
    p.add_argument(
        "--reference",
        action="store_true",
        help="also plain e5 + FAISS and plain BM25 over 250-character windows (eval/reference.py)",
    )
    p.add_argument(
        "--store", type=_store_list, metavar="STORES", help="e.g. local,milvus: each store side by side"
    )
    p.add_argument(
        "--calibrate", action="store_true", help="print the abstain threshold these questions give"
    )
    p.add_argument("--json", type=Path, metavar="OUT", help="also write the JSON report here")
    p.add_argument("--html", type=Path, metavar="OUT", help="also write the HTML report here")
    _progress_option(p)

    p = command("fit", _fit, "fit the answer model (answer/model.json) on a question set")
    p.add_argument("--questions", type=Path, required=True, help="answerable questions over the corpus dir")
    p.add_argument(
        "--against", type=Path, metavar="DATA_DIR", help="an index of another corpus: unanswerable"
    )
    p.add_argument("--query-vectors", type=Path, metavar="NPY", help="the questions' vectors, in file order")
    p.add_argument("--folds", type=int, default=5, help="folds, split by document (default 5)")
    p.add_argument("--budget", type=int, default=150, help="the median answer's characters at most")
    p.add_argument("--max-false-abstain", type=float, default=0.005, help="of the findable questions")
    p.add_argument("--cache", type=Path, metavar="FILE", help="keep the searches here for the next fit")
    p.add_argument("--note", default="", help="what the model file says of the data (licence, attribution)")
    p.add_argument("--also", type=Path, metavar="QUESTIONS", help="a second question set, over --also-data")
    p.add_argument("--also-data", type=Path, default=ROOT / "data", metavar="DATA_DIR", help="its index")
    p.add_argument(
        "--also-weight", type=float, default=100.0, help="how many times each of its questions counts"
    )
    p.add_argument("--out", type=Path, default=ROOT / "answer" / "model.json")

    p = command("serve", _serve, "serve the web pages and the API (builds the index first if missing)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)

    command("mcp", _mcp, "serve the corpus as MCP tools over stdin/stdout (for an MCP client to start)")

    p = command("bench", _bench, "measure latency, throughput, ingest and FAISS at scale (BENCHMARKS.md)")
    p.add_argument("--quick", action="store_true", help="few requests, 10k-row scale only (under a minute)")
    p.add_argument("--parts", nargs="+", choices=PARTS, metavar="PART", help=f"only: {', '.join(PARTS)}")
    p.add_argument("--json", type=Path, metavar="OUT", help="also write the JSON results here")
    p.add_argument("--markdown", type=Path, metavar="OUT", help="also write the markdown tables here")
    p.add_argument(
        "--library",
        type=Path,
        metavar="DIR",
        help="the library part's corpus (default: shared cmrc2018_train)",
    )
    p.add_argument("--library-files", type=int, metavar="N", help="only N of its files, spread evenly")
    return parser


def _progress_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--progress", type=Path, metavar="FILE", help="keep a JSON progress report here (for server jobs)"
    )


class _Progress:
    """The progress file of a job the server started (server/jobs.py reads it): JSON with
    ``done``, ``total``, ``unit``, ``stage``, ``since``/``updated`` (seconds since the epoch),
    ``committing`` once the command is past the point where it can stop, and at the end
    ``result``, replaced whole at most twice a second."""

    def __init__(self, path: Path | None, total: int | None, unit: str, stage: str) -> None:
        self.path = path
        self.state: dict = {"done": 0, "total": total, "unit": unit, "stage": stage, "since": time.time()}
        self._written = 0.0
        self._write(force=True)

    def stage(self, text: str) -> None:
        self.state["stage"] = text
        self._write(force=True)

    def advance(self) -> None:
        self.state["done"] += 1
        self._write()

    def count(self, done: int, total: int) -> None:
        """``done`` of ``total``; a new count (done 0) restarts the clock of the rate."""
        if not done:
            self.state["since"] = time.time()
        self.state["done"], self.state["total"] = done, total
        self._write(force=not done or done >= total)

    def commit(self, stage: str) -> None:
        self.state["committing"] = True
        self.stage(stage)

    @property
    def committing(self) -> bool:
        return bool(self.state.get("committing"))

    def finish(self, result: str | dict) -> None:
        self.state["result"] = result
        self._write(force=True)

    def _write(self, force: bool = False) -> None:
        now = time.time()
        if self.path is None or (not force and now - self._written < 0.5):
            return
        self._written = self.state["updated"] = now
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(self.state, ensure_ascii=False), encoding="utf-8")
        tmp.replace(self.path)


def _retriever(settings: Settings) -> Retriever:
    from index.embedding import load_embedder
    from index.loader import open_retriever

    return open_retriever(settings, load_embedder(settings))


def _retriever_filled(settings: Settings) -> Retriever:
    """The retriever over ``settings.store``, after an ingest brought that store in line with the
    corpus (a no-op when it is)."""
    from index.build import build_index
    from index.embedding import load_embedder
    from index.loader import open_retriever

    embedder = load_embedder(settings)
    build_index(settings, embedder)
    return open_retriever(settings, embedder)


def _ingest(args: argparse.Namespace, settings: Settings) -> int:
    from index.build import UnusableUpload, build_index, edit_corpus, plan_ingest
    from index.edit_request import EditRequest
    from index.embedding import load_embedder
    from index.embedding.threads import for_ingest

    if args.store:
        settings = replace(settings, store=args.store)
    try:
        edit = EditRequest.read(args.edit) if args.edit else None
    except (OSError, ValueError) as exc:
        print(f"error: cannot read the edit {args.edit}: {exc}", file=sys.stderr)
        return 2
    progress = _Progress(args.progress, None, "texts", "读取与切分文件 / reading and chunking the files")
    if args.progress:
        _stop_on_sigterm(progress)
    embedder = for_ingest(load_embedder(settings))
    if args.dry_run:
        print(plan_ingest(settings, embedder, rebuild=args.rebuild).summary())
        return 0

    def embedded(done: int, total: int) -> None:
        if not done:
            progress.stage("嵌入 / embedding")
        progress.count(done, total)
        if done >= total:  # what is left is writing: too late to stop
            progress.commit("写入索引 / writing the index")

    if edit is None:
        report = build_index(settings, embedder, rebuild=args.rebuild, progress=True, on_embedded=embedded)
    else:
        try:
            with edit.opened() as add:
                report = edit_corpus(
                    settings, embedder, add=add, remove=edit.remove, progress=True, on_embedded=embedded
                )
        except UnusableUpload as exc:
            print(
                f"error: 无法读取，未做任何更改 / cannot be indexed, nothing changed: {exc}", file=sys.stderr
            )
            return 2
    print(report.summary())
    progress.finish(report.to_dict())
    return 0


def _stop_on_sigterm(progress: _Progress) -> None:
    """A server job is cancelled (or its server stops) with SIGTERM: stop as on Ctrl-C, so that
    the ingest drops what it staged and nothing changes; but once it is writing the new index it
    finishes instead (the server waits for it and reports it done)."""

    def stop(signum: int, frame: object) -> None:
        if not progress.committing:
            raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)


def _search(args: argparse.Namespace, settings: Settings) -> int:
    result = _retriever(settings).search(args.question, args.k, args.retriever)
    if not result.passages:
        print("没有找到相关段落 (no passages matched)")
    for p in result.passages:
        c = p.chunk
        snippet = " ".join(c.text.split())[:120]
        page = f"（第 {c.page} 页）" if c.page else ""
        print(f"{p.rank}. [{p.score:.3f}] {c.doc_id} · {c.section}{page}")
        print(f"   {p.why()}")
        print(f"   {snippet}")
    return 0


def _ask(args: argparse.Namespace, settings: Settings) -> int:
    from answer.compose import Answerer

    answer = Answerer(_retriever(settings), settings).ask(args.question, args.k)
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
        return 0
    print(answer.text)
    for c in answer.citations:
        chunk = c.passage.chunk
        meta = chunk.whereabouts
        print(f"[{c.n}] {chunk.doc_id} · {chunk.section}" + (f" ({meta})" if meta else ""))
    print(answer.disclaimer)
    return 0


def _eval(args: argparse.Namespace, settings: Settings) -> int:
    from eval import report

    if args.beir:
        return _eval_beir(args, settings)
    from answer.compose import Answerer
    from eval.questions import load_questions
    from eval.run_questions import calibrate, evaluate
    from index.retriever import Retriever

    try:
        questions = load_questions(args.questions)[: args.limit]
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    # Without the query cache, so that every run's latency includes encoding its questions.
    settings = replace(settings, query_cache_size=0)
    if args.compare:
        variants = [(m, m, settings) for m in ("dense", "lexical", "hybrid")]
        variants.append(("hybrid-no-mmr", "hybrid", replace(settings, mmr_lambda=1.0)))
    else:
        variants = [(args.retriever, args.retriever, settings)]
    stores = args.store or [settings.store]
    total = len(questions) * len(variants) * len(stores)
    progress = _Progress(args.progress, total, "questions", "加载模型与索引 / loading the model and index")
    runs = []
    for store in stores:
        retriever = _retriever_filled(replace(settings, store=store))
        for name, mode, conf in variants:
            progress.stage(f"{name}@{store}" if len(stores) > 1 else name)
            answerer = Answerer(Retriever(retriever.index, retriever.embedder, conf, retriever.store), conf)
            run = evaluate(answerer, questions, mode, args.k, progress=True, on_question=progress.advance)
            label = f"{name}@{store}" if len(stores) > 1 else name
            run["config"] = {**_eval_config(label, mode, conf, retriever, args), "store": store}
            runs.append(run)
    if args.reference:
        runs.extend(_reference_runs(args, settings, retriever, questions))
    main_run = next((r for r in runs if r["config"]["retriever"] == "hybrid"), runs[0])
    result = {**main_run, "compare": [{"config": r["config"], "metrics": r["metrics"]} for r in runs]}
    print(report.table(runs))
    if len(stores) > 1:
        print(report.store_gaps(runs))
    if args.calibrate:
        print(f"calibrated abstain threshold: {calibrate(main_run['per_question'])}")
    report.write_json(result, settings.eval_report)
    kept = report.archive_json(result, settings.eval_reports_dir, settings.history_kept)
    if args.json:
        report.write_json(result, args.json)
    if args.html:
        report.write_html(result, args.html)
    progress.finish(kept.stem)
    print(f"report: {kept} (shown at /eval)")
    return 0


def _beir_reference_runs(
    args: argparse.Namespace, settings: Settings, embedder: object, data: object
) -> list:
    """The reference rows over a BEIR set's passages, judged by its qrels."""
    from eval.beir import set_dir
    from eval.reference import MODES, PlainIndex, evaluate_windows

    cache = set_dir(settings, args.beir) / "reference"
    plain = PlainIndex(data.corpus, embedder, cache, settings.embed_cache_entries, True)
    ids = sorted(data.queries)[: args.limit] if args.limit else sorted(data.queries)
    queries = [
        (data.queries[q], lambda w, q=q: float(data.qrels[q].get(w.doc_id, 0)), list(data.qrels[q].values()))
        for q in ids
    ]
    return [
        {
            "config": {"name": mode, "store": "—"},
            "metrics": evaluate_windows(plain, queries, mode, 10, by_doc=True),
        }
        for mode in MODES
    ]


def _reference_runs(
    args: argparse.Namespace, settings: Settings, retriever: Retriever, questions: list
) -> list:
    """The reference rows over the indexed documents' text, judged by the questions' evidence."""
    from eval.reference import MODES, PlainIndex, evaluate_windows

    documents = {doc_id: record.text for doc_id, record in retriever.index.documents.items()}
    plain = PlainIndex(
        documents, retriever.embedder, settings.data_dir / "reference", settings.embed_cache_entries, True
    )
    queries = [
        (q.question, lambda w, q=q: float(bool(q.relevant(w.doc_id, w.text))), [1.0] * len(q.answers))
        for q in questions
        if q.answerable
    ]
    return [
        {
            "config": {"name": mode, "retriever": mode},
            "metrics": evaluate_windows(plain, queries, mode, args.k),
        }
        for mode in MODES
    ]


def _fit(args: argparse.Namespace, settings: Settings) -> int:
    import numpy as np

    from answer.compose import Answerer
    from answer.score import write_model
    from eval.fit import fit
    from eval.questions import load_questions
    from index.embedding import load_embedder
    from index.loader import open_retriever

    questions = load_questions(args.questions)
    embedder = load_embedder(settings)
    if args.query_vectors:
        vectors = np.load(args.query_vectors)
        if len(vectors) != len(questions):
            print(f"error: {args.query_vectors} has {len(vectors)} vectors for {len(questions)} questions")
            return 2
        embedder = _KnownQueries(embedder, {q.question: v for q, v in zip(questions, vectors, strict=True)})
    answerer = Answerer(open_retriever(settings, embedder, build_if_missing=False), settings)
    against = None
    if args.against:
        other = replace(settings, data_dir=args.against)
        against = Answerer(open_retriever(other, embedder, build_if_missing=False), other)
    source = f"{args.questions.parent.name}/{args.questions.name}"
    also = None
    if args.also:
        own = replace(settings, data_dir=args.also_data)
        own_answerer = Answerer(open_retriever(own, embedder, build_if_missing=False), own)
        also = (own_answerer, load_questions(args.also), args.also_weight)
        source += f" + {args.also.parent.name}/{args.also.name} (×{args.also_weight:g})"
    model, report = fit(
        answerer,
        questions,
        against=against,
        folds=args.folds,
        budget=args.budget,
        max_false_abstain=args.max_false_abstain,
        cache=args.cache,
        progress=True,
        source=source,
        also=also,
    )
    model = replace(model, about={**model.about, "note": args.note})
    write_model(model, args.out)
    print(json.dumps(report, ensure_ascii=False, indent=2))
    print(f"model: {args.out}")
    return 0


class _KnownQueries:
    """An embedder that answers the questions being fitted from their stored vectors."""

    def __init__(self, embedder: object, vectors: dict) -> None:
        self._embedder = embedder
        self._vectors = vectors

    def encode_query(self, text: str):
        vector = self._vectors.get(text)
        return vector if vector is not None else self._embedder.encode_query(text)

    def __getattr__(self, name: str) -> object:
        return getattr(self._embedder, name)


def _eval_config(
    name: str, mode: str, conf: Settings, retriever: Retriever, args: argparse.Namespace
) -> dict:
    manifest = retriever.index.manifest
    return {
        "name": name,
        "retriever": mode,
        "model": manifest.model,
        "chunking": manifest.chunker,
        "chunks": len(retriever.index),
        "k": args.k,
        "top_k": conf.top_k,
        "mmr_lambda": conf.mmr_lambda,
        "search_weights": {
            "sentence": conf.search_sentence_weight,
            "passage": conf.search_passage_weight,
            "keyword": conf.search_keyword_weight,
        },
        "answer_model": str(conf.answer_model),
        "questions": str(args.questions),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _eval_beir(args: argparse.Namespace, settings: Settings) -> int:
    from eval.beir import evaluate_beir, load_beir
    from eval.report import BEIR_KEYS, archive_json, store_gaps, table, write_json
    from index.embedding import load_embedder

    modes = ("dense", "lexical", "hybrid") if args.compare else (args.retriever,)
    stores = tuple(args.store or [settings.store])
    try:
        data = load_beir(args.beir, subset=args.subset)
        queries = len(data.queries)
    except (OSError, ValueError, KeyError) as exc:
        print(f"error: {args.beir} is not a BEIR dataset ({type(exc).__name__}: {exc})", file=sys.stderr)
        return 2
    total = min(queries, args.limit or queries) * len(modes) * len(stores)
    stage = "嵌入段落，再检索 / embedding the passages, then searching"
    progress = _Progress(args.progress, total, "queries", stage)
    embedder = load_embedder(settings)
    result = evaluate_beir(
        args.beir,
        settings,
        embedder,
        modes,
        args.limit,
        stores=stores,
        on_query=progress.advance,
        subset=args.subset,
    )
    runs = [
        {"config": {"name": label, "store": label.partition("@")[2] or stores[0]}, "metrics": metrics}
        for label, metrics in result["results"].items()
    ]
    if args.reference:
        runs.extend(_beir_reference_runs(args, settings, embedder, data))
    main = next((r for r in runs if r["config"]["name"].startswith("hybrid")), runs[0])
    # The shape of a question run's report (config, metrics, compare, per_question) for /eval.
    result |= {
        "kind": "beir",
        "config": {
            **main["config"],
            "retriever": main["config"]["name"].partition("@")[0],
            "model": embedder.name,
            "questions": str(args.beir),
            "k": 10,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        },
        "metrics": main["metrics"],
        "compare": runs,
    }
    filled = ", ".join(f"{name} filled in {s} s" for name, s in result["store_fill_seconds"].items())
    print(
        f"{result['dataset']}: {result['queries']} queries, {result['passages']} passages, "
        f"{result['chunks']} chunks, indexed in {result['index_seconds']} s; {filled}"
    )
    print(table(runs, BEIR_KEYS))
    if len(stores) > 1:
        print(store_gaps(runs))
    kept = archive_json(result, settings.eval_reports_dir, settings.history_kept)
    if args.json:
        write_json(result, args.json)
    progress.finish(kept.stem)
    print(f"report: {kept} (shown at /eval)")
    return 0


def _bench(args: argparse.Namespace, settings: Settings) -> int:
    from bench import render_markdown, run_bench
    from bench.report import write_json

    result = run_bench(
        settings,
        quick=args.quick,
        parts=tuple(args.parts) if args.parts else None,
        library=args.library,
        library_files=args.library_files,
    )
    tables = render_markdown(result)
    print(tables)
    if args.json:
        write_json(result, args.json)
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(tables, encoding="utf-8")
    return 0


def _mcp(args: argparse.Namespace, settings: Settings) -> int:
    from server.mcp_server import run_stdio

    run_stdio(settings)
    return 0


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from server.app import serve

    serve(settings, host=args.host, port=args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
