"""PDF extraction golden tests: reading order, page furniture, hyphenation, ligatures, bullets, tables, headings.

Each fixture is drawn with reportlab in the test's own folder (tests/pdf_fixtures.py);
the corpus checks at the end run on ../shared/pdf-corpus and are skipped without it.
"""

import csv

import pytest

from pipeline.extract import ExtractionError, extract_file
from pipeline.extract.pdf import (
    PdfEncryptedError,
    PdfNeedsOcrError,
    describe_pages,
    extract_pdf,
    extract_with_pdfplumber,
)
from pipeline.extract.pdf_layout import Gutter, PageText, TextLine, find_furniture, find_gutters, heading_levels
from pipeline.types import BlockKind
from tests import pdf_fixtures
from tests.conftest import SHARED

FURNITURE = (BlockKind.HEADER, BlockKind.FOOTER)
CORPUS = SHARED / "pdf-corpus"


def content(extracted):
    return [(block.kind, block.text) for block in extracted.blocks if block.kind not in FURNITURE]


def test_two_columns_drawn_line_by_line_read_column_by_column(tmp_path):
    """The seed briefing (000_c62ad4983681b1c2) interleaved its two bullet columns line by line."""
    extracted = extract_pdf(str(pdf_fixtures.two_column_seed(tmp_path / "seed.pdf")))
    assert content(extracted) == [
        (BlockKind.HEADING, "Scrutiny and regulation"),
        (BlockKind.PARAGRAPH, "The Promise sets out what must change in how care is inspected:"),
        *[(BlockKind.LIST_ITEM, item) for item in pdf_fixtures.SEED_ITEMS],
    ]
    assert extracted.engine == "pypdfium2" and extracted.notes == []


def test_running_heads_page_numbers_and_rotated_margin_text_are_tagged_not_dropped(tmp_path):
    extracted = extract_pdf(str(pdf_fixtures.running_heads(tmp_path / "heads.pdf")))
    assert content(extracted) == [
        (BlockKind.PARAGRAPH, f"Section {n} sets out how the partnership will keep its promise to children and "
                              "families in this area of the plan.") for n in (1, 2, 3)]
    furniture = [(block.page, block.kind, block.text) for block in extracted.blocks if block.kind in FURNITURE]
    for page in (1, 2, 3):
        assert (page, BlockKind.HEADER, "Glenmore Children's Services Plan 2023-2026") in furniture
        assert (page, BlockKind.FOOTER, f"Page {page} of 3") in furniture
        assert (page, BlockKind.HEADER, "DRAFT FOR CONSULTATION") in furniture


def test_line_end_hyphens_rejoined_but_real_hyphens_kept(tmp_path):
    extracted = extract_pdf(str(pdf_fixtures.hyphenated(tmp_path / "hyphens.pdf")))
    assert content(extracted) == [
        (BlockKind.PARAGRAPH, "Scotland must broaden its understanding of risk and build long-term relationships "
                              "through co-regulation and a place-based approach to support."),
        (BlockKind.PARAGRAPH, "Every place-based team will report each year."),
    ]


@pytest.mark.skipif(not pdf_fixtures.DEJAVU.exists(), reason="needs the DejaVu Sans font (fonts-dejavu-core)")
def test_ligature_characters_become_letters(tmp_path):
    extracted = extract_pdf(str(pdf_fixtures.ligatures(tmp_path / "ligatures.pdf")))
    assert content(extracted) == [(BlockKind.PARAGRAPH, "The final flow of efficient finance to families.")]


def test_bullets_of_every_style_become_list_items_after_their_lead_in(tmp_path):
    extracted = extract_pdf(str(pdf_fixtures.bullets(tmp_path / "bullets.pdf")))
    assert content(extracted) == [
        (BlockKind.HEADING, "Our Plan"),
        (BlockKind.HEADING, "Family support"),
        (BlockKind.PARAGRAPH, "The partnership commits to the following actions:"),
        (BlockKind.LIST_ITEM, "Improving continuity of carers for every child"),
        (BlockKind.LIST_ITEM, "Values-based recruitment of all staff, with children on every interview panel"),
        (BlockKind.LIST_ITEM, "Relationship-focussed inspections"),
        (BlockKind.PARAGRAPH, "Progress will be reported to the board twice a year."),
    ]


