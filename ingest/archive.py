"""Opening a zip-based file (.docx) only within limits, before any library unpacks it.

A Word file is a zip archive of XML parts. A hostile one can expand a megabyte into gigabytes
(a zip bomb), hold thousands of members, or declare entities in a DTD that expand without end
("billion laughs"). Here the archive's directory is checked first: how many members, how many
bytes they expand to, how strongly each is compressed; zipfile then stops every member at its
declared size (a longer one fails its CRC check), so the declared sizes bound what is read. Every
XML part is refused if it has a DTD, which OOXML never uses (defusedxml stops at it)."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from settings import Settings

# A member must expand to more than this before its compression ratio is judged: small parts
# (styles, settings) can be very repetitive and cannot hurt.
_RATIO_FLOOR = 1024 * 1024
_XML = (".xml", ".rels")


class UnsafeArchive(ValueError):
    """The archive is beyond a limit or holds a DTD; the message says which."""


@dataclass(frozen=True)
class ArchiveLimits:
    max_bytes: int
    max_members: int
    max_ratio: float

    @classmethod
    def of(cls, settings: Settings) -> ArchiveLimits:
        return cls(settings.max_archive_bytes, settings.max_archive_members, settings.max_compression_ratio)


def check_archive(raw: bytes, limits: ArchiveLimits) -> None:
    """Raise UnsafeArchive unless ``raw`` is a zip within ``limits`` whose XML parts have no DTD;
    zipfile.BadZipFile when it is no zip at all."""
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        members = archive.infolist()
        if len(members) > limits.max_members:
            raise UnsafeArchive(f"too many parts in the archive ({len(members)}, limit {limits.max_members})")
        total = sum(m.file_size for m in members)
        if total > limits.max_bytes:
            raise UnsafeArchive(
                f"expands to {_mib(total)} (limit {_mib(limits.max_bytes)}): a zip bomb or too large"
            )
        for m in members:
            if m.file_size > _RATIO_FLOOR and m.file_size > limits.max_ratio * max(m.compress_size, 1):
                ratio = m.file_size / max(m.compress_size, 1)
                limit = f"limit {limits.max_ratio:g}:1"
                raise UnsafeArchive(f"part {m.filename} is compressed {ratio:.0f}:1 ({limit}): a zip bomb")
        for m in members:
            if m.filename.lower().endswith(_XML):
                _no_dtd(archive, m)


def _no_dtd(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> None:
    # A DTD can only come before the root element, so parsing stops at the first element.
    with archive.open(member) as fh:
        try:
            next(iter(iterparse(fh, events=("start",), forbid_dtd=True)), None)
        except DefusedXmlException as exc:
            raise UnsafeArchive(f"part {member.filename} declares a DTD or entities ({exc})") from None
        except ParseError:
            pass  # malformed XML is the reader's to report, with its own message


def _mib(size: int) -> str:
    return f"{size / 1048576:.1f} MiB"
