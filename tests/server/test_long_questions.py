"""Questions as people write them: a whole pasted message is answered from the part that asks,
and the page and the API say which part that was; a text far over the limit is refused."""

from __future__ import annotations

import re

from settings import Settings

MAX_QUESTION = Settings().max_question_chars
STORY = (
    "我今年五十八岁，以前在厦门一家工厂上班，单位一直给我交职工医保，交了差不多十五年。"
    "前几年工厂搬走了，我就回到老家照顾父母，平时在老家看病都是自己先垫钱，手续也不太懂。"
    "家里人说医保卡里的钱可以给家人用，也有人说可以取出来，说法很多，我自己也搞不清楚。"
)
ASK = "请问我在外地，医保卡里的余额怎么查？"
MESSAGE = "咨询医保余额查询\n" + STORY * 12 + ASK


def test_a_1500_character_message_is_answered_from_the_part_that_asks(client) -> None:
    assert 1400 <= len(MESSAGE) <= MAX_QUESTION
    response = client.post("/api/ask", json={"question": MESSAGE})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["question"] == MESSAGE
    assert ASK in body["searched"] and len(body["searched"]) < 300
    assert not body["abstained"] and "余额" in body["answer"]
    assert ["外地", "异地"] in body["synonyms"]


def test_the_page_shows_the_part_searched(client) -> None:
    page = client.post("/", data={"q": MESSAGE})
    assert page.status_code == 200
    searched = re.search(r'<p class="searched" id="searched">.*?<q>(.*?)</q>', page.text, re.S)
    assert searched and ASK in searched.group(1)
    assert 'class="answer"' in page.text or 'class="answer not-found"' in page.text


def test_a_short_question_is_searched_whole_and_the_page_says_nothing_of_it(client) -> None:
    body = client.post("/api/ask", json={"question": "医保卡余额怎么查"}).json()
    assert body["searched"] == "医保卡余额怎么查"
    assert 'id="searched"' not in client.post("/", data={"q": "医保卡余额怎么查"}).text


def test_a_20000_character_message_gets_a_clear_4xx(client) -> None:
    huge = (STORY + ASK) * 150
    assert len(huge) >= 20_000
    for response in (client.post("/api/ask", json={"question": huge}), client.post("/", data={"q": huge})):
        assert response.status_code in (413, 422), response.status_code
        assert "太长" in response.text or "too large" in response.text
    just_over = client.post("/api/ask", json={"question": "医" * (MAX_QUESTION + 1)})
    assert just_over.status_code == 422
    assert f"最多 {MAX_QUESTION} 字" in just_over.json()["detail"]
