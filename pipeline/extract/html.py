"""HTML via trafilatura: the page's main content as headings, paragraphs, list items and table rows.

Navigation, cookie banners, scripts, styles, forms, sidebars and site footers are
page furniture, not the document. Deciding which is which is a job for a maintained
boilerplate-removal library measured on real web pages, not for hand-written rules:
trafilatura finds the main content (with readability and jusText as its own
fallbacks) and hands it back as XML that keeps the structure this module needs:
`<head rend="h2">`, `<p>`, `<list><item>`, `<table><row><cell>`, `<quote>`.
A page with no content frame of the kinds trafilatura looks for (<main>, <article>,
a div.content, ...) has its body framed in an <article> first, or trafilatura would
keep its paragraphs but drop its headings and lists. Everything runs offline on the
file's bytes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache

import trafilatura
from lxml import etree, html
from trafilatura.settings import use_config
from trafilatura.xpaths import BODY_XPATH

from pipeline.clean import collapse_spaces, normalise_characters
from pipeline.extract.text import check_text
from pipeline.types import Block, BlockKind, Extracted

#: trafilatura settings that differ from its defaults. MIN_EXTRACTED_SIZE: by default a main content
#: shorter than 250 characters makes trafilatura fall back to the page's whole text as one flat
#: paragraph, navigation included; a short page is still a page, so any main content is accepted.
TRAFILATURA_SETTINGS = {"MIN_EXTRACTED_SIZE": "1", "MIN_OUTPUT_SIZE": "1"}
#: A heading whose level trafilatura did not record.
DEFAULT_HEADING_LEVEL = 2
#: Elements read as containers: their children are blocks of their own.
CONTAINER_TAGS = frozenset({"main", "div", "section", "quote", "body", "doc"})
TABLE_CELL_SEPARATOR = " | "
FRAGMENT_WRAPPER = b"<html><body>%s</body></html>"
#: Characters XML 1.0 does not allow. The HTML parser accepts them (a `&#11;` becomes a vertical tab), but
#: trafilatura builds XML from the page, and one such character in it made the whole page "no main content".
XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def extract_html(path: str, *, password: str | None = None) -> Extracted:
    """Read an HTML file's main content into blocks (one page)."""
    with open(path, "rb") as handle:
        markup = handle.read()
    check_text(markup)
    xml = main_content_xml(markup)
    if not xml:
        return Extracted(blocks=[], page_count=1, notes=["no main content found in the page"], engine="trafilatura")
    root = etree.fromstring(xml.encode("utf-8"), parser=etree.XMLParser(recover=True, huge_tree=True))
    main = root.find("main")
    blocks = list(element_blocks(main if main is not None else root))
    return Extracted(blocks=blocks, page_count=1, engine="trafilatura")


def main_content_xml(markup: bytes) -> str | None:
    """The XML trafilatura makes of the page's main content, or None when it finds none."""
    tree = trafilatura.load_html(markup)
    if tree is None or tree.tag != "html":  # a fragment (a saved snippet): read it as the body of a page
        tree = trafilatura.load_html(FRAGMENT_WRAPPER % markup)
    if tree is None:
        return None
    remove_xml_illegal_characters(tree)
    if not has_content_frame(tree):
        frame_the_body(tree)
    return trafilatura.extract(tree, output_format="xml", include_tables=True, include_comments=False,
                               include_images=False, include_links=False, include_formatting=False,
                               deduplicate=False, with_metadata=False, config=trafilatura_config())


def remove_xml_illegal_characters(tree: html.HtmlElement) -> None:
    """Replace characters that XML forbids with spaces, in every text, tail and attribute of the parsed page.

    Done on the parsed tree rather than the bytes, so it holds for character
    references (`&#11;`, `&#x0C;`) and for any encoding, UTF-16 included. A space,
    not nothing: Word writes a line break within a paragraph as a vertical tab.
    """
    for element in tree.iter():
        if element.text and XML_ILLEGAL.search(element.text):
            element.text = XML_ILLEGAL.sub(" ", element.text)
        if element.tail and XML_ILLEGAL.search(element.tail):
            element.tail = XML_ILLEGAL.sub(" ", element.tail)
        for name, value in element.attrib.items():
            if XML_ILLEGAL.search(value):
                element.set(name, XML_ILLEGAL.sub(" ", value))


