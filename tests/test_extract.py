import pytest

from pipeline.clean import join_wrapped_lines, normalise_characters, strip_bullet
from pipeline.extract import ExtractionError, extract_all, extract_file, list_inputs
from pipeline.extract.text import parse_text
from pipeline.types import BlockKind, Document, Skipped
from tests.conftest import make_docx, make_pdf


def kinds_and_texts(document):
    return [(block.kind, block.text) for block in document.blocks]


# --- cleaning -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("lines", "expected"), [
    (["Scotland must broaden its under-", "standing of risk."], "Scotland must broaden its understanding of risk."),
    (["a long-", "term plan"], "a long-term plan"),
    (["secure attachment and co-", "regulation"], "secure attachment and co-regulation"),
    (["Children's Hearings -", "Reporter"], "Children's Hearings - Reporter"),
    (["  spaced   out  ", "", "words "], "spaced out words"),
])
def test_join_wrapped_lines(lines, expected):
    assert join_wrapped_lines(lines) == expected


def test_normalise_characters_ligatures_soft_hyphens_controls():
    assert normalise_characters("e\ufb00ective \ufb01nance re\u00adview\x07 a\u00a0b") == "effective finance review a b"


@pytest.mark.parametrize(("line", "expected"), [
    ("• Improving continuity of carers", "Improving continuity of carers"),
    ("▶ Relationship-focussed inspections", "Relationship-focussed inspections"),
    ("– values-based recruitment", "values-based recruitment"),
    ("e Scotland must re-orientate its system", "Scotland must re-orientate its system"),
    ("every child matters", "every child matters"),
])
def test_strip_bullet(line, expected):
    assert strip_bullet(line) == expected


# --- plain text and Markdown ------------------------------------------------------------------------

def test_text_paragraphs_headings_bullets_and_lead_in():
    text = ("Secure Care\n\nThe Promise calls for change,\nincluding:\n\n"
            "  • Spending time in Secure Care must be as short as possible\n  • Therapeutic support\n")
    blocks, pages = parse_text(text)
    assert pages == 1
    assert [(b.kind, b.text) for b in blocks] == [
        (BlockKind.HEADING, "Secure Care"),
        (BlockKind.PARAGRAPH, "The Promise calls for change, including:"),
        (BlockKind.LIST_ITEM, "Spending time in Secure Care must be as short as possible"),
        (BlockKind.LIST_ITEM, "Therapeutic support"),
    ]


def test_markdown_headings_links_emphasis_and_tables():
    text = ("# Plan\n\n## **3 Introduction**\n\nRead [the promise](#) and **act**.\n\n"
            "| Area | Lead |\n|---|---|\n| Care | SG |\n")
    blocks, _ = parse_text(text)
    assert [(b.kind, b.level, b.text) for b in blocks] == [
        (BlockKind.HEADING, 1, "Plan"), (BlockKind.HEADING, 2, "3 Introduction"),
        (BlockKind.PARAGRAPH, 0, "Read the promise and act."),
        (BlockKind.TABLE_ROW, 0, "Area | Lead"), (BlockKind.TABLE_ROW, 0, "Care | SG"),
    ]


def test_text_page_markers_and_form_feeds():
    blocks, pages = parse_text("First page text.\fSecond page text.\n--- page 7 ---\nSeventh page text.")
    assert [(b.page, b.text) for b in blocks] == [(1, "First page text."), (2, "Second page text."),
                                                  (7, "Seventh page text.")]
    assert pages == 7


def test_paragraph_cut_by_blank_line_mid_sentence_is_rejoined():
    blocks, _ = parse_text("- There must be consistency so all are looking at the same\n\nthings and share values.")
    assert [(b.kind, b.text) for b in blocks] == [
        (BlockKind.LIST_ITEM, "There must be consistency so all are looking at the same things and share values.")]


def test_text_file_in_other_encodings(tmp_path):
    path = tmp_path / "latin.txt"
    path.write_bytes("Caf\xe9 culture in care homes \x96 a review.".encode("latin-1"))
    assert extract_file(path).blocks[0].text == "Café culture in care homes – a review."



