"""What kind of answer a question asks for, from plain cue words (simplified and traditional).

The intent decides what opens the answer: the yes or no, the steps as a list, the number, the
list of cases, the cause. A question may carry several cues (「能不能…多少钱」); the first rule that
matches in this order wins, because a yes/no question about an amount still wants the yes or no.
"""

from __future__ import annotations

import re

from ingest.textnorm import fold

YES_NO, HOW_TO, NUMBER, WHICH, WHY, OTHER = "yes_no", "how_to", "number", "which", "why", "other"

# 「称之为什么」, 「表现为什么」, 「被誉为什么」 ask "as what", not why.
# 「打不进去怎么回事」 asks what is going on, not how to do something.
_WHY_QUESTION = re.compile(r"(?<![称之名算现成作译叫改定视誉变编聘])为什么|为何|什么原因|怎么回事|why", re.I)
_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (WHY, _WHY_QUESTION),
    (WHICH, re.compile(r"哪些|哪几|什么情况|什么条件|哪种情况|什么人|which|what kinds?", re.I)),
    (
        NUMBER,
        re.compile(
            r"多少|比例|几成|多久|多长时间|什么时候|何时|几[年月天号点个]|号码|电话|热线"
            r"|how (?:much|many|long)|when",
            re.I,
        ),
    ),
    (HOW_TO, re.compile(r"怎么|怎样|如何|流程|步骤|办理|手续|how", re.I)),
    (
        YES_NO,
        re.compile(r"能不能|可不可以|是不是|是否|能否|可否|有没有|[吗吗]|^(?:can|is|are|do|does)\b", re.I),
    ),
)
# Yes/no questions are asked with 吗 too when they ask how ("怎么查吗" is rare; "能查吗" is not), so
# a 吗 question that also asks how or how much is not a yes/no question.
_STRONG_YES_NO = re.compile(r"能不能|可不可以|是不是|是否|能否|可否|有没有")
# 「怎么查自己医保卡还剩多少钱」 asks how to look a number up: the number is the asker's own, the
# documents hold the way to find it.
_LOOK_UP = re.compile(r"(?:怎么|怎样|如何)(?:查|看|知道)")
# 「违规提现了会怎么样」 asks what follows, not how to do something: no list of steps is wanted.
_CONSEQUENCE_QUESTION = re.compile(r"后果|会怎么样|会怎样|会如何|什么处罚|怎么处罚")


def question_intent(question: str) -> str:
    """One of YES_NO, HOW_TO, NUMBER, WHICH, WHY, OTHER."""
    q = fold(question)
    if _STRONG_YES_NO.search(q):
        return YES_NO
    if _LOOK_UP.search(q):
        return HOW_TO
    if _CONSEQUENCE_QUESTION.search(q):
        return OTHER
    for intent, pattern in _RULES:
        if pattern.search(q):
            return intent
    return OTHER


# What an answering unit carries for each intent.
_YES_NO_ANSWER = re.compile(
    r"^.{0,16}?(?:可以|不可以|能|不能|无法|不得|禁止|允许|不允许|是|不是|不行|不会|会|不需要|需要|支持|不支持)"
)
_NUMBER_ANSWER = re.compile(r"\d|[一二三四五六七八九十百千万两]+(?:[年个月天日周元岁]|%|成)|百分之|热线|电话")
_WHY_ANSWER = re.compile(r"因为|由于|原因|因此|所以|为了|目的")
# An enumeration: 「配偶、父母、子女」, 「包括…」.
_WHICH_ANSWER = re.compile(r"包括|包含|以下|[^、]{1,8}、[^、]{1,8}、")


def answers_intent(intent: str, text: str) -> bool:
    """Whether a unit's text carries what the intent asks for (a yes or no, a number, a cause)."""
    folded = fold(text)
    if intent == YES_NO:
        return bool(_YES_NO_ANSWER.search(folded))
    if intent == NUMBER:
        return bool(_NUMBER_ANSWER.search(folded))
    if intent == WHY:
        return bool(_WHY_ANSWER.search(folded))
    if intent == WHICH:
        return bool(_WHICH_ANSWER.search(folded))
    return False


def wants_list(intent: str) -> bool:
    return intent in (HOW_TO, WHICH)


# What the answer itself looks like when the question asks for a quantity, a rank or a year:
# 「有几个村」 wants 「8个村」, 「获得第几名」 wants 「第3名」, 「哪一年」 wants 「1998年」. Such a
# unit answers more surely than one that merely has a digit somewhere.
_NUMERAL = r"[\d一二三四五六七八九十百千万亿两〇零][\d,.，一二三四五六七八九十百千万亿两〇零]*"
_YEAR_QUESTION = re.compile(r"哪一?年|何年|什么时候|何时|哪个年代|什么年代")
_YEAR_ANSWER = re.compile(r"\d{3,4}年|[一二三四五六七八九〇零]{4}年|\d{1,2}世纪|\d0年代")
_ORDINAL_QUESTION = re.compile(r"第几([\u4e00-\u9fff])")
_MEASURE_QUESTION = re.compile(r"(?:多少|几)([\u4e00-\u9fff])")
# Words after 多少/几 that are not a measure (「多少钱」 is said in 元, 「几成」 in percent).
_NOT_MEASURE = set("的是呢啊吗钱成岁比")
_CLASSIFIER = "[个名位所条张首座间家种只项本部]?"


