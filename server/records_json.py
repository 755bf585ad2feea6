"""The JSON shapes the server's faces share: /api/search, the admin API, the MCP tools."""

from __future__ import annotations

from answer.records import Citation
from index.documents import IndexedDocument
from index.retriever import Passage, SearchResult
from index.store import StoredIndex


def passage_json(p: Passage) -> dict:
    """A ranked passage: a citation's fields (where it is: document, section, offsets, page; its
    text, score and why it was found) and its rank in each retriever."""
    return {
        "rank": p.rank,
        **{k: v for k, v in Citation(0, p).to_dict().items() if k != "n"},
        "sentence_rank": p.sentence_rank,
        "sentence_score": _rounded(p.sentence_score),
        "dense_rank": p.dense_rank,
        "dense_score": _rounded(p.dense_score),
        "lexical_rank": p.lexical_rank,
        "lexical_score": _rounded(p.lexical_score),
        "matched_terms": list(p.matched_terms),
        "synonyms": [list(pair) for pair in p.synonyms],
    }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def search_json(result: SearchResult) -> dict:
    return {
        "query": result.query,
        "searched": result.searched or result.query,
        "synonyms": [list(pair) for pair in result.synonyms],
        "retriever": result.mode,
        "passages": [passage_json(p) for p in result.passages],
        "timings_ms": {k: round(v, 2) for k, v in result.timings_ms.items()},
    }


def documents_json(index: StoredIndex) -> list[dict]:
    """Every indexed document, by id."""
    return [document_json(d) for d in sorted(index.documents.values(), key=lambda d: d.doc_id)]


def document_json(d: IndexedDocument) -> dict:
    """What the index knows of a document, without its text."""
    return {
        "doc": d.doc_id,
        "title": d.title,
        "kind": d.kind,
        "encoding": d.encoding,
        "size": d.size,
        "chunks": d.chunks,
        "pages": d.page_count,
        "chars": len(d.text),
        "date": d.date,
        "region": d.region,
        "ingested_at": d.ingested_at,
        "warnings": list(d.warnings),
    }
