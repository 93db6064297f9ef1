"""PDF via pdfplumber: lines from word geometry, paragraphs from vertical gaps, headings from font size.

Running heads, footers and page numbers are recognised by position (the top
and bottom bands of the page) and repetition, and tagged rather than dropped.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from statistics import median

import pdfplumber

from pipeline.clean import bullet_start, join_wrapped_lines, normalise_characters
from pipeline.types import Block, BlockKind, Extracted

#: Share of the page height at the top and bottom where running heads and footers live.
MARGIN_BAND = 0.08
#: A gap between lines larger than this many line heights starts a new paragraph.
PARAGRAPH_GAP = 0.75
#: A line whose font is this much larger than the body text is a heading.
HEADING_SIZE_RATIO = 1.18
PAGE_NUMBER = re.compile(r"^(?:page\s+)?\d{1,4}(?:\s*(?:of|/)\s*\d{1,4})?$|^-\s*\d{1,4}\s*-$", re.IGNORECASE)
X_TOLERANCE_RATIO = 0.15


@dataclass(frozen=True)
class Line:
    """A line of text on a page with the geometry and font needed to place it."""

    text: str
    page: int
    top: float
    bottom: float
    size: float
    bold: bool
    page_height: float

    @property
    def height(self) -> float:
        return max(self.bottom - self.top, 1.0)

    @property
    def in_top_band(self) -> bool:
        return self.bottom <= self.page_height * MARGIN_BAND

    @property
    def in_bottom_band(self) -> bool:
        return self.top >= self.page_height * (1 - MARGIN_BAND)


def extract_pdf(path: str, *, password: str | None = None) -> Extracted:
    """Read a PDF into blocks with page numbers."""
    with pdfplumber.open(path, password=password or "") as pdf:
        page_count = len(pdf.pages)
        lines = [line for page in pdf.pages for line in read_page_lines(page)]
    furniture = running_lines(lines, page_count)
    body_size = median([line.size for line in lines]) if lines else 0.0
    return Extracted(blocks=lines_to_blocks(lines, furniture, body_size), page_count=page_count, engine="pdfplumber")


def read_page_lines(page: pdfplumber.page.Page) -> list[Line]:
    """The page's text lines, top to bottom, closing the page after to keep memory flat."""
    try:
        raw_lines = page.extract_text_lines(return_chars=True, strip=True, x_tolerance_ratio=X_TOLERANCE_RATIO)
        lines = []
        for raw in raw_lines:
            text = normalise_characters(raw["text"]).strip()
            chars = raw.get("chars") or []
            if not text or not chars:
                continue
            sizes = [round(float(c.get("size", 0)), 1) for c in chars]
            bold = sum("bold" in str(c.get("fontname", "")).lower() for c in chars) > len(chars) / 2
            lines.append(Line(text=text, page=page.page_number, top=float(raw["top"]), bottom=float(raw["bottom"]),
                              size=median(sizes), bold=bold, page_height=float(page.height)))
        return lines
    finally:
        page.close()


def running_lines(lines: list[Line], page_count: int) -> set[tuple[int, float]]:
    """Keys (page, top) of lines that are page furniture: page numbers, or text repeated in a margin band."""
    def key_text(line: Line) -> str:
        return re.sub(r"\d+", "#", line.text.lower())

    banded = [line for line in lines if line.in_top_band or line.in_bottom_band]
    repeats = Counter(key_text(line) for line in banded)
    min_repeats = 2 if page_count >= 2 else 10**9
    return {(line.page, line.top) for line in banded
            if PAGE_NUMBER.match(line.text) or repeats[key_text(line)] >= min_repeats}


def lines_to_blocks(lines: list[Line], furniture: set[tuple[int, float]], body_size: float) -> list[Block]:
    """Group consecutive lines into paragraphs, list items and headings."""
    blocks: list[Block] = []
    group: list[Line] = []
    group_kind = BlockKind.PARAGRAPH

    def flush() -> None:
        nonlocal group
        if group:
            blocks.append(Block(text=join_wrapped_lines([ln.text for ln in group]), page=group[0].page, kind=group_kind,
                                level=1 if group_kind is BlockKind.HEADING else 0))
        group = []

    previous: Line | None = None
    for line in lines:
        if (line.page, line.top) in furniture:
            kind = BlockKind.HEADER if line.in_top_band else BlockKind.FOOTER
            blocks.append(Block(text=line.text, page=line.page, kind=kind))
            continue
        heading = body_size > 0 and line.size >= body_size * HEADING_SIZE_RATIO
        bullet_at = bullet_start(line.text)
        new_block = (
            previous is None or previous.page != line.page
            or line.top - previous.bottom > PARAGRAPH_GAP * previous.height
            or heading != (group_kind is BlockKind.HEADING)
            or bullet_at is not None
        )
        if new_block:
            flush()
            group_kind = BlockKind.HEADING if heading else (
                BlockKind.LIST_ITEM if bullet_at is not None else BlockKind.PARAGRAPH)
        text = line.text[bullet_at:].strip() if bullet_at is not None else line.text
        group.append(Line(text=text, page=line.page, top=line.top, bottom=line.bottom, size=line.size,
                          bold=line.bold, page_height=line.page_height))
        previous = line
    flush()
    return blocks
