"""The one table of question types: what a question asks for, read from plain cue words.

Each entry says how the question is asked (its cues, over the folded question), what an answer of
that type carries (its shape, over a folded block: a yes or no, a year, a cap, a cause…), its
priority and its form: one block answers (ONE), a list of steps (STEPS), or every way, place or
kind the sources give, one line each (GATHER). A question may match several entries
(「能不能转回老家,需要什么条件」, 「热线是多少,几点打人少」): all of them are asked, the highest
priority first; the first decides the form, and an answer lacking another's shape gets the block
that carries it. A shape may name what the question counts (「几个村」 → 「8个村」): ``{0}`` in it
stands for the cue's captured word. A type whose answers any sentence may look like (a yes or no,
a digit, an enumeration) has no shape: fitted, such shapes weighed next to nothing. How much a
shape counts is fitted (eval/fit.py), not set here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ingest.patterns import CJK_RANGE

ONE, STEPS, GATHER = "one", "steps", "gather"

# A number written in digits or in Chinese numerals.
_NUMERAL = "[\\d一二三四五六七八九十百千万亿两〇零][\\d,.，一二三四五六七八九十百千万亿两〇零]*"
# 「配偶、父母、子女」: three or more named together.
_ENUMERATION = "[^。；;，,]{0,6}?[^、。，,]{1,8}、[^、。，,]{1,8}"


@dataclass(frozen=True)
class QuestionType:
    name: str
    cues: re.Pattern[str]
    shape: str | None
    priority: int
    form: str = ONE

    def shape_for(self, match: re.Match[str]) -> re.Pattern[str] | None:
        """The shape an answer to this question carries, with the word the cue captured."""
        if self.shape is None:
            return None
        word = next((g for g in match.groups() if g), "")
        return _compiled(self.shape.replace("{0}", re.escape(word)))


def _cues(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


_SHAPES: dict[str, re.Pattern[str]] = {}


def _compiled(shape: str) -> re.Pattern[str]:
    if shape not in _SHAPES:
        _SHAPES[shape] = re.compile(shape)
    return _SHAPES[shape]


TYPES: tuple[QuestionType, ...] = (
    # 「能不能…」, 「是否…」: the yes or no opens the answer, whatever else is asked.
    QuestionType("yes_no", _cues("能不能|可不可以|是不是|是否|能否|可否|有没有"), None, 90),
    # 「余额怎么查」: the ways it is looked up (查询, 查看), every one the sources give.
    QuestionType("look_up", _cues("(?:怎么|怎样|如何)(?:查|看|知道)"), "查|看", 85, GATHER),
    # 「违规提现了会怎么样」: what follows, not how to do it.
    QuestionType(
        "consequence",
        _cues("后果|会怎么样|会怎样|会如何|什么处罚|怎么处罚"),
        "导致|受到(?:法律|处罚|制裁|追究)|处罚|追究|冻结|制裁|罚款|法律责任|追回",
        80,
    ),
    # 「称之为什么」 asks "as what", not why; 「打不进去怎么回事」 asks for the cause.
    QuestionType(
        "why",
        _cues("(?<![称之名算现成作译叫改定视誉变编聘])为什么|为何|什么原因|怎么回事|\\bwhy\\b"),
        "因为|由于|原因|因此|所以|为了|目的",
        75,
    ),
    QuestionType("meaning", _cues("什么意思|指什么|含义|定义"), "是指|指的是|意思是", 70),
    # A cap is said 「封顶线…240元」 or 「最高限额…(如25万元)」.
    QuestionType(
        "cap", _cues("最多|最高|上限|封顶"), f"(?:封顶|上限|限额|最高|最多)[^。；;，,]{{0,12}}?{_NUMERAL}", 65
    ),
    QuestionType("price", _cues("多少钱|几块钱|多少元"), f"{_NUMERAL}\\s*(?:万?元|块)", 64),
    # A year, a date or an hour: 「哪一年」 → 「1998年」, 「几点打」 → 「9-11点」.
    QuestionType(
        "when",
        _cues("哪一?年|何年|什么时候|何时|哪个年代|什么年代|几点|什么时间|哪个时间|时间段|时段|\\bwhen\\b"),
        "\\d{3,4}年|[一二三四五六七八九〇零]{4}年|\\d{1,2}世纪|\\d0年代|\\d{1,2}月|\\d{1,2}(?:[:：]\\d{2}|点)|高峰",
        60,
    ),
    QuestionType("ordinal", _cues(f"第几([{CJK_RANGE}])"), f"第{_NUMERAL}{{0}}", 58),
    # 「有几个村」 → 「8个村」; 多少钱 and 几成 are the price's and the number's.
    QuestionType(
        "count",
        _cues(f"(?:多少|几)((?![的是呢啊吗钱成岁比])[{CJK_RANGE}])"),
        f"{_NUMERAL}\\s*[个名位所条张首座间家种只项本部]?{{0}}",
        56,
    ),
    QuestionType(
        "which",
        _cues("哪些|哪几|什么情况|什么条件|哪种情况|什么人|\\bwhich\\b|what kinds?"),
        None,
        50,
        GATHER,
    ),
    QuestionType(
        "where",
        _cues("在哪|哪里|哪儿|什么地方|[什哪][么个]平台|哪个网站|\\bwhere\\b"),
        "位于|设在|坐落|app|平台|小程序|官网|网站|窗口|柜台|大厅|经办机构|公众号|营业厅|服务中心",
        48,
        GATHER,
    ),
    QuestionType(
        "number",
        _cues("多少|比例|几成|多久|多长时间|几[年月天号点个]|号码|电话|热线|how (?:much|many|long)"),
        None,
        40,
    ),
    QuestionType("how_to", _cues("怎么|怎样|如何|流程|步骤|办理|手续|\\bhow\\b"), None, 30, STEPS),
    # 「绑定哪些亲属」, 「登录要输入什么」: what the verb takes, listed (「绑定配偶、父母、子女」).
    # After 有/是/为 (「著作有哪些」, 「为什么」) the word before is no verb.
    QuestionType(
        "takes",
        _cues(f"([{CJK_RANGE}]{{2}})(?<![有是为])[在到于]?(?:能|可以)?(?:哪些|什么)"),
        "{0}" + _ENUMERATION,
        20,
    ),
    # 「哪些亲属」: the kind asked for and its members (「近亲属包括配偶、父母、子女…」).
    QuestionType(
        "members",
        _cues(f"哪些([{CJK_RANGE}]{{2}})"),
        "{0}[^。；;]{0,4}?(?:包括|包含|有|为|是|[:：])" + _ENUMERATION,
        20,
    ),
    # 「…能取现吗」: a yes or no, unless the question asks something more.
    QuestionType("confirm", _cues("吗|^(?:can|is|are|do|does)\\b"), None, 10),
)
BY_NAME = {t.name: t for t in TYPES}


@dataclass(frozen=True)
class Asked:
    """One thing a question asks for: its type and the shape of its answer (None: words cannot tell)."""

    type: QuestionType
    shape: re.Pattern[str] | None


def asked_types(folded: str) -> tuple[Asked, ...]:
    """Every type whose cues the (folded) question carries, the highest priority first."""
    asked = [(t, m) for t in TYPES if (m := t.cues.search(folded))]
    asked.sort(key=lambda tm: -tm[0].priority)
    return tuple(Asked(t, t.shape_for(m)) for t, m in asked)
