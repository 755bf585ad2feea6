"""The table of question types: each entry read from its cues, with the shape of its answer."""

from __future__ import annotations

import pytest

from answer.question import FOREIGN, SIMPLIFIED, TRADITIONAL, read_question
from answer.types import GATHER, ONE, STEPS, TYPES, asked_types
from ingest.textnorm import fold

# type → (a question that asks it, a sentence carrying its shape, a sentence that does not). A type
# without a shape (a yes or no, a number, the kinds: any sentence may look like its answer) has
# None for both sentences.
CASES = {
    "yes_no": ("醫保卡餘額能不能提現", None, None),
    "look_up": ("醫保卡餘額怎麼查", "以下是几种常见的查询方法:", "自付的部分由自己用医保卡余额支付。"),
    "consequence": ("违规提现了会怎么样", "违反规定可能导致账户冻结", "其使用和提取受到严格限制"),
    "why": ("打医保热线老是打不进去怎么回事", "由于查询人数较多,线路繁忙", "拨打12333查询余额"),
    "meaning": ("自理是什么意思", "自理是指参保人员使用…", "按规定应由个人自负或自理的普通门诊"),
    "cap": ("门诊一年最多能报多少", "年度门诊报销封顶线可能为240元", "300元以下的费用报销30%"),
    "price": ("新农合能报销多少钱", "报销限额为5000元/年", "报销比例可达70%"),
    "when": ("打12333查医保几点打比较好", "建议避开高峰期(如9-11点)", "拨打12333"),
    "ordinal": ("蒙泰罗在2005年美国大奖赛上获得第几名？", "获得第3名。", "2005年美国大奖赛"),
    "count": ("路口镇管辖下有几个村和社区？", "区划调整后为8个村、2个社区。", "2004年村级区划调整"),
    "which": ("家庭共济可以给哪些亲属用", None, None),
    "where": ("家庭共济在哪里绑定", "通过“医保服务平台APP”完成绑定", "就医购药时,需使用患者本人的医保卡"),
    "number": ("退休人员医保卡每月划入多少", None, None),
    "how_to": ("医疗保险报销流程是怎样的?", None, None),
    "takes": ("登录要输入什么", "输入身份证号、社保卡号、密码", "登录所在地区的人社局网站或医保局网站。"),
    "members": ("有哪些亲属能用", "近亲属包括配偶、父母、子女", "用于支付家庭成员的就医、购药"),
    "confirm": ("医保卡里的钱能取现吗", None, None),
}


def test_every_type_has_a_case_here():
    assert set(CASES) == {t.name for t in TYPES}
    assert len({t.name for t in TYPES}) == len(TYPES)


@pytest.mark.parametrize("name", list(CASES))
def test_each_type_is_read_from_its_cues_and_knows_the_shape_of_its_answer(name):
    question, fits, misses = CASES[name]
    asked = {a.type.name: a for a in asked_types(fold(question))}
    assert name in asked, list(asked)
    shape = asked[name].shape
    if fits is None:
        assert shape is None
    else:
        assert shape.search(fold(fits)) and not shape.search(fold(misses))


def test_types_are_asked_highest_priority_first():
    asked = asked_types(fold("怎么查自己医保卡还剩多少钱"))
    names = [a.type.name for a in asked]
    # The number is the asker's own: the ways to look it up answer.
    assert names[0] == "look_up" and "number" in names
    priorities = [a.type.priority for a in asked]
    assert priorities == sorted(priorities, reverse=True)


@pytest.mark.parametrize(
    ("question", "parts"),
    [
        ("在外地退休了,医保能不能转回老家,需要满足什么条件", {"yes_no", "which"}),
        ("医保电话是多少,几点打人少", {"number", "when"}),
    ],
)
def test_a_compound_question_asks_for_both_parts(question, parts):
    names = {a.type.name for a in asked_types(fold(question))}
    assert parts <= names


def test_why_after_a_naming_verb_asks_as_what_not_why():
    assert asked_types(fold("这种水果被称为什么")) == ()


@pytest.mark.parametrize(
    ("question", "form"),
    [
        ("医保卡余额怎么查", GATHER),
        ("医疗保险报销流程是怎样的", STEPS),
        ("该校是哪一年成立的", ONE),
        ("你好", ONE),
    ],
)
def test_the_highest_type_decides_the_form_of_the_answer(question, form):
    assert read_question(question, [], None).form == form


@pytest.mark.parametrize(
    ("question", "script"),
    [
        ("医保卡余额怎么查", SIMPLIFIED),
        ("醫保卡餘額怎麼查", TRADITIONAL),
        ("How do I check my balance?", FOREIGN),
    ],
)
def test_a_question_is_read_once_with_its_script(question, script):
    read = read_question(question, ["医保卡"], "厦门")
    assert read.script == script and read.folded == fold(question)
    assert read.terms == ("医保卡",) and read.place == "厦门"
    assert read.in_script("医保卡") == ("醫保卡" if script == TRADITIONAL else "医保卡")
