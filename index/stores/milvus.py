"""Chunks searched in Milvus: dense vectors, BM25 over jieba terms, scalar filters.

One collection per index (``YIBAO_MILVUS_COLLECTION``) at ``YIBAO_MILVUS_URI``: a file is an
embedded milvus-lite database (one process, for trying it out; not the path to scale), an
``http://host:19530`` URI a Milvus server that several ``yibao serve`` replicas share. The
collection records the model, fingerprint, dimension and chunker it was built with (a collection
property) and the file hash of every row's document, so that an ingest replaces only the changed
documents' rows and a server refuses a collection built with another model.

The text Milvus's BM25 analyses is the chunk's section and text folded to simplified and cut by
jieba in Python (ingest/textnorm.tokenize: our domain words, search mode, stopwords), each term
written as a short ASCII code, so that Milvus's standard analyzer keeps every term whole and both
stores score exactly the same terms; ``display`` keeps the readable text. Milvus's own jieba
analyzer over the folded text (its dictionary, without our words and stopwords) was measured
first: hit@5 0.018 and hybrid hit@1 0.027 away from the local store on eval/questions.jsonl,
outside the ±0.01 the stores must agree to. (milvus-lite offers no whitespace analyzer.)

milvus-lite scores BM25 with each segment's own statistics (a TODO in its engine; Milvus documents
corpus-wide ones): a collection filled at once is one segment and ranks like the local store, but
the rows of later incremental updates are segments of their own whose lexical scores drift from
it until `yibao ingest --store milvus --rebuild`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from pymilvus import DataType, Function, FunctionType, MilvusClient, MilvusException

from index import dense
from index.lexical import BM25, LexicalHit
from index.store import IndexMismatch, IndexMissing, StoredIndex
from index.stores.base import ChunkStore, StoreUnavailable
from settings import Settings

RECORD = "yibao.manifest"
INSERT_BATCH = 500
# Milvus counts VARCHAR lengths in bytes: 65,535 is its largest, room for any chunk.
TEXT_BYTES = 65_535
ANALYZER = {"tokenizer": "standard"}


@contextlib.contextmanager
def _reachable(settings: Settings) -> Iterator[None]:
    """Any Milvus failure becomes one line naming the URI."""
    try:
        yield
    except MilvusException as exc:
        raise StoreUnavailable(
            f"Milvus at {settings.milvus_target} failed: {exc.message}. Check YIBAO_MILVUS_URI "
            "(a milvus-lite file or a running server's http://host:19530) and YIBAO_MILVUS_TOKEN."
        ) from None


def connect(settings: Settings) -> MilvusClient:
    uri = settings.milvus_target
    if "://" not in uri:
        Path(uri).parent.mkdir(parents=True, exist_ok=True)
    with _reachable(settings):
        return MilvusClient(uri=uri, token=settings.milvus_token)


def _record(index: StoredIndex) -> dict:
    m = index.manifest
    return {
        "model": m.model,
        "fingerprint": m.model_fingerprint,
        "dim": m.dim,
        "chunker": m.chunker,
        "kind": dense.choose_kind(len(index)),
    }


def _recorded(client: MilvusClient, name: str) -> dict | None:
    if not client.has_collection(name):
        return None
    raw = client.describe_collection(name).get("properties", {}).get(RECORD)
    return json.loads(raw) if raw else {}


class MilvusStore(ChunkStore):
    name = "milvus"

    def __init__(self, index: StoredIndex, settings: Settings) -> None:
        super().__init__(index)
        self.settings = settings
        self.collection = settings.milvus_collection
        self._client = connect(settings)
        with _reachable(settings):
            recorded = _recorded(self._client, self.collection)
            if recorded is None:
                raise IndexMissing(
                    f"no Milvus collection {self.collection!r} at {settings.milvus_target}: "
                    "run `yibao ingest --store milvus` to fill it"
                )
            want = _record(index)
            if (recorded.get("model"), recorded.get("fingerprint"), recorded.get("dim")) != (
                want["model"],
                want["fingerprint"],
                want["dim"],
            ):
                raise IndexMismatch(
                    f"Milvus collection {self.collection!r} was built with model {recorded.get('model')!r} "
                    f"(fingerprint {recorded.get('fingerprint')}), the index with {want['model']!r} "
                    f"(fingerprint {want['fingerprint']}). "
                    "Rebuild it with `yibao ingest --store milvus --rebuild`."
                )
            self._client.load_collection(self.collection)
        self._rows = {chunk.id: row for row, chunk in enumerate(index.chunks)}
        self._ef = dense.hnsw_ef_search(len(index))

    def dense(self, vector: np.ndarray, k: int, region: str | None = None) -> list[tuple[int, float]]:
        params = {"metric_type": "IP", "params": {"ef": max(self._ef, k)}}
        hits = self._search([np.asarray(vector, dtype=np.float32).tolist()], "dense", k, region, params)
        return [(row, score) for row, score in hits]

    def lexical(self, terms: list[str], k: int, region: str | None = None) -> list[LexicalHit]:
        if not terms:
            return []
        hits = self._search([_coded(terms)], "sparse", k, region, {"metric_type": "BM25"})
        # milvus-lite reports BM25 as a negative distance, a server as a positive score.
        return [LexicalHit(row, abs(score), self._matched(row, terms)) for row, score in hits]

    def _search(
        self, data: list, field: str, k: int, region: str | None, params: dict
    ) -> list[tuple[int, float]]:
        with _reachable(self.settings):
            result = self._client.search(
                self.collection,
                data=data,
                anns_field=field,
                limit=k,
                filter=_region_filter(region),
                output_fields=["id"],
                search_params=params,
            )
        # A row this process's index does not know (an ingest is switching versions) is skipped.
        return [
            (self._rows[hit["id"]], float(hit["distance"])) for hit in result[0] if hit["id"] in self._rows
        ]

    def _matched(self, row: int, terms: list[str]) -> tuple[str, ...]:
        have = set(self.index.tokens[row])
        return tuple(t for t in dict.fromkeys(terms) if t in have)


def _coded(terms: list[str]) -> str:
    """Terms as space-separated ASCII words that the standard analyzer neither splits nor merges
    (64-bit codes: a collision among a corpus's terms is vanishingly unlikely)."""
    return " ".join("t" + hashlib.blake2b(t.encode(), digest_size=8).hexdigest() for t in terms)


def _region_filter(region: str | None) -> str:
    """The retriever's region test (``_about``) as a Milvus expression; "" for no filter.

    A region with LIKE wildcards is not pushed down: the retriever filters its candidates anyway."""
    if not region or any(ch in region for ch in "%_"):
        return ""
    return f"region == {_literal(region)} or section like {_literal('%' + region + '%')}"


def _literal(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def sync(settings: Settings, index: StoredIndex, *, rebuild: bool = False) -> None:
    """Bring the collection in line with ``index``: rows of new or changed documents (by file hash)
    replaced, deleted documents' rows removed; a collection built with another model, chunker or
    index kind (or ``rebuild``) is created afresh. Running it twice changes nothing."""
    client = connect(settings)
    name = settings.milvus_collection
    record = _record(index)
    with _reachable(settings):
        recorded = _recorded(client, name)
        if recorded is not None and (rebuild or recorded != record):
            client.drop_collection(name)
            recorded = None
        if recorded is None:
            _create(client, name, index.manifest.dim, record["kind"])
        client.load_collection(name)
        present = _document_hashes(client, name)
        files = index.manifest.files
        for doc_id in sorted(set(present) - set(files)):
            _delete_document(client, name, doc_id)
        by_doc: dict[str, list[int]] = defaultdict(list)
        for row, chunk in enumerate(index.chunks):
            by_doc[chunk.doc_id].append(row)
        for doc_id, sha in sorted(files.items()):
            if present.get(doc_id) != sha:
                if doc_id in present:
                    _delete_document(client, name, doc_id)
                _insert_document(client, name, index, sha, by_doc.get(doc_id, []))
        client.alter_collection_properties(name, properties={RECORD: json.dumps(record)})
        # Rows still in the write buffer are searched row by row (milvus-lite keeps up to 128 MB
        # there); flushed, they are searched through the collection's indexes.
        client.flush(name)


def _create(client: MilvusClient, name: str, dim: int, kind: str) -> None:
    schema = client.create_schema(auto_id=False)
    schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=64)
    schema.add_field("doc_id", DataType.VARCHAR, max_length=4096)
    schema.add_field("sha", DataType.VARCHAR, max_length=64)
    schema.add_field("section", DataType.VARCHAR, max_length=TEXT_BYTES)
    schema.add_field("start", DataType.INT64)
    schema.add_field("end", DataType.INT64)
    schema.add_field("date", DataType.VARCHAR, max_length=64)
    schema.add_field("region", DataType.VARCHAR, max_length=256)
    schema.add_field(
        "text", DataType.VARCHAR, max_length=TEXT_BYTES, enable_analyzer=True, analyzer_params=ANALYZER
    )
    schema.add_field("display", DataType.VARCHAR, max_length=TEXT_BYTES)
    schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_field("dense", DataType.FLOAT_VECTOR, dim=dim)
    schema.add_function(
        Function(
            name="text_bm25",
            function_type=FunctionType.BM25,
            input_field_names=["text"],
            output_field_names=["sparse"],
        )
    )
    indexes = client.prepare_index_params()
    if kind == "flat":
        indexes.add_index("dense", index_type="FLAT", metric_type="IP")
    else:
        params = {"M": dense.HNSW_M, "efConstruction": dense.HNSW_EF_CONSTRUCTION}
        indexes.add_index("dense", index_type="HNSW", metric_type="IP", params=params)
    # The local BM25's k1 and b (Milvus defaults to k1 = 1.2), so that both stores rank alike.
    local = BM25()
    bm25 = {"bm25_k1": local.k1, "bm25_b": local.b}
    indexes.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25", params=bm25)
    client.create_collection(name, schema=schema, index_params=indexes)


def _document_hashes(client: MilvusClient, name: str) -> dict[str, str]:
    """The file hash of every document with rows in the collection."""
    hashes: dict[str, str] = {}
    iterator = client.query_iterator(name, batch_size=1000, filter="", output_fields=["doc_id", "sha"])
    try:
        while batch := iterator.next():
            hashes.update((r["doc_id"], r["sha"]) for r in batch)
    finally:
        iterator.close()
    return hashes


def _delete_document(client: MilvusClient, name: str, doc_id: str) -> None:
    client.delete(name, filter=f"doc_id == {_literal(doc_id)}")


def _insert_document(client: MilvusClient, name: str, index: StoredIndex, sha: str, rows: list[int]) -> None:
    records = [_row(index, row, sha) for row in rows]
    for start in range(0, len(records), INSERT_BATCH):
        client.insert(name, records[start : start + INSERT_BATCH])


def _row(index: StoredIndex, row: int, sha: str) -> dict:
    chunk = index.chunks[row]
    return {
        "id": chunk.id,
        "doc_id": chunk.doc_id,
        "sha": sha,
        "section": chunk.section,
        "start": chunk.start,
        "end": chunk.end,
        "date": chunk.date or "",
        "region": chunk.region or "",
        "text": _coded(index.tokens[row]),
        "display": chunk.text,
        "dense": np.asarray(index.vectors[row], dtype=np.float32).tolist(),
    }
