"""English words a question may use for the corpus's Chinese terms.

People sometimes ask in English (「Can I withdraw cash from my medical insurance account?」). The
embedding model is multilingual, but BM25 and the answer's term overlap only see words, and no
English word occurs in a Chinese document. A question's English words therefore also count as the
Chinese terms the documents use for them (simplified; traditional documents are folded to it).
"""

from __future__ import annotations

import re

# Longer phrases first: 「personal account」 is 个人账户, not just 账户.
GLOSSARY: dict[str, tuple[str, ...]] = {
    "medical insurance": ("医保",),
    "health insurance": ("医保",),
    "social security": ("社保",),
    "personal account": ("个人账户",),
    "individual account": ("个人账户",),
    "family member": ("家庭成员", "家人"),
    "look up": ("查询",),
    "find out": ("查询",),
    "take out": ("提取",),
    "another city": ("异地",),
    "other city": ("异地",),
    "out of town": ("异地",),
    "serious illness": ("大病",),
    "critical illness": ("大病",),
    "new rural cooperative": ("新农合",),
    "rural cooperative": ("新农合",),
    "insurance": ("保险",),
    "balance": ("余额",),
    "check": ("查询",),
    "query": ("查询",),
    "phone": ("电话",),
    "telephone": ("电话",),
    "call": ("拨打", "电话"),
    "hotline": ("热线",),
    "withdraw": ("提取", "取现", "提现"),
    "withdrawal": ("提取", "取现", "提现"),
    "cash": ("现金", "取现", "提现"),
    "account": ("账户",),
    "family": ("家庭", "家人"),
    "relatives": ("亲属",),
    "parents": ("父母",),
    "children": ("儿童", "孩子"),
    "child": ("儿童", "孩子"),
    "kid": ("儿童", "孩子"),
    "student": ("学生",),
    "retired": ("退休",),
    "retire": ("退休",),
    "retirement": ("退休",),
    "pension": ("养老金",),
    "reimburse": ("报销",),
    "reimbursed": ("报销",),
    "reimbursement": ("报销",),
    "rate": ("比例",),
    "percentage": ("比例",),
    "hospital": ("医院",),
    "hospitalization": ("住院",),
    "hospitalized": ("住院",),
    "inpatient": ("住院",),
    "outpatient": ("门诊",),
    "deductible": ("起付线",),
    "cap": ("封顶线",),
    "maximum": ("最高",),
    "pay": ("缴费", "缴纳"),
    "payment": ("缴费", "缴纳"),
    "contribution": ("缴费", "缴纳"),
    "transfer": ("转移",),
    "password": ("密码",),
    "online": ("网上", "线上"),
    "wechat": ("微信",),
    "alipay": ("支付宝",),
    "money": ("钱", "资金"),
    "card": ("卡",),
    "medicine": ("药",),
    "drug": ("药",),
    "pharmacy": ("药店",),
    "chronic": ("慢性病", "慢特病"),
    "maternity": ("生育",),
    "birth": ("生育",),
    "abroad": ("出境", "出国"),
    "emigrate": ("出境定居", "出国定居"),
    "cost": ("费用",),
    "fee": ("费用",),
    "per year": ("每年", "年度"),
    "annual": ("每年", "年度"),
    "xiamen": ("厦门",),
    "beijing": ("北京",),
    "shenzhen": ("深圳",),
    "shijiazhuang": ("石家庄",),
    "xiangtan": ("湘潭",),
    "shanghai": ("上海",),
    "guangzhou": ("广州",),
    "hangzhou": ("杭州",),
    "nanjing": ("南京",),
    "suzhou": ("苏州",),
    "tianjin": ("天津",),
    "chongqing": ("重庆",),
    "chengdu": ("成都",),
    "wuhan": ("武汉",),
    "changsha": ("长沙",),
    "xian": ("西安",),
    "fuzhou": ("福州",),
    "fujian": ("福建",),
    "guangdong": ("广东",),
    "hebei": ("河北",),
    "hunan": ("湖南",),
}
# A glossary phrase, longest first, in the singular or with a plural 「s」 (「fees」, 「family
# members」), or any other English word (which has no Chinese terms).
_WORDS = re.compile(
    r"\b(?:(" + "|".join(re.escape(p) for p in sorted(GLOSSARY, key=len, reverse=True)) + r")s?|([a-z]+))\b",
    re.I,
)


def translate(text: str) -> list[tuple[str, tuple[str, ...]]]:
    """Each English word or glossary phrase of ``text`` with its Chinese terms (none if unknown)."""
    return [
        (known.lower(), GLOSSARY[known.lower()]) if known else (other.lower(), ())
        for known, other in (m.groups() for m in _WORDS.finditer(text))
    ]


def chinese_terms(text: str) -> list[str]:
    """The Chinese terms for the English words and phrases in ``text``, in order of appearance."""
    return [term for _, terms in translate(text) for term in terms]
