"""The OpenAI-compatible chat API, driven by the official `openai` client as a chat app would."""

from __future__ import annotations

import httpx2
import openai
import pytest
from openai import OpenAI

from settings import Settings
from tests.server.conftest import API_KEY

MAX_QUESTION = Settings().max_question_chars

QUESTION = "医保卡余额怎么查"


def _client(base: str, key: str = "unused") -> OpenAI:
    return OpenAI(base_url=f"{base}/v1", api_key=key, max_retries=0, timeout=60)


def test_models_lists_yibao(live_server) -> None:
    client = _client(live_server)
    assert [m.id for m in client.models.list()] == ["yibao"]
    assert client.models.retrieve("yibao").owned_by == "yibao-qa"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("gpt-4o")


def test_a_plain_completion_is_the_cited_answer_with_sources_and_disclaimer(live_server, client) -> None:
    completion = _client(live_server).chat.completions.create(
        model="yibao",
        messages=[{"role": "system", "content": "你是助手"}, {"role": "user", "content": QUESTION}],
    )
    content = completion.choices[0].message.content
    api = client.post("/api/ask", json={"question": QUESTION}).json()
    assert completion.choices[0].finish_reason == "stop" and completion.model == "yibao"
    # The answer as /api/ask gives it (each line a Markdown paragraph), then the sources, then 仅供参考.
    assert content.startswith(api["answer"].replace("\n", "\n\n"))
    sources = content[content.index("来源 / sources:") :]
    for cited in api["citations"]:
        assert f"- [{cited['n']}] {cited['section']}（{cited['doc']}" in sources
    assert content.endswith(api["disclaimer"])
    # The extra field: the citations as /api/ask gives them.
    extra = completion.model_extra["citations"]
    assert [(c["n"], c["doc"], c["start"], c["end"]) for c in extra] == [
        (c["n"], c["doc"], c["start"], c["end"]) for c in api["citations"]
    ]


def test_a_streamed_completion_adds_up_to_the_plain_one(live_server) -> None:
    client = _client(live_server)
    messages = [{"role": "user", "content": QUESTION}]
    plain = client.chat.completions.create(model="yibao", messages=messages).choices[0].message.content
    stream = client.chat.completions.create(
        model="yibao", messages=messages, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == plain and len([c for c in chunks if c.choices]) > 3  # streamed in pieces
    finals = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert [c.choices[0].finish_reason for c in finals] == ["stop"]
    assert finals[0].model_extra["citations"][0]["n"] == 1
    assert chunks[-1].usage is not None and not chunks[-1].choices


def test_the_city_named_in_an_earlier_turn_applies_to_the_question(live_server) -> None:
    client = _client(live_server)
    alone = client.chat.completions.create(model="yibao", messages=[{"role": "user", "content": QUESTION}])
    conversation = [
        {"role": "user", "content": "我在厦门参保"},
        {"role": "assistant", "content": "好的，请问有什么问题？（石家庄的规定仅供参考）"},
        {"role": "user", "content": [{"type": "text", "text": QUESTION}]},
    ]
    reply = client.chat.completions.create(model="yibao", messages=conversation).choices[0].message.content
    # The corpus has 石家庄's ways, not 厦门's: the answer says so, as for 「厦门医保卡余额怎么查」.
    assert "以下为石家庄的规定，厦门可能不同。" in reply
    assert "厦门" not in alone.choices[0].message.content
    # Only the user's turns count: the assistant's 石家庄 does not.
    assert "石家庄的规定，石家庄" not in reply


@pytest.mark.parametrize(
    ("messages", "message"),
    [
        ([], "messages"),
        ([{"role": "assistant", "content": "你好"}], "the last message must be the user's"),
        ([{"role": "user", "content": ""}], "question must not be empty"),
        ([{"role": "user", "content": "问" * (MAX_QUESTION + 1)}], f"longer than {MAX_QUESTION}"),
        ([{"role": "user", "content": "医保\u0000卡"}], "control characters"),
        ([{"role": "robot", "content": "hi"}], "messages.0.role"),
    ],
)
def test_a_bad_request_is_an_openai_error(live_server, messages, message) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        _client(live_server).chat.completions.create(model="yibao", messages=messages)
    assert refused.value.status_code == 400 and message in refused.value.message
    assert refused.value.body["type"] == "invalid_request_error"


def test_an_unknown_model_is_a_404(live_server) -> None:
    with pytest.raises(openai.NotFoundError) as refused:
        _client(live_server).chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "hi"}]
        )
    assert refused.value.code == "model_not_found"


def test_a_wrong_or_missing_key_is_refused_when_a_key_is_set(keyed_server) -> None:
    messages = [{"role": "user", "content": QUESTION}]
    answered = _client(keyed_server, API_KEY).chat.completions.create(model="yibao", messages=messages)
    assert "仅供参考" in answered.choices[0].message.content
    for key in ("wrong-key", API_KEY.upper()):
        with pytest.raises(openai.AuthenticationError) as refused:
            _client(keyed_server, key).chat.completions.create(model="yibao", messages=messages)
        assert refused.value.status_code == 401 and refused.value.code == "invalid_api_key"
        with pytest.raises(openai.AuthenticationError):
            _client(keyed_server, key).models.list()
    anonymous = httpx2.post(
        f"{keyed_server}/v1/chat/completions", json={"model": "yibao", "messages": messages}
    )
    assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "invalid_api_key"


def test_a_long_conversation_fits_and_an_oversized_one_is_a_413(settings, client) -> None:
    """A chat client sends the whole conversation each time: far more than the 16 KiB an /api/ask
    body may have, up to YIBAO_MAX_CHAT_BODY_BYTES."""
    turn = [{"role": "user", "content": "问" * 400}, {"role": "assistant", "content": "答" * 2000}]
    history = turn * 20 + [{"role": "user", "content": QUESTION}]
    response = client.post("/v1/chat/completions", json={"model": "yibao", "messages": history})
    assert len(response.request.content) > 4 * settings.max_body_bytes and response.status_code == 200
    huge = turn * 100 + [{"role": "user", "content": QUESTION}]
    too_big = client.post("/v1/chat/completions", json={"model": "yibao", "messages": huge})
    assert too_big.status_code == 413


def test_bodies_that_are_not_a_chat_request_are_400s(client) -> None:
    for body in (b"not json", b"[1, 2]", b'{"model": "yibao"}', b'{"model": "yibao", "messages": "hi"}'):
        response = client.post(
            "/v1/chat/completions", content=body, headers={"content-type": "application/json"}
        )
        error = response.json()["error"]
        assert response.status_code == 400 and error["message"] and error["type"] == "invalid_request_error"