def test_ruled_table_rows_are_blocks_and_not_also_paragraphs(tmp_path):
    extracted = extract_pdf(str(pdf_fixtures.ruled_table(tmp_path / "table.pdf")))
    assert content(extracted) == [
        (BlockKind.PARAGRAPH, "The actions below are funded for three years."),
        (BlockKind.TABLE_ROW, "Action | Lead | Date"),
        (BlockKind.TABLE_ROW, "Open family hubs | HSCP | 2025"),
        (BlockKind.TABLE_ROW, "Train kinship carers | Council | 2026"),
        (BlockKind.PARAGRAPH, "Each action has a named lead officer."),
    ]


def test_heading_levels_follow_font_size_rank(tmp_path):
    extracted = extract_pdf(str(pdf_fixtures.headings(tmp_path / "headings.pdf")))
    headings = [(block.level, block.text) for block in extracted.blocks if block.kind is BlockKind.HEADING]
    assert headings == [(1, "Children's Services Plan"), (2, "Keeping brothers and sisters together"),
                        (3, "Contact when apart"), (2, "Secure care")]


def test_page_without_text_layer_is_named_in_a_note(tmp_path):
    extracted = extract_pdf(str(pdf_fixtures.text_then_scan(tmp_path / "mixed.pdf", text_pages=2)))
    assert extracted.page_count == 3
    assert extracted.notes == ["page 3 has no usable text layer (scanned or unmapped font): needs OCR"]
    assert [block.page for block in extracted.blocks] == [1, 2]


def test_pdf_without_any_text_raises_needs_ocr_naming_the_pages(tmp_path):
    with pytest.raises(PdfNeedsOcrError, match=r"page 1: .*needs OCR"):
        extract_pdf(str(pdf_fixtures.text_then_scan(tmp_path / "scan.pdf", text_pages=0)))



def test_a_word_alone_on_each_of_hundreds_of_pages_is_text_not_a_scan(tmp_path):
    """Issue 11: one word per page was taken for a running head everywhere, and the file reported as scanned."""
    path = pdf_fixtures.one_word_per_page(tmp_path / "words.pdf", 350)
    extracted = extract_pdf(str(path))
    assert extracted.notes == []
    assert [(block.page, block.kind) for block in extracted.blocks] == [
        (number, BlockKind.PARAGRAPH) for number in range(1, 351)]
    assert [block.text for block in extracted.blocks[:3]] == ["Family", "Siblings", "Kinship"]
    document = extract_file(path)
    assert len(document.blocks) == 350 and not any("OCR" in note for note in document.notes)


def test_a_running_head_on_a_page_left_blank_is_still_a_running_head(tmp_path):
    extracted = extract_pdf(str(pdf_fixtures.running_head_with_a_blank_page(tmp_path / "blank.pdf")))
    assert [(block.page, block.kind) for block in extracted.blocks if block.kind not in FURNITURE] == [
        (1, BlockKind.PARAGRAPH), (3, BlockKind.PARAGRAPH)]
    assert (2, BlockKind.HEADER, "Glenmore Children's Services Plan") in [
        (block.page, block.kind, block.text) for block in extracted.blocks]


def test_a_pdf_of_page_numbers_only_is_not_said_to_need_ocr(tmp_path):
    path = pdf_fixtures.page_numbers_only(tmp_path / "numbers.pdf", 5)
    with pytest.raises(ExtractionError) as raised:
        extract_file(path)
    assert "OCR" not in str(raised.value) and "scanned" not in str(raised.value)
    assert "page numbers" in str(raised.value)

def test_encrypted_pdf_opens_with_its_password_and_fails_clearly_without(tmp_path):
    path = str(pdf_fixtures.encrypted(tmp_path / "locked.pdf", "kinship"))
    assert content(extract_pdf(path, password="kinship")) == [
        (BlockKind.PARAGRAPH, "Confidential draft of the corporate parenting plan.")]
    for wrong in (None, "guess"):
        with pytest.raises(PdfEncryptedError, match="password"):
            extract_pdf(path, password=wrong)


def test_pdfplumber_fallback_reads_the_same_blocks_and_says_why(tmp_path):
    path = str(pdf_fixtures.two_column_seed(tmp_path / "seed.pdf"))
    extracted = extract_with_pdfplumber(path, None, pdfium_reason="Data format error")
    assert content(extracted) == content(extract_pdf(path))
    assert extracted.engine == "pdfplumber (fallback: pypdfium2 could not open the file: Data format error)"
    assert extracted.notes == ["pypdfium2 could not open the file (Data format error); it was read with pdfplumber "
                               "instead"]


