"""DOCX via python-docx: body paragraphs, lists and tables in document order; headers and footers left out.

Word files carry no page numbers of their own; pages are counted from the page
breaks Word recorded when it last laid the file out, or from explicit breaks.
"""

from __future__ import annotations

import re

import docx
from docx.oxml.ns import qn
from docx.table import Table
from docx.text.paragraph import Paragraph

from pipeline.clean import collapse_spaces, normalise_characters
from pipeline.types import Block, BlockKind, Extracted

HEADING_STYLE = re.compile(r"^heading\s*(\d)$", re.IGNORECASE)


def extract_docx(path: str, *, password: str | None = None) -> Extracted:
    """Read a .docx into blocks, in document order."""
    document = docx.Document(path)
    body = document.element.body
    rendered_breaks = bool(body.findall(".//" + qn("w:lastRenderedPageBreak")))
    blocks: list[Block] = []
    page = 1
    for element in body.iterchildren():
        if element.tag == qn("w:p"):
            paragraph = Paragraph(element, document)
            page += count_page_breaks(element, rendered_breaks)
            block = paragraph_block(paragraph, page)
            if block:
                blocks.append(block)
        elif element.tag == qn("w:tbl"):
            blocks.extend(table_blocks(Table(element, document), page))
    return Extracted(blocks=blocks, page_count=page, engine="python-docx")


def count_page_breaks(element, rendered_breaks: bool) -> int:
    if rendered_breaks:
        return len(element.findall(".//" + qn("w:lastRenderedPageBreak")))
    return sum(1 for br in element.findall(".//" + qn("w:br")) if br.get(qn("w:type")) == "page")


def paragraph_block(paragraph: Paragraph, page: int) -> Block | None:
    text = collapse_spaces(normalise_characters(paragraph.text))
    if not text:
        return None
    style = (paragraph.style.name if paragraph.style is not None else "") or ""
    heading = HEADING_STYLE.match(style)
    if heading:
        return Block(text=text, page=page, kind=BlockKind.HEADING, level=int(heading.group(1)))
    if style.lower() == "title":
        return Block(text=text, page=page, kind=BlockKind.HEADING, level=1)
    numbered = paragraph._p.pPr is not None and paragraph._p.pPr.numPr is not None
    if numbered or style.lower().startswith("list"):
        return Block(text=text, page=page, kind=BlockKind.LIST_ITEM)
    return Block(text=text, page=page)


def table_blocks(table: Table, page: int) -> list[Block]:
    """One block per row, cells in order; merged cells repeated by python-docx are kept once."""
    blocks = []
    for row in table.rows:
        cells: list[str] = []
        for cell in row.cells:
            text = collapse_spaces(normalise_characters(cell.text))
            if text and (not cells or cells[-1] != text):
                cells.append(text)
        if cells:
            blocks.append(Block(text=" | ".join(cells), page=page, kind=BlockKind.TABLE_ROW))
    return blocks
