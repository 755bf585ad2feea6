"""Pack the sentences of one block into chunks of about ``chunk_min``–``chunk_max`` characters.

A chunk is always one contiguous span of the document text: it never crosses a block (section) or a
dropped boilerplate line, and never cuts inside a sentence unless that sentence alone is too long.
Headings and lead-in sentences (「优点:」) are glued to what follows them, so no chunk is a bare
heading and no chunk ends on an announcement of something it does not contain.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

from ingest.records import SECTION_SEP, Chunk
from ingest.sentences import Span, is_lead_in, split_long_sentence, split_sentences
from ingest.structure import Block
from settings import Settings


@dataclass(frozen=True)
class _Unit:
    """A sentence (or heading line, or piece of an over-long sentence) in a chunk."""

    start: int
    end: int
    heading: bool = False
    glue: bool = False


def chunk_block(doc_id: str, text: str, block: Block, settings: Settings) -> list[Chunk]:
    """The chunks of one block, carrying the block's title, section path, date, region and source."""
    return [
        Chunk(
            id=chunk_id(doc_id, start, end, text[start:end]),
            doc_id=doc_id,
            title=block.title,
            section=SECTION_SEP.join(block.path),
            text=text[start:end],
            start=start,
            end=end,
            date=block.date,
            region=block.region,
            source=block.source,
        )
        for start, end in block_spans(text, block, settings)
    ]


def chunk_id(doc_id: str, start: int, end: int, chunk_text: str) -> str:
    """Stable for the same file content; changes whenever the chunk's text or place changes."""
    digest = hashlib.sha1(f"{doc_id}\0{start}\0{end}\0{chunk_text}".encode()).hexdigest()
    return digest[:16]


def block_spans(text: str, block: Block, settings: Settings) -> list[Span]:
    """``(start, end)`` of each chunk of ``block``, in order."""
    spans: list[Span] = []
    for run in _contiguous_runs(text, _units(text, block)):
        spans.extend(_pack(_atoms(text, run, settings.chunk_max), settings))
    return spans


def _units(text: str, block: Block) -> list[_Unit]:
    units = [_Unit(line.start, line.end, heading=True, glue=True) for line in block.lines[: block.headings]]
    for line in block.lines[block.headings :]:
        units.extend(
            _Unit(start, end, glue=is_lead_in(text, (start, end)))
            for start, end in split_sentences(text, line.start, line.end)
        )
    return units


def _contiguous_runs(text: str, units: list[_Unit]) -> list[list[_Unit]]:
    """Split where anything but whitespace (a dropped boilerplate line) lies between two units."""
    runs: list[list[_Unit]] = []
    for unit in units:
        if runs and not text[runs[-1][-1].end : unit.start].strip():
            runs[-1].append(unit)
        else:
            runs.append([unit])
    return runs


def _atoms(text: str, run: list[_Unit], max_chars: int) -> list[list[_Unit]]:
    """Group glued units with what follows; drop bare headings; cut what cannot fit in one chunk."""
    atoms: list[list[_Unit]] = []
    current: list[_Unit] = []
    for unit in run:
        current.append(unit)
        if not unit.glue:
            atoms.append(current)
            current = []
    if current and not all(unit.heading for unit in current):
        atoms.append(current)
    result: list[list[_Unit]] = []
    for atom in atoms:
        if atom[-1].end - atom[0].start <= max_chars:
            result.append(atom)
        else:
            span = (atom[0].start, atom[-1].end)
            result.extend([_Unit(start, end)] for start, end in split_long_sentence(text, span, max_chars))
    return result


def _pack(atoms: list[list[_Unit]], settings: Settings) -> list[Span]:
    """Greedy packing towards an even share of the run (so no tiny tail), never over ``chunk_max``.

    A chunk closed early hands its last sentences on to the next one as overlap.
    """
    if not atoms:
        return []
    total = atoms[-1][-1].end - atoms[0][0].start
    pieces = math.ceil(total / settings.chunk_max)
    target = (total + (pieces - 1) * settings.chunk_overlap) / pieces
    spans: list[Span] = []
    current: list[_Unit] = []
    for atom in atoms:
        if current and (
            atom[-1].end - current[0].start > settings.chunk_max
            or current[-1].end - current[0].start >= target
        ):
            spans.append((current[0].start, current[-1].end))
            current = _overlap(current, atom, settings)
        current.extend(atom)
    spans.append((current[0].start, current[-1].end))
    return spans


def _overlap(previous: list[_Unit], atom: list[_Unit], settings: Settings) -> list[_Unit]:
    """The longest tail of ``previous`` within ``chunk_overlap`` that still leaves room for ``atom``."""
    end = previous[-1].end
    tail: list[_Unit] = []
    for unit in reversed(previous[1:]):
        if unit.heading or end - unit.start > settings.chunk_overlap:
            break
        if atom[-1].end - unit.start > settings.chunk_max:
            break
        tail.insert(0, unit)
    return tail
