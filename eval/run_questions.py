"""Retrieval and answer quality on a question set, through the same path the server uses."""

from __future__ import annotations

import time
from collections.abc import Callable

from tqdm import tqdm

from answer.compose import Answerer
from eval import metrics
from eval.answer_checks import answer_chars, dangling, glued_quotes
from eval.questions import Question

RECALL_CURVE_K = 20


def evaluate(
    answerer: Answerer,
    questions: list[Question],
    mode: str,
    k: int,
    progress: bool = False,
    on_question: Callable[[], None] | None = None,
) -> dict:
    """Metrics and per-question rows for one retriever setting (the keys of the JSON report);
    ``on_question`` is called after each question (a progress file's count)."""
    top_k = answerer.settings.top_k
    depth = max(k, RECALL_CURVE_K)
    rows = []
    for q in tqdm(questions, desc=f"eval {mode}", unit="q", disable=not progress):
        t0 = time.perf_counter()
        result = answerer.retriever.search(q.question, depth, mode)
        answer = answerer.answer(q.question, result.top(top_k))
        latency = (time.perf_counter() - t0) * 1000
        hits = [q.relevant(p.chunk.doc_id, p.chunk.text) for p in result.passages]
        relevant = [bool(h) for h in hits]
        cited_relevant = [
            bool(q.relevant(c.passage.chunk.doc_id, c.passage.chunk.text)) for c in answer.citations
        ]
        rows.append(
            {
                "id": q.id,
                "question": q.question,
                "answerable": q.answerable,
                "first_relevant_rank": metrics.first_relevant_rank(relevant) if q.answerable else None,
                "abstained": answer.abstained,
                "confidence": round(answer.confidence, 3),
                "answer": answer.text,
                "answer_has_evidence": q.answerable and q.answered_by(answer.text),
                "first_block_has_evidence": bool(
                    q.answerable and answer.blocks and q.answered_by(answer.blocks[0].text)
                ),
                "answer_chars": answer_chars(answer),
                "glued": glued_quotes(answer),
                "dangling": dangling(answer),
                "cited_docs": [c.passage.chunk.doc_id for c in answer.citations],
                "cited_relevant": cited_relevant,
                "retrieved": [f"{p.chunk.doc_id} · {p.chunk.section}" for p in result.passages[:k]],
                "recall_curve": [
                    metrics.recall_at_k(hits, len(q.answers), n) for n in range(1, RECALL_CURVE_K + 1)
                ],
                "hit": {n: metrics.hit_at_k(relevant, n) for n in (1, 3, 5, k)},
                "mrr": metrics.mrr_at_k(relevant, k),
                "ndcg": metrics.ndcg_at_k(relevant, k, len(q.answers)),
                "recall": metrics.recall_at_k(hits, len(q.answers), k),
                "latency_ms": round(latency, 2),
                "evidence": dict(answer.evidence),
            }
        )
        if on_question is not None:
            on_question()
    return {"metrics": summarize(rows, k), "per_question": rows}


def summarize(rows: list[dict], k: int) -> dict:
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    cited = [ok for r in answerable if not r["abstained"] for ok in r["cited_relevant"]]
    latencies = [r["latency_ms"] for r in rows]
    out = {f"hit@{n}": metrics.mean(r["hit"][n] for r in answerable) for n in (1, 3, 5, k)}
    out |= {
        f"mrr@{k}": metrics.mean(r["mrr"] for r in answerable),
        f"ndcg@{k}": metrics.mean(r["ndcg"] for r in answerable),
        f"recall@{k}": metrics.mean(r["recall"] for r in answerable),
        "answer_evidence_rate": metrics.mean(float(r["answer_has_evidence"]) for r in answerable),
        "first_block_evidence_rate": metrics.mean(float(r["first_block_has_evidence"]) for r in answerable),
        "citation_precision": metrics.mean(float(ok) for ok in cited),
        "median_answer_chars": metrics.percentile(
            [r["answer_chars"] for r in rows if not r["abstained"]] or [0], 50
        ),
        "glued": sum(r["glued"] for r in rows),
        "dangling": sum(r["dangling"] for r in rows),
        "abstain_recall": metrics.mean(float(r["abstained"]) for r in unanswerable),
        "false_abstain_rate": metrics.mean(float(r["abstained"]) for r in answerable),
        "latency_p50_ms": metrics.percentile(latencies, 50) if latencies else 0.0,
        "latency_p95_ms": metrics.percentile(latencies, 95) if latencies else 0.0,
    }
    out["recall_curve"] = [
        metrics.mean(r["recall_curve"][i] for r in answerable) for i in range(RECALL_CURVE_K)
    ]
    return {key: round(v, 4) if isinstance(v, float) else v for key, v in out.items()}


def calibrate(rows: list[dict]) -> dict:
    """The abstain threshold that best separates answerable from unanswerable questions
    (balanced accuracy over the questions' confidences)."""
    pos = [r["confidence"] for r in rows if r["answerable"]]
    neg = [r["confidence"] for r in rows if not r["answerable"]]
    best = (0.0, 0.0)
    for t in sorted(set(pos + neg)):
        score = (metrics.mean(c < t for c in neg) + metrics.mean(c >= t for c in pos)) / 2
        if score > best[0]:
            best = (score, t)
    # Halfway to the next lower confidence leaves a margin on both sides of the cut.
    below = [c for c in pos + neg if c < best[1]]
    threshold = (best[1] + max(below)) / 2 if below else best[1]
    return {"threshold": round(threshold, 4), "balanced_accuracy": round(best[0], 4)}