@pytest.mark.parametrize(("codec", "byte_order_mark"), [
    ("utf-16-le", b"\xff\xfe"), ("utf-16-be", b"\xfe\xff"),
    ("utf-32-le", b"\xff\xfe\x00\x00"), ("utf-32-be", b"\x00\x00\xfe\xff"),
])
def test_text_files_in_utf16_and_utf32_with_a_byte_order_mark_are_read(tmp_path, codec, byte_order_mark):
    text = "# Café culture\n\nBrothers and sisters – together – wherever it is safe.\n"
    path = tmp_path / f"{codec}.md"
    path.write_bytes(byte_order_mark + text.encode(codec))
    (result,) = extract_all([path], cache_dir=None, workers=0)
    assert result.problems == ()
    assert [(b.kind, b.text) for b in result.document.blocks] == [
        (BlockKind.HEADING, "Café culture"),
        (BlockKind.PARAGRAPH, "Brothers and sisters – together – wherever it is safe.")]


def random_bytes(size, *, with_nul):
    import random

    generator = random.Random(9)
    data = bytes(generator.randrange(256) for _ in range(size))
    return data if with_nul else data.replace(b"\x00", b"")


@pytest.mark.parametrize("suffix", [".html", ".htm", ".txt", ".md"])
@pytest.mark.parametrize("with_nul", [True, False])
def test_random_bytes_under_a_text_name_are_not_a_text_file(tmp_path, suffix, with_nul):
    path = tmp_path / f"noise{suffix}"
    path.write_bytes(random_bytes(20_000, with_nul=with_nul))
    (result,) = extract_all([path], cache_dir=None, workers=0)
    assert result.document is None
    assert [(p.stage, p.reason.split(":")[0]) for p in result.problems] == [("extract", "not a text file")]


def test_text_with_tabs_form_feeds_and_windows_line_ends_is_still_text(tmp_path):
    path = tmp_path / "plan.txt"
    path.write_bytes(b"Care plan\r\n\r\nItem\tLead\r\nKinship\tSG\f\x1b[1mBrothers and sisters stay together.\r\n")
    assert "Brothers and sisters stay together." in extract_file(path).text

# --- PDF, DOCX, HTML ------------------------------------------------------------------------------------

def test_pdf_headings_paragraphs_pages_and_footers(tmp_path):
    path = make_pdf(tmp_path / "plan.pdf", [
        [("h1", "Keeping Brothers and Sisters Together"),
         ("body", "Brothers and sisters will live together wherever it is safe. We will monitor every "
                  "placement decision that separates siblings and report on it each year.")],
        [("h1", "Secure Care"), ("body", "No child will be held in secure care because community options are "
                                         "lacking.")],
    ], running_head="Glenmore Children's Services Plan")
    document = extract_file(path)
    assert document.page_count == 2
    content = [(b.page, b.kind, b.text) for b in document.blocks if b.kind not in (BlockKind.HEADER, BlockKind.FOOTER)]
    assert content[0] == (1, BlockKind.HEADING, "Keeping Brothers and Sisters Together")
    assert content[1][1] is BlockKind.PARAGRAPH and content[1][2].startswith("Brothers and sisters will live together")
    assert content[1][2].endswith("report on it each year.")
    assert (2, BlockKind.HEADING, "Secure Care") in content
    furniture = {(b.kind, b.text) for b in document.blocks if b.kind in (BlockKind.HEADER, BlockKind.FOOTER)}
    assert (BlockKind.FOOTER, "1") in furniture and (BlockKind.FOOTER, "2") in furniture
    assert (BlockKind.HEADER, "Glenmore Children's Services Plan") in furniture


