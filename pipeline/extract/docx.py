"""DOCX via python-docx: body paragraphs, lists and tables in document order; headers and footers left out.

Headings are known by style ("Heading 1".."Heading 9", "Title") or by the outline
level a custom style or paragraph sets, the way Word's navigation pane knows them.
List items are paragraphs numbered directly or through their style (bullets and
numbered lists alike; Word draws the bullet or number, so the text has none).
Tables give one block per row, cells joined with " | "; a table nested in a cell
gives its own rows after the row that holds it. Content inside content controls
(`w:sdt`), tracked insertions and text boxes is body text and is read; deleted text,
field codes and generated tables of contents are not.

Word files carry no page numbers of their own; pages are counted from the page
breaks Word recorded when it last laid the file out, or from explicit breaks.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import docx
from docx.enum.style import WD_STYLE_TYPE
from docx.oxml.ns import qn

from pipeline.clean import collapse_spaces, normalise_characters
from pipeline.types import Block, BlockKind, Extracted

HEADING_STYLE = re.compile(r"^heading\s*(\d)$", re.IGNORECASE)
#: Word's outline level 9 (value "9") means body text; 0-8 are heading levels 1-9.
BODY_OUTLINE_LEVEL = 9
#: Styles of the paragraphs Word generates for a table of contents ("TOC 1", "toc 2", "TOC Heading").
TOC_STYLE = re.compile(r"^toc\b", re.IGNORECASE)
TABLE_CELL_SEPARATOR = " | "

P, TBL, TR, TC, SDT, SDT_CONTENT = (qn(tag) for tag in ("w:p", "w:tbl", "w:tr", "w:tc", "w:sdt", "w:sdtContent"))
TEXT_BOX = qn("w:txbxContent")
FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
RUN_TEXT = {qn("w:t"): None, qn("w:tab"): "\t", qn("w:br"): "\n", qn("w:cr"): "\n", qn("w:noBreakHyphen"): "-"}
RENDERED_BREAK = qn("w:lastRenderedPageBreak")


@dataclass(frozen=True)
class StyleRole:
    """What a paragraph style makes of its paragraphs."""

    heading_level: int = 0
    is_list: bool = False
    is_toc: bool = False


def extract_docx(path: str, *, password: str | None = None) -> Extracted:
    """Read a .docx into blocks, in document order."""
    document = docx.Document(path)
    body = document.element.body
    reader = BodyReader(styles=style_roles(document),
                        rendered_breaks=any(True for _ in body.iter(RENDERED_BREAK)))
    blocks = list(reader.blocks(body))
    return Extracted(blocks=blocks, page_count=reader.page, engine="python-docx")


def style_roles(document) -> dict[str, StyleRole]:
    """Each paragraph style's role by style id, following `based on` chains for outline levels and numbering."""
    roles: dict[str, StyleRole] = {}
    for style in document.styles:
        if style.type != WD_STYLE_TYPE.PARAGRAPH or style.style_id is None:
            continue
        name = style.name or ""
        heading = HEADING_STYLE.match(name)
        level = int(heading.group(1)) if heading else (1 if name.lower() == "title" else 0)
        numbered, chain = False, style
        seen: set[str] = set()
        while chain is not None and chain.style_id not in seen:
            seen.add(chain.style_id)
            properties = chain.element.find(qn("w:pPr"))
            if properties is not None:
                level = level or outline_heading_level(properties)
                numbered = numbered or properties.find(qn("w:numPr")) is not None
            chain = getattr(chain, "base_style", None)
        roles[style.style_id] = StyleRole(heading_level=level, is_list=numbered or name.lower().startswith("list"),
                                          is_toc=bool(TOC_STYLE.match(name)))
    return roles


def outline_heading_level(properties) -> int:
    """Heading level 1-9 from a `w:pPr`'s outline level, or 0 when it sets none (or body text)."""
    outline = properties.find(qn("w:outlineLvl"))
    if outline is None:
        return 0
    try:
        value = int(outline.get(qn("w:val")))
    except (TypeError, ValueError):
        return 0
    return value + 1 if 0 <= value < BODY_OUTLINE_LEVEL else 0