def test_pdfplumber_fallback_finds_tables_too(tmp_path):
    path = str(pdf_fixtures.ruled_table(tmp_path / "table.pdf"))
    extracted = extract_with_pdfplumber(path, None, pdfium_reason="test")
    assert content(extracted) == content(extract_pdf(path))


# --- layout rules without a PDF ------------------------------------------------------------------------

def line(text, x0, x1, top, page=1, size=10.0):
    return TextLine(text=text, page=page, x0=x0, x1=x1, top=top, bottom=top + size, size=size)


def test_find_gutters_two_columns_but_not_one_column_or_margins():
    two = [(60, 290, 100 + 13 * i, 110 + 13 * i) for i in range(30)] + [(310, 540, 100 + 13 * i, 110 + 13 * i)
                                                                          for i in range(30)]
    [gutter] = find_gutters(two, 595, 842)
    assert gutter == Gutter(290, 310)
    one = [(60, 540 - (i % 3) * 40, 100 + 13 * i, 110 + 13 * i) for i in range(40)]
    assert find_gutters(one, 595, 842) == []


def test_running_head_needs_repetition_page_number_does_not():
    pages = [PageText(number=n, width=595, height=842, lines=[
        line("Annual report", 60, 200, 30, page=n), line(f"Opening line of page {n}", 60, 500, 100, page=n),
        line("Closing line of the page body", 60, 500, 700, page=n), line(str(n), 290, 300, 800, page=n)])
        for n in (1, 2, 3)]
    pages[1].lines[0] = line("A title only on page two", 60, 300, 30, page=2)
    furniture = find_furniture(pages)
    assert furniture[(1, 0)] is BlockKind.HEADER and furniture[(3, 0)] is BlockKind.HEADER
    assert (2, 0) not in furniture
    assert all(furniture[(n, 3)] is BlockKind.FOOTER for n in (1, 2, 3))
    assert (1, 1) not in furniture and (1, 2) not in furniture


def test_heading_levels_group_near_sizes():
    assert heading_levels([24.0, 16.1, 15.9, 12.0, 16.0]) == {24.0: 1, 16.1: 2, 16.0: 2, 15.9: 2, 12.0: 3}


@pytest.mark.parametrize(("numbers", "expected"), [
    ([4], "page 4"), ([2, 5], "pages 2, 5"), ([1, 2, 3, 7], "pages 1-3, 7"), ([], "no pages")])
def test_describe_pages(numbers, expected):
    assert describe_pages(numbers) == expected


# --- the real-world corpus in ../shared ----------------------------------------------------------------

def corpus_rows():
    if not (CORPUS / "MANIFEST.csv").exists():
        return []
    return list(csv.DictReader((CORPUS / "MANIFEST.csv").open(encoding="utf-8")))


def password_of(row):
    return next((trait.split("=", 1)[1] for trait in row["traits"].split(";") if trait.startswith("password=")), None)


needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/pdf-corpus is not present")


@pytest.mark.slow
@needs_corpus
def test_corpus_two_column_paper_reads_column_by_column():
    extracted = extract_pdf(str(CORPUS / "pdfminer__naacl06-shinyama.pdf"))
    text = "\n".join(block.text for block in extracted.blocks if block.page == 1)
    every_day = text.index("Every day, a large number of news articles are created and reported")
    ie_task = text.index("An IE task can be defined as finding a relation")
    assert every_day < ie_task
    assert "articles and adjust its patterns" in text
    assert any(block.kind is BlockKind.HEADING and block.text == "1 Background" for block in extracted.blocks)


@pytest.mark.slow
@needs_corpus
def test_corpus_whole_run_fails_only_cleanly():
    """Every corpus file gives blocks or one of the clean failures; image-only files say "needs OCR"."""
    for row in corpus_rows():
        path = str(CORPUS / row["file"])
        traits = row["traits"].split(";")
        try:
            extracted = extract_pdf(path, password=password_of(row))
        except PdfNeedsOcrError as error:
            assert "needs OCR" in str(error)
            continue
        except Exception as error:  # the clean failures: damaged or encrypted files, with a reason
            assert any(t in traits for t in ("malformed", "fuzzed", "zero-bytes", "unsupported-filter",
                                              "encrypted")), (row["file"], error)
            continue
        assert "image-only" not in traits or any("needs OCR" in note for note in extracted.notes), row["file"]
        assert extracted.page_count >= 1
