"""The JSON API as a client sees it: answers with real citations, and 4xx (never 500) for bad input."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from functools import cache

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from ingest.textnorm import is_traditional
from settings import ROOT, Settings

MAX_QUESTION = Settings().max_question_chars

ANSWER_KEYS = {"question", "answer", "abstained", "disclaimer", "citations", "timings_ms"}
# Beyond the documented keys the answer also reports its confidence, the quoted sentences, the
# passages it does not quote and the English line for a question in another language.
ANSWER_EXTRAS = {"confidence", "sentences", "blocks", "related", "note", "searched", "synonyms"}
CITATION_KEYS = {
    *("n", "doc", "title", "section", "date", "region", "start", "end", "page", "ocr", "text", "score")
}
CITATION_EXTRAS = {"why"}
ANSWERABLE = (
    "医保卡余额怎么查",
    "在厦门交的医保去其他城市能用吗",
    "家庭共济可以给哪些亲属用",
    "医保卡里的钱能取现吗",
)


@cache
def doc_text(doc_id: str) -> str:
    return (ROOT / "corpus" / doc_id).read_bytes().decode("utf-8-sig")


def bilingual(message: str) -> bool:
    """A message a Chinese and an English reader can both understand."""
    return bool(re.search(r"[\u4e00-\u9fff]", message)) and bool(re.search(r"[A-Za-z]{3,}", message))


_cache: dict[tuple[str, int | None], dict] = {}


def ask(client, question: str, top_k: int | None = None) -> dict:
    key = (question, top_k)
    if key not in _cache:
        body = {"question": question} if top_k is None else {"question": question, "top_k": top_k}
        response = client.post("/api/ask", json=body)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/json")
        _cache[key] = response.json()
    return _cache[key]


@pytest.mark.parametrize("question", ANSWERABLE)
def test_ask_answers_with_citations_and_the_disclaimer(client, question):
    data = ask(client, question)
    assert data["question"] == question
    assert data["abstained"] is False
    assert data["answer"].strip() and "资料中未找到" not in data["answer"]
    assert "仅供参考" in data["disclaimer"]
    assert data["citations"]
    for c in data["citations"]:
        assert f"[{c['n']}]" in data["answer"]


def test_ask_json_has_exactly_the_documented_shape(client):
    data = ask(client, "医保卡余额怎么查")
    assert set(data) == ANSWER_KEYS | ANSWER_EXTRAS
    assert isinstance(data["question"], str) and isinstance(data["answer"], str)
    assert isinstance(data["abstained"], bool) and isinstance(data["disclaimer"], str)
    assert isinstance(data["timings_ms"], dict) and data["timings_ms"]
    assert all(isinstance(v, int | float) and v >= 0 for v in data["timings_ms"].values())
    assert [c["n"] for c in data["citations"]] == list(range(1, len(data["citations"]) + 1))
    for c in data["citations"]:
        assert set(c) == CITATION_KEYS | CITATION_EXTRAS
        assert isinstance(c["n"], int) and isinstance(c["score"], float)
        assert isinstance(c["start"], int) and isinstance(c["end"], int) and c["start"] < c["end"]
        assert all(isinstance(c[k], str) and c[k] for k in ("doc", "title", "section", "text"))
        assert all(c[k] is None or isinstance(c[k], str) for k in ("date", "region"))


@pytest.mark.parametrize("question", ANSWERABLE)
def test_citation_spans_are_real_and_quoted_sentences_lie_inside_them(client, question):
    data = ask(client, question)
    by_n = {c["n"]: c for c in data["citations"]}
    for c in data["citations"]:
        assert doc_text(c["doc"])[c["start"] : c["end"]] == c["text"]
    for s in data["sentences"]:
        c = by_n[s["n"]]
        assert s["doc"] == c["doc"] and c["start"] <= s["start"] < s["end"] <= c["end"]
        assert doc_text(s["doc"])[s["start"] : s["end"]] == s["source"]
        assert s["text"] in data["answer"]


def test_xiamen_answer_names_the_city_and_date_of_its_source(client):
    data = ask(client, "在厦门交的医保去其他城市能用吗")
    first = data["citations"][0]
    assert first["doc"].startswith("000_") and first["region"] == "厦门" and first["date"]
    assert "厦门" in data["answer"] and first["date"] in data["answer"]


def test_traditional_question_gets_a_traditional_answer(client):
    data = ask(client, "醫保卡餘額能不能提現")
    assert data["abstained"] is False and data["citations"]
    assert is_traditional(data["answer"]), data["answer"]
    assert "仅供参考" in data["disclaimer"]


@pytest.mark.parametrize("question", ["明天北京会下雨吗", "红烧肉怎么做"])
def test_out_of_domain_questions_abstain_with_the_disclaimer(client, question):
    data = ask(client, question)
    assert data["abstained"] is True, (data["confidence"], data["answer"])
    assert "资料中未找到相关内容" in data["answer"]
    assert data["citations"] == []
    assert "仅供参考" in data["disclaimer"]


@pytest.mark.parametrize(("question", "k"), [("医保卡里的钱能取现吗", 5), ("家庭共济可以给哪些亲属用", 3)])
def test_search_returns_the_passages_the_answer_was_built_from(client, question, k):
    response = client.get("/api/search", params={"q": question, "k": k})
    assert response.status_code == 200, response.text
    passages = response.json()["passages"]
    assert 1 <= len(passages) <= k
    assert [p["rank"] for p in passages] == list(range(1, len(passages) + 1))
    for p in passages:
        assert doc_text(p["doc"])[p["start"] : p["end"]] == p["text"]
        assert p["dense_rank"] is not None or p["lexical_rank"] is not None
    searched = {(p["doc"], p["start"]): p["end"] for p in passages}
    cited = ask(client, question, k)["citations"]
    assert cited
    for c in cited:
        # A searched passage, widened at most to the end of a list the answer quotes from it.
        assert searched.get((c["doc"], c["start"]), c["end"] + 1) <= c["end"]


def test_search_ranks_the_matching_document_first(client):
    passages = client.get("/api/search", params={"q": "在厦门交的医保去其他城市能用吗"}).json()["passages"]
    assert passages[0]["doc"].startswith("000_") and "厦门" in passages[0]["text"]
    assert passages[0]["score"] >= max(p["score"] for p in passages[1:])


def test_search_k_and_retriever_are_honoured(client):
    one = client.get("/api/search", params={"q": "医保卡余额怎么查", "k": 1}).json()
    assert len(one["passages"]) == 1
    lexical = client.get("/api/search", params={"q": "医保卡余额怎么查", "retriever": "lexical"}).json()
    assert lexical["retriever"] == "lexical"
    assert all(p["dense_rank"] is None and p["lexical_rank"] for p in lexical["passages"])


def test_healthz_reports_the_loaded_index(client, engine):
    response = client.get("/healthz")
    assert response.status_code == 200
    data = response.json()
    assert data["index_loaded"] is True
    assert data["chunks"] == len(engine.answerer.retriever.index) > 0
    assert isinstance(data["model"], str) and data["model"]


def test_openapi_docs_respond(client):
    docs = client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    spec = client.get("/openapi.json")
    assert spec.status_code == 200
    paths = spec.json()["paths"]
    assert {"/api/ask", "/api/search", "/healthz"} <= set(paths)
    assert "requestBody" in paths["/api/ask"]["post"]


LONG = "医" * (MAX_QUESTION + 1)
BAD_BODIES = {
    "empty question": {"question": ""},
    "whitespace question": {"question": "   "},
    "over the length limit": {"question": LONG},
    "top_k 0": {"question": "医保卡余额怎么查", "top_k": 0},
    "top_k 51": {"question": "医保卡余额怎么查", "top_k": 51},
    "top_k string": {"question": "医保卡余额怎么查", "top_k": "5"},
    "top_k float": {"question": "医保卡余额怎么查", "top_k": 5.5},
    "top_k bool": {"question": "医保卡余额怎么查", "top_k": True},
    "question number": {"question": 123},
    "question null": {"question": None},
    "question missing": {"top_k": 5},
    "list body": ["医保卡余额怎么查"],
    "string body": "医保卡余额怎么查",
    "NUL in question": {"question": "医保卡\x00余额"},
    "ESC in question": {"question": "医保卡\x1b[31m余额"},
    "unknown field": {"question": "医保卡余额怎么查", "lang": "zh"},
}


@pytest.mark.parametrize("body", BAD_BODIES.values(), ids=BAD_BODIES.keys())
def test_bad_ask_bodies_get_a_4xx_with_a_bilingual_message(client, body):
    response = client.post("/api/ask", json=body)
    assert 400 <= response.status_code < 500, response.text
    message = response.json()["detail"]
    assert isinstance(message, str) and bilingual(message), message


RAW_BODIES = {
    "malformed JSON": '{"question": "医保卡余额怎么查"'.encode(),
    "empty body": b"",
    "not UTF-8": '{"question": "医保卡"}'.encode("gbk"),
    "raw control character": b'{"question": "a\x00b"}',
    "NaN top_k": '{"question": "医保卡余额怎么查", "top_k": NaN}'.encode(),
}


@pytest.mark.parametrize("raw", RAW_BODIES.values(), ids=RAW_BODIES.keys())
def test_unparseable_bodies_get_400(client, raw):
    response = client.post("/api/ask", content=raw, headers={"content-type": "application/json"})
    assert 400 <= response.status_code < 500, response.text
    assert bilingual(response.json()["detail"])


def test_messages_say_what_is_wrong(client):
    too_long = client.post("/api/ask", json={"question": LONG})
    assert too_long.status_code == 422 and str(MAX_QUESTION) in too_long.json()["detail"]
    empty = client.post("/api/ask", json={"question": " "}).json()["detail"]
    assert "空" in empty and "empty" in empty
    top_k = client.post("/api/ask", json={"question": "医保", "top_k": 0}).json()["detail"]
    assert "top_k" in top_k and "50" in top_k
    malformed = client.post("/api/ask", content=b"{", headers={"content-type": "application/json"})
    assert malformed.status_code == 400 and "JSON" in malformed.json()["detail"]


def test_a_500_character_question_is_still_accepted(client):
    response = client.post("/api/ask", json={"question": "医保卡余额怎么查" + "。" * 492})
    assert response.status_code == 200
    assert "仅供参考" in response.json()["disclaimer"]


@pytest.mark.parametrize("top_k", [1, 50])
def test_top_k_bounds_are_accepted(client, top_k):
    data = ask(client, "医保卡里的钱能取现吗", top_k)
    assert data["abstained"] is False
    assert 1 <= len(data["citations"]) <= top_k


def test_an_oversized_body_is_refused_before_parsing(client, settings):
    raw = json.dumps({"question": "医" * settings.max_body_bytes}).encode()
    response = client.post("/api/ask", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 413 and bilingual(response.json()["detail"])


BAD_SEARCHES = {
    "no q": {},
    "empty q": {"q": ""},
    "whitespace q": {"q": "   "},
    "long q": {"q": LONG},
    "control character": {"q": "医保\x00"},
    "k 0": {"q": "医保", "k": 0},
    "k 51": {"q": "医保", "k": 51},
    "k text": {"q": "医保", "k": "five"},
    "k float": {"q": "医保", "k": 2.5},
    "unknown retriever": {"q": "医保", "retriever": "magic"},
}


@pytest.mark.parametrize("params", BAD_SEARCHES.values(), ids=BAD_SEARCHES.keys())
def test_bad_searches_get_a_4xx_with_a_bilingual_message(client, params):
    response = client.get("/api/search", params=params)
    assert 400 <= response.status_code < 500, response.text
    assert bilingual(response.json()["detail"]), response.text


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)
bodies = json_values | st.fixed_dictionaries(
    {"question": st.text(max_size=30)}, optional={"top_k": json_values}
)


@hyp_settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(body=bodies)
def test_no_body_makes_the_server_fail(client, body):
    response = client.post("/api/ask", json=body)
    assert response.status_code < 500, (body, response.text)
    if response.status_code == 200:
        assert "仅供参考" in response.json()["disclaimer"]
    else:
        assert bilingual(response.json()["detail"]), response.text


def test_limits_follow_the_settings(settings, engine):
    """The schema, the validation and the messages all change with the settings."""
    from server.app import create_app

    conf = replace(settings, max_question_chars=20, top_k_max=7)
    with TestClient(create_app(conf, engine)) as small:
        spec = small.get("/openapi.json").json()
        body = spec["paths"]["/api/ask"]["post"]["requestBody"]["content"]["application/json"]["schema"]
        assert body["properties"]["question"]["maxLength"] == 20
        assert 7 in [s.get("maximum") for s in body["properties"]["top_k"]["anyOf"]]
        k = next(p for p in spec["paths"]["/api/search"]["get"]["parameters"] if p["name"] == "k")
        assert 7 in [s.get("maximum") for s in k["schema"]["anyOf"]]
        too_long = small.post("/api/ask", json={"question": "医" * 21}).json()["detail"]
        assert "20" in too_long and bilingual(too_long)
        assert small.post("/api/ask", json={"question": "医" * 20, "top_k": 7}).status_code == 200
        top_k = small.post("/api/ask", json={"question": "医保", "top_k": 8}).json()["detail"]
        assert "7" in top_k and bilingual(top_k)
        assert small.get("/api/search", params={"q": "医保", "k": 8}).status_code == 422


def test_region_is_accepted_and_limited(client):
    assert (
        client.post("/api/ask", json={"question": "医保卡余额怎么查", "region": " 厦门 "}).status_code == 200
    )
    assert client.get("/api/search", params={"q": "医保", "region": "厦门"}).status_code == 200
    too_long = client.post("/api/ask", json={"question": "医保", "region": "厦" * 21})
    assert too_long.status_code == 422 and bilingual(too_long.json()["detail"])
