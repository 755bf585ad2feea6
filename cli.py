"""The `yibao` command: ingest, search, ask, serve, eval, bench.

The command line sits on top of the pipeline and is the one place that wires all packages.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable

from settings import Settings

log = logging.getLogger("yibao")


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = Settings.from_env()
    except ValueError as exc:
        parser.error(str(exc))
    from index.store import IndexStoreError

    try:
        return args.run(args, settings)
    except IndexStoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="yibao", description="医保问答: cited answers from the corpus")
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    def command(name: str, run: Callable, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(run=run)
        return p

    p = command("ingest", _ingest, "build or update the index from the corpus dir")
    p.add_argument("--rebuild", action="store_true", help="re-embed everything from scratch")

    p = command("search", _search, "print the ranked passages for a question")
    p.add_argument("question")
    p.add_argument("-k", type=int, default=None, help="how many passages (default YIBAO_TOP_K)")
    p.add_argument("--retriever", choices=("hybrid", "dense", "lexical"), default="hybrid")

    p = command("ask", _ask, "answer a question with cited sentences")
    p.add_argument("question")
    p.add_argument("-k", type=int, default=None, help="how many passages to draw from")
    p.add_argument("--json", action="store_true", help="print the API's JSON")

    p = command("serve", _serve, "serve the web pages and the API (builds the index first if missing)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    return parser


def _retriever(settings: Settings):
    from index.embedder import Embedder
    from index.loader import open_retriever

    return open_retriever(settings, Embedder.load(settings))


def _ingest(args: argparse.Namespace, settings: Settings) -> int:
    from index.build import build_index
    from index.embedder import Embedder

    report = build_index(settings, Embedder.load(settings), rebuild=args.rebuild, progress=True)
    print(report.summary())
    return 0


def _search(args: argparse.Namespace, settings: Settings) -> int:
    result = _retriever(settings).search(args.question, args.k, args.retriever)
    if not result.passages:
        print("没有找到相关段落 (no passages matched)")
    for p in result.passages:
        c = p.chunk
        snippet = " ".join(c.text.split())[:120]
        print(f"{p.rank}. [{p.score:.3f}] {c.doc_id} · {c.section}")
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
        meta = "，".join(x for x in (chunk.region, chunk.date) if x)
        print(f"[{c.n}] {chunk.doc_id} · {chunk.section}" + (f" ({meta})" if meta else ""))
    print(answer.disclaimer)
    return 0


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from server.app import serve

    serve(settings, host=args.host, port=args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
