"""Text folding and tokenisation shared by the lexical index, the answer composer and eval.

Chinese has no spaces, so BM25 needs a segmenter (jieba); traditional and simplified forms
are folded to simplified so that 「醫保」 and 「医保」 are the same term.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from functools import lru_cache

import jieba
import opencc

from ingest.glossary import chinese_terms
from ingest.patterns import CJK, CJK_RANGE

jieba.setLogLevel(logging.WARNING)

_T2S = opencc.OpenCC("t2s")
_S2T = opencc.OpenCC("s2t")
# Taiwan and Hong Kong spell some characters differently from OpenCC's standard traditional (台/臺).
_S2T_VARIANTS = (_S2T, opencc.OpenCC("s2tw"), opencc.OpenCC("s2hk"))

# Domain terms jieba would otherwise split, so that they score as one rare term.
_DOMAIN_WORDS = (
    "医保卡",
    "社保卡",
    "个人账户",
    "统筹账户",
    "家庭共济",
    "新农合",
    "医保局",
    "医保电子凭证",
    "异地就医",
    "门诊统筹",
    "慢特病",
    "起付线",
    "封顶线",
    "缴费基数",
    "生育津贴",
    "城乡居民医保",
    "职工医保",
    "居民医保",
    "自助终端",
    "国家医保服务平台",
    "12333",
    # Where people look things up; jieba's dictionary predates them (「微信里」 came out as one word).
    "微信",
    "公众号",
    "小程序",
    "北京通",
    "粤省事",
    "随申办",
    "查悦社保",
)
for _word in _DOMAIN_WORDS:
    jieba.add_word(_word, freq=20000)

# Function words and question scaffolding carry no evidence of relevance.
STOPWORDS = frozenset(
    """
    的 了 吗 呢 吧 啊 么 是 在 和 与 及 或 也 都 就 还 又 被 把 给 让 我 你 他 她 它 我们 你们 他们
    这 那 这个 那个 哪 哪里 哪些 什么 怎么 怎么样 怎样 如何 为什么 多少 几 能 能不能 可以 可不可以
    会 要 需要 有 没有 不 请问 一下 一个 自己 之 以 于 而 等 如 若 则 对 从 到 向 个 里
    a an the is are do does how what can i my of to in for on and or with
    """.split()
)

_TOKEN_OK = re.compile(f"[\\w{CJK_RANGE}]", re.UNICODE)


@lru_cache(maxsize=65536)
def fold(text: str) -> str:
    """Traditional → simplified, full-width → half-width, lower case: the form used for matching.

    Cached: the answer composer folds the same corpus sentences on every question, and the
    pure-Python conversion would otherwise be most of its time."""
    return to_simplified(unicodedata.normalize("NFKC", text)).lower()


def to_traditional(text: str) -> str:
    return _S2T.convert(text)


def traditional_spellings(text: str) -> set[str]:
    """The ways a short simplified name is written in traditional characters."""
    return {convert.convert(text) for convert in _S2T_VARIANTS}


def to_simplified(text: str) -> str:
    return _T2S.convert(text)


def is_traditional(text: str) -> bool:
    """True when the text has more characters that change under t2s than a stray one."""
    cjk = CJK.findall(text)
    if not cjk:
        return False
    changed = sum(1 for a, b in zip(text, _T2S.convert(text), strict=False) if a != b)
    return changed >= max(1, len(cjk) // 20)


def has_cjk(text: str) -> bool:
    return CJK.search(text) is not None


def tokenize(text: str) -> list[str]:
    """Folded jieba search-mode terms without punctuation or stopwords."""
    terms = (w.strip() for w in jieba.cut_for_search(fold(text)))
    return [t for t in terms if t and t not in STOPWORDS and _TOKEN_OK.search(t)]


def query_terms(question: str) -> list[str]:
    """A question's terms: its own, and for its English words the Chinese terms the documents use
    (ingest.glossary), so that an English question can match words at all."""
    return tokenize(question) + [t for term in chinese_terms(question) for t in tokenize(term)]
