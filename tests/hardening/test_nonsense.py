"""A question with no word of content abstains with a message saying so, on the page and in the
API, instead of quoting whatever passage lies nearest; a real question is still answered."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from answer.nonsense import NO_CONTENT

NONSENSE = [
    "🏥💳❓",
    "。",
    "？？？！！！",
    "哈哈哈哈哈哈",
    "${jndi:ldap://x/a}",
    "{{7*7}}",
    "<img src=x>",
    "Ａ" * 500,
]


@pytest.fixture(scope="module")
def client(settings, embedder) -> TestClient:
    from server.app import create_app
    from server.engine import Engine

    return TestClient(create_app(settings, Engine(settings, embedder)))


@pytest.mark.parametrize("question", NONSENSE)
def test_nonsense_abstains_with_a_message_in_the_api_and_on_the_page(client, question) -> None:
    response = client.post("/api/ask", json={"question": question})
    assert response.status_code == 200
    body = response.json()
    assert body["abstained"] is True and body["citations"] == [] and body["sentences"] == []
    assert body["answer"] == NO_CONTENT and body["question"] == question
    page = client.get("/", params={"q": question})
    assert page.status_code == 200
    assert "资料中未找到相关内容" in page.text and "没有可以查找的文字" in page.text
    assert 'class="card"' not in page.text  # no source shown


def test_a_real_question_is_still_answered(client) -> None:
    body = client.post("/api/ask", json={"question": "医保卡余额怎么查"}).json()
    assert body["abstained"] is False and body["citations"]
