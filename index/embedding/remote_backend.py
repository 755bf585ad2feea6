"""The remote backend: an embedding engine speaking the OpenAI-compatible ``/embeddings`` protocol.

Infinity, Hugging Face Text Embeddings Inference, vLLM and Ollama all serve it; run on GPUs and
replicated behind a load balancer they embed a library in minutes (README, "When one machine is
not enough"). The engine only runs the model: the e5 prompts ("query: ", "passage: ") are put
before each text here, and vectors are normalized here, so that they match the local backends
(tests/index/embedding/test_remote_backend.py). Requests go out ``YIBAO_EMBED_CONCURRENCY`` at
a time, ``YIBAO_BATCH_SIZE`` texts each (the engine batches them further); the official
``openai`` client gives the timeouts and the retries with exponential backoff. An engine still
down after its retries is an ``EngineUnavailable``: an ingest stops there, and the embedding
cache keeps every window embedded before (index/embed_plan.py).
"""

from __future__ import annotations

import base64
import logging
from typing import Any

import numpy as np

from index.embedding.base import Embedder
from index.embedding.e5_model import ModelUnavailable
from index.embedding.fingerprint import remote_fingerprint
from settings import Settings

# httpx logs every request at INFO: thousands a library. The client's retries stay in the log.
logging.getLogger("httpx").setLevel(logging.WARNING)


class EngineUnavailable(ModelUnavailable):
    """The embedding engine did not answer (down, unreachable, overloaded or timing out)."""


class RemoteEmbedder(Embedder):
    def __init__(self, client: Any, settings: Settings) -> None:
        self._client = client
        self._url = settings.embed_url
        self._retries = settings.embed_retries
        self._concurrency = max(1, settings.embed_concurrency)
        prompts = {"query": settings.embed_query_prompt, "passage": settings.embed_passage_prompt}
        self._prompts = prompts
        super().__init__(
            settings.embed_model,
            remote_fingerprint(settings.embed_model, prompts),
            prompts,
            settings.batch_size,
            settings.query_cache_size,
            # The engine pads and batches by its own tokenizer: requests are capped by texts alone.
            batch_tokens=1 << 30,
            passes=self._concurrency,
        )

    @classmethod
    def open(cls, settings: Settings) -> RemoteEmbedder:
        if not settings.embed_url or not settings.embed_model:
            raise ModelUnavailable(
                "YIBAO_BACKEND=remote needs YIBAO_EMBED_URL (e.g. http://127.0.0.1:7997) and "
                "YIBAO_EMBED_MODEL (the name the engine serves the model under)"
            )
        try:
            import openai
        except ImportError:
            raise ModelUnavailable(
                "YIBAO_BACKEND=remote needs the openai client: pip install -e '.[remote]'"
            ) from None
        client = openai.OpenAI(
            base_url=settings.embed_url,
            api_key=settings.embed_api_key or "unused",
            timeout=settings.embed_timeout,
            max_retries=settings.embed_retries,
        )
        return cls(client, settings)

    def forward(self, texts: list[str], prompt_name: str | None) -> np.ndarray:
        prefix = self._prompts.get(prompt_name, "") if prompt_name else ""
        parts = [
            self._request([prefix + text for text in texts[start : start + self._batch_size]])
            for start in range(0, len(texts), self._batch_size)
        ]
        vectors = np.concatenate(parts) if parts else np.empty((0, 0), dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)

    def token_counts(self, texts: list[str], prompt_name: str | None) -> list[int]:
        # The engine's tokenizer is not here; characters only order the texts by length, so that
        # each request holds texts of similar length and the engine pads little.
        prefix = self._prompts.get(prompt_name, "") if prompt_name else ""
        return [len(prefix) + len(text) for text in texts]

    def with_threads(self, threads: int) -> RemoteEmbedder:
        return self  # the engine's threads are its own

    def with_parallel_batches(self, batches: int) -> Embedder:
        # Requests in flight are the engine's to absorb, not this machine's cores.
        return super().with_parallel_batches(self._concurrency)

    def _request(self, texts: list[str]) -> np.ndarray:
        import openai

        try:
            response = self._client.embeddings.create(model=self.name, input=texts, encoding_format="base64")
        except (openai.APIConnectionError, openai.InternalServerError, openai.RateLimitError) as exc:
            raise EngineUnavailable(
                f"the embedding engine at {self._url} did not answer after {self._retries} retries "
                f"({type(exc).__name__}: {exc})"
            ) from None
        except openai.APIStatusError as exc:
            raise ModelUnavailable(
                f"the embedding engine at {self._url} refused the request ({exc.status_code}: "
                f"{exc.message}); does it serve YIBAO_EMBED_MODEL={self.name!r}?"
            ) from None
        rows = sorted(response.data, key=lambda item: item.index)
        if len(rows) != len(texts):
            raise EngineUnavailable(
                f"the embedding engine at {self._url} returned {len(rows)} vectors for {len(texts)} texts"
            )
        return np.stack([_vector(row.embedding) for row in rows])


def _vector(embedding: str | list[float]) -> np.ndarray:
    """One embedding as float32: base64 of little-endian floats as asked, or a JSON list from an
    engine that ignores ``encoding_format``."""
    if isinstance(embedding, str):
        return np.frombuffer(base64.b64decode(embedding), dtype="<f4").astype(np.float32)
    return np.asarray(embedding, dtype=np.float32)