class BodyReader:
    """Walks the body's XML in order, keeping the page count as it meets page breaks."""

    def __init__(self, *, styles: dict[str, StyleRole], rendered_breaks: bool) -> None:
        self.styles = styles
        self.rendered_breaks = rendered_breaks
        self.page = 1

    def blocks(self, container) -> Iterator[Block]:
        """Blocks of the paragraphs and tables directly in `container` (body, cell, content control)."""
        for element in container.iterchildren():
            if element.tag == P:
                yield from self.paragraph_blocks(element)
            elif element.tag == TBL:
                yield from self.table_blocks(element)
            elif element.tag == SDT:
                content = element.find(SDT_CONTENT)
                if content is not None:
                    yield from self.blocks(content)

    def paragraph_blocks(self, paragraph) -> Iterator[Block]:
        before, after = self.page_breaks(paragraph)
        self.page += before
        page = self.page
        self.page += after
        block = self.paragraph_block(paragraph, page)
        if block is not None:
            yield block
        for box in text_boxes(paragraph):
            for inner in box.iterchildren(P):
                inner_block = self.paragraph_block(inner, page)
                if inner_block is not None:
                    yield inner_block

    def paragraph_block(self, paragraph, page: int) -> Block | None:
        text = collapse_spaces(normalise_characters(paragraph_text(paragraph)).replace("\n", " "))
        if not text:
            return None
        properties = paragraph.find(qn("w:pPr"))
        style_id = None
        if properties is not None and properties.find(qn("w:pStyle")) is not None:
            style_id = properties.find(qn("w:pStyle")).get(qn("w:val"))
        role = self.styles.get(style_id, StyleRole()) if style_id else StyleRole()
        if role.is_toc:
            return None
        level = (outline_heading_level(properties) if properties is not None else 0) or role.heading_level
        if level:
            return Block(text=text, page=page, kind=BlockKind.HEADING, level=level)
        numbered = properties is not None and properties.find(qn("w:numPr")) is not None
        if numbered or role.is_list:
            return Block(text=text, page=page, kind=BlockKind.LIST_ITEM)
        return Block(text=text, page=page)

    def table_blocks(self, table) -> Iterator[Block]:
        """One block per row; a cell spanning columns counts once; nested tables follow their row."""
        for row in table.iter(TR):
            if nearest(row, TBL) is not table:
                continue
            cells: list[str] = []
            nested: list = []
            page = self.page
            for cell in row.iter(TC):
                if nearest(cell, TR) is not row:
                    continue
                texts = []
                for paragraph in cell_paragraphs(cell):
                    before, after = self.page_breaks(paragraph)
                    self.page += before + after
                    block = self.paragraph_block(paragraph, page)
                    if block is not None:
                        texts.append(block.text)
                nested.extend(child for child in cell.iter(TBL) if nearest(child, TC) is cell)
                if texts:
                    cells.append(" ".join(texts))
            if cells:
                yield Block(text=TABLE_CELL_SEPARATOR.join(cells), page=page, kind=BlockKind.TABLE_ROW)
            for inner in nested:
                yield from self.table_blocks(inner)

    def page_breaks(self, paragraph) -> tuple[int, int]:
        """Page breaks in a paragraph (not in its text boxes): (before its first text, after it)."""
        before = after = 0
        seen_text = False
        properties = paragraph.find(qn("w:pPr"))
        if not self.rendered_breaks and properties is not None:
            if properties.find(qn("w:pageBreakBefore")) is not None:
                before += 1
        for element in paragraph.iter(qn("w:t"), RENDERED_BREAK, qn("w:br")):
            if nearest(element, P) is not paragraph:
                continue
            if element.tag == qn("w:t"):
                seen_text = seen_text or bool(element.text and element.text.strip())
                continue
            is_break = (element.tag == RENDERED_BREAK) if self.rendered_breaks else (
                element.tag == qn("w:br") and element.get(qn("w:type")) == "page")
            if is_break:
                if seen_text:
                    after += 1
                else:
                    before += 1
        if not self.rendered_breaks and properties is not None:
            section = properties.find(qn("w:sectPr"))
            if section is not None and section_starts_new_page(section):
                after += 1
        return before, after


def section_starts_new_page(section) -> bool:
    kind = section.find(qn("w:type"))
    return kind is None or kind.get(qn("w:val")) not in ("continuous",)


def paragraph_text(paragraph) -> str:
    """The text Word shows for a paragraph, run by run.

    Runs inside hyperlinks, field results, content controls and tracked insertions
    count; deleted text, field codes and the paragraphs of its text boxes do not.
    """
    parts: list[str] = []
    for element in paragraph.iter(*RUN_TEXT):
        if nearest(element, P) is not paragraph or in_fallback(element, paragraph):
            continue
        parent = element.getparent()
        if parent is None or parent.tag != qn("w:r"):
            continue  # e.g. tab stops in paragraph properties
        replacement = RUN_TEXT[element.tag]
        parts.append(element.text or "" if replacement is None else replacement)
    return "".join(parts)


def text_boxes(paragraph) -> list:
    """Text boxes anchored in this paragraph, once each (Word also stores a fallback copy)."""
    return [box for box in paragraph.iter(TEXT_BOX)
            if nearest(box.getparent(), P) is paragraph and not in_fallback(box, paragraph)]


def cell_paragraphs(cell) -> Iterator:
    """Paragraphs of a cell, also inside content controls, but not those of nested tables."""
    for element in cell.iterchildren():
        if element.tag == P:
            yield element
        elif element.tag == SDT:
            content = element.find(SDT_CONTENT)
            if content is not None:
                yield from (child for child in content.iterchildren(P))


def nearest(element, tag: str):
    """The closest ancestor-or-self of `element` with `tag`, or None."""
    while element is not None and element.tag != tag:
        element = element.getparent()
    return element


def in_fallback(element, stop) -> bool:
    """Whether `element` sits in an mc:Fallback (a duplicate for old readers) below `stop`."""
    element = element.getparent()
    while element is not None and element is not stop:
        if element.tag == FALLBACK:
            return True
        element = element.getparent()
    return False
