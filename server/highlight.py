"""Marking the matched query terms inside a passage, on the source's own characters."""

from __future__ import annotations

from index.textnorm import fold


def segments(text: str, terms: list[str] | tuple[str, ...]) -> list[tuple[str, bool]]:
    """``text`` cut into (piece, is_match) runs; terms are matched in folded form so that a
    simplified term marks traditional source text."""
    # Folding one character at a time keeps positions aligned with the original.
    folded = "".join((fold(ch) or " ")[0] for ch in text)
    marked = [False] * len(text)
    for term in sorted({t for t in terms if len(t) >= 2 or not t.isascii()}, key=len, reverse=True):
        start = folded.find(term)
        while start != -1:
            for i in range(start, start + len(term)):
                marked[i] = True
            start = folded.find(term, start + len(term))
    out: list[tuple[str, bool]] = []
    for ch, is_match in zip(text, marked, strict=True):
        if out and out[-1][1] == is_match:
            out[-1] = (out[-1][0] + ch, is_match)
        else:
            out.append((ch, is_match))
    return out
