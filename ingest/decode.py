"""Bytes of a text file → text: UTF-8 (with or without BOM), UTF-16 (with BOM), GB18030 (and so GBK
and GB2312, its subsets) or Big5. Anything else is refused rather than indexed as mojibake."""

from __future__ import annotations

import codecs
import re

from charset_normalizer import from_bytes

# Legacy encodings a Chinese document is likely to be in; detection is limited to these so that
# a GBK file is never taken for, say, Latin-1 (every byte string is valid Latin-1).
_LEGACY = ("gb18030", "big5")
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
# Characters a Chinese or English document is made of: ASCII, CJK ideographs and punctuation,
# full-width forms, general punctuation, bopomofo, box drawing and enclosed numbers (①).
_EXPECTED = re.compile(
    r"[\t\n\r\x20-\x7e\u00a0-\u00ff\u2000-\u206f\u2100-\u27bf\u2e80-\u2fdf\u3000-\u33ff"
    r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef]"
)
MIN_EXPECTED_SHARE = 0.9


class Undecodable(ValueError):
    """The file is not text in a supported encoding; the message says why."""


def decode_text(raw: bytes) -> tuple[str, str]:
    """``(text, encoding)``; a BOM is an encoding detail, not text that offsets should count."""
    for bom, encoding in _BOMS:
        if raw.startswith(bom):
            try:
                return raw.decode(encoding), encoding.removesuffix("-sig")
            except UnicodeDecodeError as exc:
                raise Undecodable(
                    f"not valid {encoding} despite its byte-order mark (byte {exc.start})"
                ) from None
    if b"\x00" in raw:
        raise Undecodable("binary file (contains NUL bytes)")
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    best = from_bytes(raw, cp_isolation=list(_LEGACY)).best()
    if best is None:
        raise Undecodable("not UTF-8, UTF-16, GB18030/GBK/GB2312 or Big5 text")
    return _checked(str(best), best.encoding), best.encoding


def _checked(text: str, encoding: str) -> str:
    # A detected encoding is a guess: bytes of another encoding often decode "validly" into
    # symbols no document is written in, which this refuses. Valid UTF-8 needs no such check.
    visible = re.sub(r"\s", "", text)
    if visible:
        share = len(_EXPECTED.findall(visible)) / len(visible)
        if share < MIN_EXPECTED_SHARE:
            raise Undecodable(
                f"decoded as {encoding}, but only {share:.0%} of it is Chinese or ASCII text "
                "(not UTF-8, UTF-16, GB18030/GBK/GB2312 or Big5 text?)"
            )
    return text