def has_content_frame(tree: html.HtmlElement) -> bool:
    """Whether trafilatura will find a content frame (an <article>, <main>, a div.content, ...) in the page."""
    return any(len(expression(tree)) for expression in BODY_XPATH)


def frame_the_body(tree: html.HtmlElement) -> None:
    """Put the body's children inside an <article>, so a page without a content frame keeps its structure.

    Without a frame, trafilatura only recovers loose paragraphs and tables, and
    drops headings and lists: a plain page (or Word's "save as web page") would lose
    its headings. Its furniture rules (navigation, banners, footers) still apply inside.
    """
    body = tree.find(".//body")
    if body is None:
        return
    frame = html.Element("article")
    frame.text, body.text = body.text, None
    for child in list(body):
        frame.append(child)
    body.append(frame)


@lru_cache(maxsize=1)
def trafilatura_config():
    config = use_config()
    for name, value in TRAFILATURA_SETTINGS.items():
        config.set("DEFAULT", name, value)
    return config


def element_blocks(element: etree._Element) -> Iterator[Block]:
    """The blocks of one element of trafilatura's XML and, for containers, of its children, in order."""
    tag = element.tag if isinstance(element.tag, str) else ""
    if tag == "head":
        text = element_text(element)
        if text:
            yield Block(text=text, page=1, kind=BlockKind.HEADING, level=heading_level(element))
    elif tag == "list":
        yield from list_blocks(element)
    elif tag == "table":
        yield from table_blocks(element)
    elif tag in CONTAINER_TAGS or (tag and has_block_children(element)):
        lead = clean_text(element.text or "")
        if lead:
            yield Block(text=lead, page=1)
        for child in element:
            yield from element_blocks(child)
            tail = clean_text(child.tail or "")
            if tail:
                yield Block(text=tail, page=1)
    elif tag:
        text = element_text(element)
        if text:
            yield Block(text=text, page=1)


def has_block_children(element: etree._Element) -> bool:
    return any(child.tag in ("p", "head", "list", "table", "quote", "div") for child in element)


def heading_level(element: etree._Element) -> int:
    rend = (element.get("rend") or "").lower()
    if len(rend) == 2 and rend[0] == "h" and rend[1] in "123456":
        return int(rend[1])
    return DEFAULT_HEADING_LEVEL


def list_blocks(element: etree._Element) -> Iterator[Block]:
    """One list item per <item>; a nested list's items follow their parent item as items of their own."""
    for item in element.iterchildren("item"):
        nested = [child for child in item if child.tag == "list"]
        text = element_text(item, skip=("list",))
        if text:
            yield Block(text=text, page=1, kind=BlockKind.LIST_ITEM)
        for sublist in nested:
            yield from list_blocks(sublist)


def table_blocks(element: etree._Element) -> Iterator[Block]:
    """One table row per <row>, its cells joined with ' | '; empty cells are left out."""
    for row in element.iter("row"):
        cells = [element_text(cell) for cell in row.iterchildren("cell")]
        text = TABLE_CELL_SEPARATOR.join(cell for cell in cells if cell)
        if text:
            yield Block(text=text, page=1, kind=BlockKind.TABLE_ROW)


def element_text(element: etree._Element, *, skip: tuple[str, ...] = ()) -> str:
    """All text inside `element` (line breaks as spaces), leaving out the subtrees tagged in `skip`."""
    parts: list[str] = [element.text or ""]
    for child in element:
        if child.tag not in skip:
            parts.append(element_text(child, skip=skip))
        parts.append(child.tail or "")
    return clean_text(" ".join(parts))


def clean_text(text: str) -> str:
    return collapse_spaces(normalise_characters(text).replace("\n", " "))
