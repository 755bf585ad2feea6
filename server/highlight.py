"""Marking the matched query terms inside a passage, on the source's own characters."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ingest.textnorm import fold


def highlight(
    text: str, terms: Sequence[str], quoted: Iterable[tuple[int, int]] = ()
) -> list[tuple[str, bool, bool]]:
    """``text`` cut into (piece, is_match, is_quoted) runs: terms matched in folded form (a
    simplified term marks traditional source text),
    and whether the piece lies in one of the ``quoted`` [start, end) spans (the sentences the
    answer quotes from this passage, relative to ``text``)."""
    inside = [False] * len(text)
    for start, end in quoted:
        for i in range(max(0, start), min(len(text), end)):
            inside[i] = True
    return [(piece, hit, q) for piece, (hit, q) in _runs(text, _term_marks(text, terms), inside)]


def _term_marks(text: str, terms: Sequence[str]) -> list[bool]:
    # Folding one character at a time keeps positions aligned with the original.
    folded = "".join((fold(ch) or " ")[0] for ch in text)
    marked = [False] * len(text)
    for term in sorted({t for t in terms if len(t) >= 2 or not t.isascii()}, key=len, reverse=True):
        start = folded.find(term)
        while start != -1:
            for i in range(start, start + len(term)):
                marked[i] = True
            start = folded.find(term, start + len(term))
    return marked


def _runs(text: str, *flags: list[bool]) -> list[tuple[str, tuple[bool, ...]]]:
    out: list[tuple[str, tuple[bool, ...]]] = []
    for i, ch in enumerate(text):
        key = tuple(f[i] for f in flags)
        if out and out[-1][1] == key:
            out[-1] = (out[-1][0] + ch, key)
        else:
            out.append((ch, key))
    return out
