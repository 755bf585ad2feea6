"""The evaluation report: a terminal table, the JSON file and an HTML page people can read."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape

TABLE_KEYS = (
    "hit@1", "hit@3", "hit@5", "hit@10", "mrr@10", "ndcg@10", "recall@10", "answer_evidence_rate",
    "first_block_evidence_rate", "citation_precision", "median_answer_chars", "glued", "dangling",
    "abstain_recall", "false_abstain_rate", "latency_p50_ms", "latency_p95_ms",
)  # fmt: skip
BEIR_KEYS = ("hit@1", "hit@5", "mrr@10", "ndcg@10", "recall@10", "recall@100")
_COLOURS = ("#0b6bcb", "#d9480f", "#2b8a3e", "#7048e8", "#c2255c")

_env = Environment(loader=PackageLoader("eval", "templates"), autoescape=select_autoescape(["html"]))


def table(runs: list[dict], keys: tuple[str, ...] = TABLE_KEYS) -> str:
    """Runs side by side, one metric a row (fits a terminal even with several settings)."""
    names = [run["config"]["name"] for run in runs]
    width = max(len(k) for k in keys) + 2
    cols = [max(10, len(n) + 2) for n in names]
    lines = ["metric".ljust(width) + "".join(n.rjust(c) for n, c in zip(names, cols, strict=True))]
    for key in keys:
        cells = [_fmt(run["metrics"].get(key)).rjust(c) for run, c in zip(runs, cols, strict=True)]
        lines.append(key.ljust(width) + "".join(cells))
    return "\n".join(lines)


# Quality metrics that must agree between stores (answer length and latency may differ).
PARITY_KEYS = tuple(
    k for k in dict.fromkeys((*TABLE_KEYS, *BEIR_KEYS)) if not k.startswith(("latency", "median"))
)
PARITY_TOLERANCE = 0.01


def store_gaps(runs: list[dict]) -> str:
    """For each retriever setting, the largest gap between a store's quality metrics and the
    first store's, and whether it stays within ±0.01 (issue 14's parity bar)."""
    by_setting: dict[str, list[dict]] = {}
    for run in runs:
        by_setting.setdefault(run["config"]["name"].split("@")[0], []).append(run)
    lines = []
    for setting, group in by_setting.items():
        base = group[0]
        for other in group[1:]:
            gaps = {
                k: abs(other["metrics"][k] - base["metrics"][k])
                for k in PARITY_KEYS
                if base["metrics"].get(k) is not None and other["metrics"].get(k) is not None
            }
            worst = max(gaps, key=gaps.get, default=None)
            verdict = "within" if worst is None or gaps[worst] <= PARITY_TOLERANCE else "OUTSIDE"
            detail = f"largest gap {gaps[worst]:.3f} ({worst})" if worst else "no shared metrics"
            lines.append(
                f"{setting}: {other['config']['store']} vs {base['config']['store']}: {detail}, "
                f"{verdict} ±{PARITY_TOLERANCE}"
            )
    return "\n".join(lines)


def write_json(report: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    tmp.replace(path)


def archive_json(report: dict, folder: Path, keep: int) -> Path:
    """Keep ``report`` among the earlier ones (the /eval page lists them): a file named by the
    time it was written, so names sort by age; only the newest ``keep`` stay."""
    folder.mkdir(parents=True, exist_ok=True)
    when = datetime.now(UTC)
    kept = sorted(p.stem for p in folder.glob("*.json") if _STAMP.fullmatch(p.stem))
    if kept and _stamp(when) <= kept[-1]:  # two runs within a millisecond, or a clock set back
        when = datetime.strptime(kept[-1], "%Y%m%d-%H%M%S-%f").replace(tzinfo=UTC) + timedelta(milliseconds=1)
    path = folder / f"{_stamp(when)}.json"
    write_json(report, path)
    for old in sorted(folder.glob("*.json"), reverse=True)[keep:]:
        old.unlink(missing_ok=True)
    return path


_STAMP = re.compile(r"\d{8}-\d{6}-\d{3}")


def _stamp(when: datetime) -> str:
    return f"{when:%Y%m%d-%H%M%S}-{when.microsecond // 1000:03d}"


def html_fragment(report: dict) -> str:
    """The report body of the standalone page."""
    runs = report.get("compare") or [report]
    rows = sorted(report["per_question"], key=_failure_order)
    return _env.get_template("report.html").render(
        report=report, runs=runs, keys=TABLE_KEYS, rows=rows, chart=_chart(runs), fmt=_fmt
    )


def html_page(report: dict) -> str:
    """A standalone page for ``--html OUT`` (its own styles: it is opened from disk)."""
    return _env.get_template("page.html").render(body=html_fragment(report))


def write_html(report: dict, path: Path) -> None:
    """A standalone page (``yibao eval --html OUT``); the server's /eval page reads the JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html_page(report), encoding="utf-8")


def _failure_order(row: dict) -> tuple:
    # Failures first: answerable but not found (or abstained), then unanswerable that answered.
    rank = row["first_relevant_rank"]
    if row["answerable"]:
        failed = rank is None or row["abstained"] or not row["answer_has_evidence"]
        return (0 if failed else 2, -(rank or 99))
    return (1 if not row["abstained"] else 3, 0)


def _chart(runs: list[dict], width: int = 560, height: int = 260, pad: int = 36) -> dict:
    """Polyline points for recall@k, k = 1…20, one line per run (drawn as inline SVG)."""
    lines = []
    for i, run in enumerate(runs):
        curve = run["metrics"].get("recall_curve", [])
        n = max(len(curve) - 1, 1)
        points = " ".join(
            f"{pad + (width - 2 * pad) * j / n:.1f},{height - pad - (height - 2 * pad) * v:.1f}"
            for j, v in enumerate(curve)
        )
        lines.append({"name": run["config"]["name"], "points": points, "colour": _COLOURS[i % len(_COLOURS)]})
    ticks = [{"y": height - pad - (height - 2 * pad) * t / 4, "label": f"{t / 4:.2f}"} for t in range(5)]
    return {"width": width, "height": height, "pad": pad, "lines": lines, "ticks": ticks}


def _fmt(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.1f}" if abs(value) >= 10 else f"{value:.3f}"
    return str(value)