def test_docx_headings_lists_tables_pages_without_header_footer(tmp_path):
    path = make_docx(tmp_path / "plan.docx", heading="Family Support", paragraphs=["We will open family hubs."],
                     bullets=["Stay and play groups", "Parenting advice"], table=[["Action", "Lead"], ["Hubs", "HSCP"]],
                     second_page="Second page paragraph.")
    document = extract_file(path)
    assert kinds_and_texts(document) == [
        (BlockKind.HEADING, "Family Support"), (BlockKind.PARAGRAPH, "We will open family hubs."),
        (BlockKind.LIST_ITEM, "Stay and play groups"), (BlockKind.LIST_ITEM, "Parenting advice"),
        (BlockKind.TABLE_ROW, "Action | Lead"), (BlockKind.TABLE_ROW, "Hubs | HSCP"),
        (BlockKind.PARAGRAPH, "Second page paragraph."),
    ]
    assert document.blocks[-1].page == 2 and document.page_count == 2
    assert "RUNNING" not in document.text


def test_html_main_content_only(tmp_path):
    path = tmp_path / "page.html"
    path.write_text("""<html><head><title>t</title><style>p{color:red}</style></head><body>
      <nav><a href="/">Home</a> <a href="/news">News</a></nav>
      <div id="cookie-banner"><p>We use cookies to improve your experience.</p></div>
      <main><h1>Kinship Care</h1><p>Kinship carers will get the same support as foster carers.</p>
      <ul><li>Allowances</li><li>Training</li></ul>
      <table><tr><td>Action</td><td>Lead</td></tr></table></main>
      <script>alert('x')</script><footer>Copyright council</footer></body></html>""", encoding="utf-8")
    assert kinds_and_texts(extract_file(path)) == [
        (BlockKind.HEADING, "Kinship Care"),
        (BlockKind.PARAGRAPH, "Kinship carers will get the same support as foster carers."),
        (BlockKind.LIST_ITEM, "Allowances"), (BlockKind.LIST_ITEM, "Training"), (BlockKind.TABLE_ROW, "Action | Lead"),
    ]


def test_block_spans_index_document_text(tmp_path):
    path = tmp_path / "a.md"
    path.write_text("# Title\n\nOne paragraph here.\n\n- item one\n- item two\n", encoding="utf-8")
    document = extract_file(path)
    for block in document.blocks:
        assert document.text[block.start:block.end] == block.text


# --- bad files --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "content", "reason"), [
    ("empty.pdf", b"", "empty file"),
    ("broken.pdf", b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\ngarbage without xref", "damaged or unreadable PDF"),
    ("page.pdf", b"<!DOCTYPE html><html><body>not a pdf</body></html>", "not a PDF"),
    ("old.docx", b"\xd0\xcf\x11\xe0 legacy word", "not a DOCX"),
    ("slides.pptx", b"PK\x03\x04", "unsupported file type '.pptx'"),
    ("binary.txt", b"\x00\x01\x02binary", "binary content"),
    ("blank.txt", b"   \n\n  ", "no text found"),
])
def test_bad_files_raise_a_clear_reason(tmp_path, name, content, reason):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ExtractionError, match=reason):
        extract_file(path)


def test_extract_all_reports_bad_files_and_goes_on(tmp_path):
    (tmp_path / "a_good.txt").write_text("Brothers and sisters must stay together.", encoding="utf-8")
    (tmp_path / "b_bad.pdf").write_bytes(b"%PDF-1.4 truncated")
    (tmp_path / "c_notes.xyz").write_text("whatever", encoding="utf-8")
    (tmp_path / "d_good.md").write_text("# Heading\n\nFamily support for all.", encoding="utf-8")
    (tmp_path / ".hidden.txt").write_text("ignored", encoding="utf-8")
    results = list(extract_all(list_inputs(tmp_path)))
    assert [type(r.document) for r in results] == [Document, type(None), type(None), Document]
    problems = [p for r in results for p in r.problems]
    assert all(isinstance(p, Skipped) for p in problems)
    assert [(p.file, p.stage) for p in problems] == [("b_bad.pdf", "extract"), ("c_notes.xyz", "extract")]


