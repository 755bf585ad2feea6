"""Tell body lines from scraped boilerplate without touching the text.

Every line becomes a :class:`Line` span ``(start, end)`` into the original text, stripped of
surrounding whitespace, with a kind. Dropping boilerplate means dropping spans; the text itself is
never rewritten, so offsets stay valid. Meta lines (dates, sources, counters) are not body text but
carry the date/source that :mod:`ingest.structure` attaches to sections.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum


class LineKind(Enum):
    BODY = "body"
    BOILERPLATE = "boilerplate"
    # 「2025-08-19 05:39」, 「2025-01-12 04:55:17 字數 4931 閱讀 5677」, 「2025-04-03 21:23:52社保网」
    META = "meta"
    # 「健康新闻 2025-04-19」: closes one of the short stand-alone articles of a 相关推荐 block.
    TRAILER = "trailer"
    # 「相关推荐」: what follows is either nothing useful or a list of stand-alone articles.
    RELATED = "related"


@dataclass(frozen=True)
class Line:
    start: int
    end: int
    kind: LineKind
    reason: str | None = None
    date: str | None = None
    source: str | None = None

    @property
    def is_body(self) -> bool:
        return self.kind is LineKind.BODY


_DATE = r"(?P<date>\d{4}[-/.]\d{1,2}[-/.]\d{1,2})"
_TIME = r"\d{1,2}:\d{2}(?::\d{2})?"
_COUNTERS = r"(?:(?:字[數数]|[閱阅][讀读]|[瀏浏][覽览]|点击|點擊)\s*[:：]?\s*\d+\s*)+"
_SOURCE = r"(?P<source>[^\s\d\W]{2,10})"

# Whole-line boilerplate, checked in order; the name is the reason reported by tests and logs.
BOILERPLATE_RULES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (reason, re.compile(pattern))
    for reason, pattern in (
        ("report button", r"^(?:举报|舉報|投诉|投訴)$"),
        ("disclaimer", r"^【?(?:免责声明|免責聲明)】?"),
        # 「社保网声明:资讯来源于网络,属作者个人观点,仅供参考。投诉」
        ("site statement", r"^\S{0,10}?(?:声明|聲明)[:：]"),
        ("site footer", r"^(?:诚聘英才|誠聘英才|联系我们|聯繫我們|关于我们|關於我們|网站地图|網站地圖)$"),
        # 「请点击输入图片描述」, 「請點選輸入**描述(最多18字)」
        ("image caption placeholder", r"^[请請](?:点击|點擊|点选|點選)[输輸]入.{0,8}描述"),
        # 「提示:本内容不能代替面诊…」, 「温馨提示:本数据源于网络,仅供参考!…」
        (
            "advice disclaimer",
            r"^(?:温馨|溫馨)?提示[:：].*(?:不能代替|不能替代|仅供参考|僅供參考|源于网络|源於網路)",
        ),
        # A related-article link line: 「标题 2025-04-03 21:12医保知识 标题 2025-04-03 21:09医保知识」
        ("related-article links", rf"\S\s*\d{{4}}-\d{{1,2}}-\d{{1,2}}\s+{_TIME}\S{{0,8}}$"),
    )
)
_RELATED = re.compile(r"^(?:相关推荐|相關推薦|相关阅读|相關閱讀|猜你喜欢|猜你喜歡)$")
_META = re.compile(rf"^{_DATE}(?:\s+{_TIME})?\s*(?:{_COUNTERS}|{_SOURCE})?$")
_TRAILER = re.compile(rf"^{_SOURCE}\s+{_DATE}$")
_LINE = re.compile(r"[^\n]+")


def normalize_date(raw: str) -> str:
    """``2025/4/3`` → ``2025-04-03``."""
    year, month, day = re.split(r"[-/.]", raw)
    return f"{year}-{int(month):02d}-{int(day):02d}"


def scan_lines(text: str) -> list[Line]:
    """All non-blank lines of ``text`` as stripped spans, each classified."""
    lines = []
    for match in _LINE.finditer(text):
        raw = match.group()
        stripped = raw.strip()
        if not stripped:
            continue
        start = match.start() + (len(raw) - len(raw.lstrip()))
        lines.append(_classify(stripped, start, start + len(stripped)))
    return lines


def _classify(line: str, start: int, end: int) -> Line:
    if _RELATED.match(line):
        return Line(start, end, LineKind.RELATED, reason="related-articles marker")
    for kind, pattern in ((LineKind.META, _META), (LineKind.TRAILER, _TRAILER)):
        if match := pattern.match(line):
            return Line(
                start,
                end,
                kind,
                reason=kind.value,
                date=normalize_date(match.group("date")),
                source=match.group("source"),
            )
    for reason, pattern in BOILERPLATE_RULES:
        if pattern.search(line):
            return Line(start, end, LineKind.BOILERPLATE, reason=reason)
    return Line(start, end, LineKind.BODY)