# Other answers with a shape of their own: a cap (「最多能报多少钱」) is said 「封顶线…240元」 or
# 「最高限额…(如25万元)」, a price in 元, a meaning 「自负是指…」, a consequence 「…可能导致账户冻结」,
# a cause, a place. Measured: caps, prices, meanings, consequences and places took this corpus's
# opening 0.775 → 0.829 (with the type bonus 0.04 → 0.10; cmrc2018_trial 0.854 → 0.852), a cause
# 0.856 → 0.865 with the captions of that commit (cmrc2018_trial 0.852 → 0.849).
_SHAPES: tuple[tuple[re.Pattern[str], re.Pattern[str]], ...] = (
    (
        _CONSEQUENCE_QUESTION,
        re.compile(r"导致|受到(?:法律|处罚|制裁|追究)|处罚|追究|冻结|制裁|罚款|法律责任|追回"),
    ),
    (
        re.compile(r"最多|最高|上限|封顶"),
        re.compile(f"(?:封顶|上限|限额|最高|最多)[^。；;，,]{{0,12}}?{_NUMERAL}"),
    ),
    (re.compile(r"多少钱|几块钱|多少元"), re.compile(f"{_NUMERAL}\\s*(?:万?元|块)")),
    (re.compile(r"什么意思|指什么|含义|定义"), re.compile(r"是指|指的是|意思是")),
    # 「老是打不进去怎么回事」: a cause (「由于查询人数较多,…线路繁忙」).
    (_WHY_QUESTION, _WHY_ANSWER),
    # 「家庭共济在哪里绑定」: a place or a channel.
    (
        re.compile(r"在哪|哪里|哪儿|什么地方|[什哪][么个]平台|哪个网站"),
        re.compile(
            r"位于|设在|坐落|app|平台|小程序|官网|网站|窗口|柜台|大厅|经办机构|公众号|营业厅|服务中心"
        ),
    ),
)


# Asked how to look something up (「醫保卡餘額怎麼查」), the answer says how it is looked up (查询, 查看),
# not where the thing is mentioned (「…由自己用醫保卡餘額和現金支付。」).
_LOOK_UP_ANSWER = re.compile(r"查|看")
# 「能绑定哪些亲属」 and 「登录要输入什么」 are answered by what the verb takes, listed (「绑定配偶、父母、
# 子女等近亲属」, 「输入身份证号、社保卡号、密码…」), or by the kind asked for and its members
# (「近亲属包括配偶、父母、子女…」). After 有/是/为 (「著作有哪些」, 「为什么」) the word before is no verb.
_LISTED_QUESTION = re.compile(r"([\u4e00-\u9fff]{2})(?<![有是为])[在到于]?(?:能|可以)?(?:哪些|什么)")
_LISTED_KIND = re.compile(r"哪些([\u4e00-\u9fff]{2})")
_ENUMERATION = r"[^。；;，,]{0,6}?[^、。，,]{1,8}、[^、。，,]{1,8}"
_MEMBERS = r"[^。；;]{0,4}?(?:包括|包含|有|为|是|[:：])"


def answer_pattern(question: str) -> re.Pattern[str] | None:
    """The shape of the answer a question asks for: a way to look something up, a number of
    something, a year, a cap, a price, a meaning, a consequence, a cause, a place, what a verb
    takes."""
    q = fold(question)
    if _LOOK_UP.search(q):
        return _LOOK_UP_ANSWER
    if _YEAR_QUESTION.search(q):
        return _YEAR_ANSWER
    if m := _ORDINAL_QUESTION.search(q):
        return re.compile(f"第{_NUMERAL}{re.escape(m.group(1))}")
    if (m := _MEASURE_QUESTION.search(q)) and m.group(1) not in _NOT_MEASURE:
        return re.compile(f"{_NUMERAL}\\s*{_CLASSIFIER}{re.escape(m.group(1))}")
    if shape := next((shape for asked, shape in _SHAPES if asked.search(q)), None):
        return shape
    listed = [re.escape(m.group(1)) + _ENUMERATION for m in [_LISTED_QUESTION.search(q)] if m]
    listed += [re.escape(m.group(1)) + _MEMBERS + _ENUMERATION for m in [_LISTED_KIND.search(q)] if m]
    return re.compile("|".join(listed)) if listed else None