def test_list_inputs_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError):
        list_inputs(tmp_path / "nope")


# --- wrapped lines joined in linear time (issue 11: 300 KB without blank lines took 80 s) ----------------

def join_wrapped_lines_as_it_was(lines, *, known_words=None):
    """The quadratic original, kept as the reference for what the joined text must be."""
    from pipeline.clean import LINE_END_HYPHEN, collapse_spaces, keeps_hyphen

    joined = ""
    for raw in lines:
        line = collapse_spaces(raw)
        if not line:
            continue
        if not joined:
            joined = line
            continue
        hyphen = LINE_END_HYPHEN.search(joined)
        if hyphen and line[:1].islower():
            joined = joined if keeps_hyphen(hyphen.group(1), line, known_words) else joined[:-1]
            joined += line
        else:
            joined += " " + line
    return joined


class CountingPattern:
    """Stands in for a compiled pattern and adds up how many characters each search is handed."""

    def __init__(self, pattern):
        self.pattern = pattern
        self.characters = 0

    def search(self, text, *arguments):
        self.characters += len(text)
        return self.pattern.search(text, *arguments)

    def __getattr__(self, name):
        return getattr(self.pattern, name)


def wrapped_lines(total_chars):
    """Lines of a paragraph wrapped at about 70 characters, some ending in a hyphen, as a 300 KB text file has."""
    import random

    generator = random.Random(11)
    words = ["the", "care", "co", "inter", "vention", "long", "term", "children", "Family", "self", "x", "a-b"]
    lines, size = [], 0
    while size < total_chars:
        line = " ".join(generator.choice(words) for _ in range(generator.randint(1, 14)))
        if generator.random() < 0.3:
            line += "-"
        lines.append(line)
        size += len(line) + 1
    return lines


def test_joining_wrapped_lines_scans_each_line_a_bounded_number_of_times(monkeypatch):
    import pipeline.clean as clean

    counting = CountingPattern(clean.LINE_END_HYPHEN)
    monkeypatch.setattr(clean, "LINE_END_HYPHEN", counting)
    lines = wrapped_lines(300_000)
    join_wrapped_lines(lines)
    assert counting.characters <= 2 * sum(len(line) + 1 for line in lines), "the joined text is searched again"


@pytest.mark.parametrize("seed_size", [50, 500, 5_000])
def test_joining_wrapped_lines_gives_the_text_the_original_gave(seed_size):
    lines = wrapped_lines(seed_size)
    vocabulary = {"intervention", "care-children", "selfthe", "long-term"}
    for known_words in (None, vocabulary):
        assert join_wrapped_lines(lines, known_words=known_words) == join_wrapped_lines_as_it_was(
            lines, known_words=known_words)


@pytest.mark.parametrize(("lines", "expected"), [
    (["under-", "stand-", "ing"], "understanding"),
    (["lo-", "ng-", "term"], "long-term"),  # the word before the second hyphen began two lines up
    (["co-", "ordi-", "nation"], "co-ordination"),
    (["x-", "-", "y"], "x- - y"),
    (["a", "", "  ", "b-", "c"], "a bc"),
])
def test_joining_words_split_over_several_lines(lines, expected):
    assert join_wrapped_lines(lines) == join_wrapped_lines_as_it_was(lines) == expected


def test_paragraphs_cut_by_many_blank_lines_are_rejoined_in_linear_time(monkeypatch):
    import pipeline.extract.text as text_module

    handed: list[int] = []

    def counting_join(lines, **options):
        handed.append(sum(len(line) for line in lines))
        return join_wrapped_lines(lines, **options)

    monkeypatch.setattr(text_module, "join_wrapped_lines", counting_join)
    text = "\n\n".join("some words here and more" for _ in range(4_000))
    blocks, _ = parse_text(text)
    assert [block.text for block in blocks] == [" ".join("some words here and more" for _ in range(4_000))]
    assert sum(handed) <= 2 * len(text), "the rejoined paragraph is handed over again for every piece"
