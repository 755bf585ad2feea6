"""Sentence and clause spans over the original text (offsets only, the text is never copied or changed)."""

from __future__ import annotations

import re

from ingest.patterns import CLAUSE_STOPS, CLOSERS, LEAD_IN_END, SENTENCE_STOPS

Span = tuple[int, int]

# Sentence ends: full- and half-width 。！？；!?; (any run of them) plus closing quotes/brackets that
# belong to the sentence, or a line end. The half-width "." is deliberately absent: in this corpus it
# is a decimal point or list marker (「1.5万」, 「1. 官方网站查询」, 「2.支付宝」), never a full stop.
_STOPS = SENTENCE_STOPS + CLAUSE_STOPS
_SENTENCE_END = re.compile(f"[{_STOPS}]+(?:[{CLOSERS}]+[{_STOPS}]*)?|\n")
# A quote that ends inside a sentence (「称其“恬澹和易，与物无忤。”，崇祯八年卒。」) is followed by a comma.
_GOES_ON = re.compile(r"[，,、]")
# Where an over-long span may be cut, best first: at a sentence end (a heading glued to a long
# sentence), after a comma-like mark (not the comma of a number: 「海拔100米至2,800米」), then at
# whitespace.
_PAUSES = (_SENTENCE_END, re.compile(r"[，、：:]|(?<!\d),|,(?!\d)"), re.compile(r"\s+"))
# How far a book title's closing 》 may lie past a mark that would otherwise end the sentence.
_TITLE_MAX_CHARS = 40
_ENCLOSING = ("《》", "（）", "()")


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[Span]:
    """Sentence spans of ``text[start:end]``, each stripped of surrounding whitespace."""
    end = len(text) if end is None else end
    spans: list[Span] = []
    cursor = start
    for match in _SENTENCE_END.finditer(text, start, end):
        if _in_title(text, cursor, match.start()) or _GOES_ON.match(text, match.end(), end):
            continue
        _append_stripped(text, cursor, match.end(), spans)
        cursor = match.end()
    _append_stripped(text, cursor, end, spans)
    return spans


def _in_title(text: str, start: int, position: int) -> bool:
    """Whether ``position`` lies inside a book title 「《…》」 or brackets opened since ``start`` and
    closed soon after on the same line: 「《卡拉OK.LIVE！‧台北‧我》是张雨生发行的…」 and
    「怡良（；），字悦亭…」 are one sentence each."""
    if text[position] == "\n":
        return False
    for opening, closing in _ENCLOSING:
        if text.count(opening, start, position) > text.count(closing, start, position):
            close = text.find(closing, position, position + _TITLE_MAX_CHARS)
            if close != -1 and "\n" not in text[position:close]:
                return True
    return False


def is_lead_in(text: str, span: Span) -> bool:
    """True for a sentence that only announces the next one (ends with a colon)."""
    return bool(LEAD_IN_END.search(text, span[0], span[1]))


def split_long_sentence(text: str, span: Span, max_chars: int) -> list[Span]:
    """Cut one over-long sentence into pieces of at most ``max_chars``: at pauses, else hard cuts."""
    pieces: list[Span] = []
    start, end = span
    while end - start > max_chars:
        cut = _last_pause(text, start, start + max_chars) or start + max_chars
        _append_stripped(text, start, cut, pieces)
        start = cut
    _append_stripped(text, start, end, pieces)
    return pieces


def _last_pause(text: str, start: int, limit: int) -> int | None:
    """End of the last pause inside ``text[start:limit]``; pauses that would leave a sliver don't count."""
    shortest = max(2, (limit - start) // 4)
    for pattern in _PAUSES:
        cuts = [m.end() for m in pattern.finditer(text, start, limit) if m.end() - start >= shortest]
        if cuts:
            return cuts[-1]
    return None


def _append_stripped(text: str, start: int, end: int, spans: list[Span]) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if start < end:
        spans.append((start, end))
