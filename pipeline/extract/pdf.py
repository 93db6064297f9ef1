"""PDF -> blocks with page numbers: pypdfium2 reads the pages, `pdf_layout` turns lines into blocks.

pypdfium2 is the main reader because it is about twenty times faster than
pdfplumber and reads text in content order; the layout rules (column gutters,
running heads, headings by font size, paragraphs, bullets, ruled tables with
pdfplumber's table finder) run on the line geometry it reports. pdfplumber
reads the whole file when pypdfium2 cannot open it, and the engine says so.

Pages are opened and closed one at a time, so memory stays flat however long
the document is; only the extracted lines are kept.
"""

from __future__ import annotations

import pypdfium2 as pdfium

from pipeline.extract import pdf_pdfium, pdf_plumber
from pipeline.extract.pdf_layout import PageText, lines_to_blocks
from pipeline.types import Extracted

PDFIUM_ENGINE = "pypdfium2"
PLUMBER_ENGINE = "pdfplumber"


class PdfEncryptedError(Exception):
    """The PDF is encrypted and the password given (or the empty password) does not open it."""


class PdfNeedsOcrError(Exception):
    """No page of the PDF has a usable text layer."""


class PdfUnreadableError(Exception):
    """Neither PDF library can open the file."""


def extract_pdf(path: str, *, password: str | None = None) -> Extracted:
    """Read a PDF into blocks with page numbers, raising if it cannot be opened or has no text at all.

    Problems that leave a usable Document (scanned pages, pages that fail to
    load, a fallback reader) are returned as `notes`, one sentence each.
    """
    try:
        document = pdf_pdfium.open_document(path, password)
    except pdf_pdfium.PdfiumPasswordError as error:
        raise PdfEncryptedError(str(error)) from error
    except pdfium.PdfiumError as error:
        return extract_with_pdfplumber(path, password, pdfium_reason=str(error))
    try:
        page_count = len(document)
        pages, failed = [], []
        for index in range(page_count):
            try:
                pages.append(pdf_pdfium.read_page(document, index))
            except pdfium.PdfiumError:
                failed.append(index + 1)
    finally:
        document.close()
    notes = [f"{describe_pages(failed)} could not be read (damaged page data) and are left out"] if failed else []
    return finish(pages, page_count, engine=PDFIUM_ENGINE, notes=notes)


def extract_with_pdfplumber(path: str, password: str | None, *, pdfium_reason: str) -> Extracted:
    """The fallback reader, for files pypdfium2 cannot open; raises if pdfplumber cannot open them either."""
    try:
        document = pdf_plumber.open_document(path, password)
    except Exception as error:
        if "password" in type(error).__name__.lower():
            raise PdfEncryptedError("encrypted PDF: the password given (or the empty password) does not open it") \
                from error
        raise PdfUnreadableError(f"neither pypdfium2 ({pdfium_reason}) nor pdfplumber ({type(error).__name__}: "
                                 f"{str(error)[:160]}) can open it") from error
    with document:
        page_count = len(document.pages)
        pages, failed = [], []
        for page in document.pages:
            try:
                pages.append(pdf_plumber.read_page(page))
            except Exception:  # pdfminer fails on damaged pages in many ways; the page is reported, not fatal
                failed.append(page.page_number)
    notes = [f"pypdfium2 could not open the file ({pdfium_reason}); it was read with pdfplumber instead"]
    if failed:
        notes.append(f"{describe_pages(failed)} could not be read (damaged page data) and are left out")
    engine = f"{PLUMBER_ENGINE} (fallback: pypdfium2 could not open the file: {pdfium_reason})"
    return finish(pages, page_count, engine=engine, notes=notes)


def finish(pages: list[PageText], page_count: int, *, engine: str, notes: list[str]) -> Extracted:
    """Blocks from the pages read, with a note naming the pages that need OCR; raise if no page has text."""
    if page_count == 0:
        raise PdfUnreadableError("the PDF has no pages (its page tree is empty or damaged)")
    scanned = [page.number for page in pages if page.needs_ocr]
    if not any(page.lines for page in pages):
        empty = scanned or [page.number for page in pages] or list(range(1, page_count + 1))
        raise PdfNeedsOcrError(f"no page has a usable text layer ({describe_pages(empty)}: scanned, blank or "
                               "unmapped font): needs OCR")
    if scanned:
        verb = "has" if len(scanned) == 1 else "have"
        notes = [*notes, f"{describe_pages(scanned)} {verb} no usable text layer (scanned or unmapped font): "
                         "needs OCR"]
    return Extracted(blocks=lines_to_blocks(pages), page_count=page_count, notes=notes, engine=engine)


def describe_pages(numbers: list[int]) -> str:
    """Page lists a person can read, ranges collapsed: "page 4", "pages 2, 5" or "pages 1-40, 42"."""
    if not numbers:
        return "no pages"
    ranges: list[str] = []
    start = previous = numbers[0]
    for number in [*numbers[1:], None]:
        if number is not None and number == previous + 1:
            previous = number
            continue
        ranges.append(str(start) if start == previous else f"{start}-{previous}")
        if number is not None:
            start = previous = number
    return ("page " if len(numbers) == 1 else "pages ") + ", ".join(ranges)
