"""The part of a long message that is searched (index/focus.py)."""

from __future__ import annotations

from index.focus import focus

BACKGROUND = (
    "我是一名退休职工，今年六十五岁，身体一直不太好，常年需要吃药。"
    "二〇一九年以前我一直在单位上班，单位给我交了十几年的职工医保，中间也换过几次工作。"
    "后来孩子在外地工作，我就跟着过去帮忙带孩子，一住就是好几年，平时看病都是自己先垫钱。"
    "去年冬天摔了一跤住了半个月院，花了两万多块钱，到现在也没有报销下来，心里一直很着急。"
)
ASKS = "请问我在异地住院的费用现在还能回参保地报销吗？需要准备什么材料？"


def test_a_short_question_is_searched_as_it_is() -> None:
    assert focus("医保卡余额怎么查", 200) == "医保卡余额怎么查"


def test_a_long_message_is_searched_by_what_it_asks() -> None:
    message = "咨询异地住院报销\n" + BACKGROUND * 3 + ASKS
    searched = focus(message, 200)
    assert len(message) > 500 and len(searched) <= 200
    assert "请问我在异地住院的费用现在还能回参保地报销吗？" in searched
    assert searched.startswith("咨询异地住院报销")  # the message's title line
    assert "摔了一跤" not in searched


def test_the_place_a_long_message_names_is_kept() -> None:
    message = "我在厦门工作了十年，一直缴纳职工医保。" + BACKGROUND * 3 + ASKS
    assert "厦门" in focus(message, 200)


def test_a_message_that_asks_nothing_keeps_its_opening_and_close() -> None:
    message = "医保转移接续的情况说明。" + BACKGROUND * 3 + "以上情况希望有关部门核实。"
    searched = focus(message, 200)
    assert searched.startswith("医保转移接续的情况说明。") and searched.endswith("希望有关部门核实。")
