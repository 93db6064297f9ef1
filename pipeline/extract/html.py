"""HTML via BeautifulSoup: the main content's headings, paragraphs, list items and table rows.

Navigation, cookie banners, scripts, styles, forms and site footers are page
furniture, not the document, and are removed before reading.
"""

from __future__ import annotations

import re

from bs4 import BeautifulSoup, Tag

from pipeline.clean import collapse_spaces, normalise_characters
from pipeline.types import Block, BlockKind, Extracted

FURNITURE_TAGS = ("script", "style", "noscript", "nav", "header", "footer", "aside", "form", "template",
                  "iframe", "svg", "button", "select", "head")
FURNITURE_HINT = re.compile(r"cookie|consent|banner|gdpr|navbar|nav-|menu|breadcrumb|site-footer|sidebar|skip-link",
                            re.IGNORECASE)
TEXT_TAGS = ("h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "tr", "blockquote", "pre", "dt", "dd", "figcaption")


def extract_html(path: str, *, password: str | None = None) -> Extracted:
    """Read an HTML file's main content into blocks (one page)."""
    with open(path, "rb") as handle:
        soup = BeautifulSoup(handle.read(), "html.parser")
    remove_furniture(soup)
    root = soup.find("main") or soup.find("article") or soup.body or soup
    blocks = [block for element in text_elements(root) if (block := element_block(element))]
    return Extracted(blocks=blocks, page_count=1, engine="beautifulsoup")


def remove_furniture(soup: BeautifulSoup) -> None:
    for element in soup.find_all(FURNITURE_TAGS):
        element.decompose()
    for element in soup.find_all(True):
        if element.decomposed or element.attrs is None:
            continue
        hints = " ".join([element.get("id") or "", " ".join(element.get("class") or []), element.get("role") or ""])
        if hints.strip() and FURNITURE_HINT.search(hints) and element.name not in ("html", "body", "main", "article"):
            element.decompose()


def text_elements(root: Tag) -> list[Tag]:
    """Outermost text-bearing elements in document order (a <p> inside an <li> is read as part of it)."""
    chosen = []
    for element in root.find_all(TEXT_TAGS):
        if element.find_parent(TEXT_TAGS) is None or element.name == "tr":
            chosen.append(element)
    return chosen


def element_block(element: Tag) -> Block | None:
    if element.name == "tr":
        cells = [collapse_spaces(normalise_characters(cell.get_text(" "))) for cell in element.find_all(["td", "th"])]
        text = " | ".join(cell for cell in cells if cell)
        return Block(text=text, page=1, kind=BlockKind.TABLE_ROW) if text else None
    text = collapse_spaces(normalise_characters(element.get_text(" ")))
    if not text:
        return None
    if element.name[0] == "h" and element.name[1:].isdigit():
        return Block(text=text, page=1, kind=BlockKind.HEADING, level=int(element.name[1]))
    kind = BlockKind.LIST_ITEM if element.name == "li" else BlockKind.PARAGRAPH
    return Block(text=text, page=1, kind=kind)
