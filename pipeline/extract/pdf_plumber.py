"""Read PDF pages with pdfplumber, for files pypdfium2 cannot open: the same TextLines as `pdf_pdfium`.

pdfplumber parses each page's objects in Python (about 20 times slower than
pdfium), so it is the fallback, not the main road. Words come from
`extract_words` with `x_tolerance_ratio`, so tightly justified text is not
glued together; tables come from pdfplumber's own table finder.
"""

from __future__ import annotations

import re
from statistics import median

import pdfplumber

from pipeline.clean import normalise_characters
from pipeline.extract.pdf_layout import Gutter, PageText, TextLine, place_tables, reading_order

#: Word gaps are measured against the font size: a gap over this share of it is a space.
X_TOLERANCE_RATIO = 0.15
#: Words whose tops differ by less than this (points) are on one line.
LINE_TOLERANCE = 3.0
#: pdfplumber writes a glyph without a text mapping as "(cid:N)".
CID_PATTERN = re.compile(r"\(cid:\d+\)")
#: A page whose text is more than this share "(cid:N)" garbage or control characters needs OCR.
MAX_GARBAGE_SHARE = 0.5


def open_document(path: str, password: str | None) -> pdfplumber.PDF:
    """Open with the given password, else the empty one (pdfminer reports a wrong one as PDFPasswordIncorrect)."""
    try:
        return pdfplumber.open(path, password=password or "")
    except Exception as error:
        if password and "password" in type(error).__name__.lower():
            return pdfplumber.open(path, password="")
        raise


def read_page(page: pdfplumber.page.Page) -> PageText:
    """One page as lines in reading order (table rows included); the page is closed afterwards."""
    try:
        result = PageText(number=page.page_number, width=float(page.width), height=float(page.height))
        words = page.extract_words(x_tolerance_ratio=X_TOLERANCE_RATIO, extra_attrs=["size", "fontname", "upright"])
        text = " ".join(word["text"] for word in words)
        if garbage_share(text) > MAX_GARBAGE_SHARE or not text.strip():
            result.needs_ocr = bool(page.images or page.rects or page.curves or page.lines or words)
            return result
        rows = table_rows(page)
        lines = words_to_lines(words, page.page_number)
        boxes = [(w["x0"], w["x1"], w["top"], w["bottom"]) for w in words]
        lines = reading_order(lines, boxes, result.width, result.height,
                              lambda line, gutters: split_words(line, gutters, words))
        result.lines = place_tables(lines, rows)
        return result
    finally:
        page.close()


def garbage_share(text: str) -> float:
    visible = len("".join(text.split()))
    if not visible:
        return 1.0
    cid = sum(len(match) for match in CID_PATTERN.findall(text))
    controls = sum(1 for char in text if ord(char) < 32 and char not in "\t\n\r")
    return (cid + controls) / visible


def words_to_lines(words: list[dict], page_number: int) -> list[TextLine]:
    """Words grouped into lines by their tops, in the order pdfplumber found them (top to bottom)."""
    lines: list[TextLine] = []
    group: list[int] = []
    for index, word in enumerate(words):
        if group and (abs(word["top"] - words[group[-1]]["top"]) > LINE_TOLERANCE
                      or word["x0"] < words[group[-1]]["x0"]):
            lines.append(make_line(words, group, page_number))
            group = []
        group.append(index)
    if group:
        lines.append(make_line(words, group, page_number))
    return [line for line in lines if line.text]


def make_line(words: list[dict], indices: list[int], page_number: int) -> TextLine:
    members = [words[i] for i in indices]
    text = normalise_characters(" ".join(word["text"] for word in members)).strip()
    sizes = [float(word.get("size") or 0) for word in members]
    bold = sum("bold" in str(word.get("fontname", "")).lower() for word in members) > len(members) / 2
    upright = sum(bool(word.get("upright", True)) for word in members) >= len(members) / 2
    return TextLine(text=text, page=page_number, x0=min(w["x0"] for w in members), x1=max(w["x1"] for w in members),
                    top=min(w["top"] for w in members), bottom=max(w["bottom"] for w in members),
                    size=round(median(sizes), 2), bold=bold, rotated=not upright, span=(indices[0], indices[-1] + 1))


def split_words(line: TextLine, gutters: list[Gutter], words: list[dict]) -> list[TextLine]:
    """Cut a line at the gutters its words leave free (two columns read as one line)."""
    indices = list(range(*line.span))
    parts: list[list[int]] = [[]]
    for index in indices:
        word = words[index]
        if any(word["x0"] < g.x1 - 1 and word["x1"] > g.x0 + 1 for g in gutters):
            return [line]
        if parts[-1] and any(words[parts[-1][-1]]["x1"] <= g.x0 + 1 and word["x0"] >= g.x1 - 1 for g in gutters):
            parts.append([])
        parts[-1].append(index)
    if len(parts) < 2:
        return [line]
    return [make_line(words, part, line.page) for part in parts if part]


def table_rows(page: pdfplumber.page.Page) -> list[TextLine]:
    """Rows of the tables pdfplumber's table finder sees (at least 2 x 2), cells joined in order."""
    rows: list[TextLine] = []
    for table in page.find_tables():
        extracted = table.extract(x_tolerance_ratio=X_TOLERANCE_RATIO)
        if len(extracted) < 2 or max(len([c for c in row if c is not None]) for row in extracted) < 2:
            continue
        x0, _, x1, _ = table.bbox
        for row, cells in zip(table.rows, extracted, strict=False):
            kept = [" ".join(normalise_characters(cell).split()) for cell in cells if cell is not None]
            if not any(kept):
                continue
            _, top, _, bottom = row.bbox
            rows.append(TextLine(text=" | ".join(kept), page=page.page_number, x0=x0, x1=x1, top=top, bottom=bottom,
                                 size=0.0, cells=tuple(kept)))
    return rows
