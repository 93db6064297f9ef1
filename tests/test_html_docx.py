"""HTML main content (trafilatura) and DOCX structure: what a person reads as the document, nothing else."""

import pytest

from pipeline.extract import ExtractionError, extract_file
from pipeline.types import BlockKind

H, P, LI, TR = BlockKind.HEADING, BlockKind.PARAGRAPH, BlockKind.LIST_ITEM, BlockKind.TABLE_ROW

COUNCIL_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Kinship care | Glenmore Council</title>
<style>.banner{color:red}</style>
<script>window.dataLayer=[];function gtag(){dataLayer.push(arguments)}</script>
<script type="application/ld+json">{"@type":"WebPage","name":"Kinship care"}</script>
</head><body>
<a class="skip-link" href="#content">Skip to main content</a>
<div class="cookie-banner" id="ccc"><p>We use cookies to make this site work and to collect analytics.
Accept all cookies or manage your settings.</p><button>Accept</button><button>Reject</button></div>
<header class="site-header"><a href="/">Glenmore Council</a>
<nav aria-label="Main"><ul><li><a href="/bins">Bins and recycling</a></li><li><a href="/tax">Council tax</a></li>
<li><a href="/schools">Schools</a></li><li><a href="/social-care">Social care</a></li></ul></nav></header>
<nav class="breadcrumb"><ol><li><a href="/">Home</a></li><li><a href="/social-care">Social care</a></li></ol></nav>
<main id="content"><article>
<h1>Kinship care</h1>
<p>Kinship carers are relatives or friends who look after a child who cannot live with their parents.
The council will give kinship carers the same support as foster carers.</p>
<h2>What support you can get</h2>
<p>Every kinship family will be offered:</p>
<ul><li>a weekly allowance at the same rate as fostering</li>
<li>training and peer support, including:
  <ul><li>evening groups</li><li>online courses</li></ul></li>
<li>a named social worker</li></ul>
<h3>How to apply</h3>
<ol><li>Contact the kinship team.</li><li>Complete an assessment.</li></ol>
<h2>Allowance rates</h2>
<table><thead><tr><th>Age of child</th><th>Weekly rate</th></tr></thead>
<tbody><tr><td>0 to 4</td><td>£160</td></tr><tr><td>5 to 10</td><td>£180</td></tr></tbody></table>
<h4>Review</h4>
<p>Rates are reviewed every April, after consultation with the kinship carers' forum.</p>
</article></main>
<aside class="related"><h2>Related pages</h2><ul><li><a href="/fostering">Fostering</a></li></ul></aside>
<footer class="site-footer"><p>© Glenmore Council 2025. All rights reserved.</p>
<ul><li><a href="/privacy">Privacy</a></li><li><a href="/accessibility">Accessibility statement</a></li></ul></footer>
<script>alert('tracking');</script>
</body></html>"""

DIV_LAYOUT_PAGE = """<html><head><title>Plan</title></head><body>
<div id="onetrust-consent-sdk"><div id="onetrust-banner-sdk"><p>By clicking Accept All Cookies, you agree to
the storing of cookies on your device.</p></div></div>
<div class="menu"><a href="/">Home</a> | <a href="/about">About us</a> | <a href="/contact">Contact</a></div>
<div id="page"><div class="sidebar"><h3>In this section</h3><ul><li><a href="/a">Plans</a></li></ul></div>
<div class="content"><h1>Children's Services Plan 2023-2026</h1>
<p>This plan sets out how partners in Glenmore will keep the promise to care experienced children and young
people by 2030.</p>
<h2>Our priorities</h2><p>We will listen to children and act on what they say. Brothers and sisters will stay
together where it is safe.</p></div></div>
<div id="footer">Glenmore Community Planning Partnership, 1 High Street. Tel 01234 567890</div>
</body></html>"""


def blocks_of(path):
    return [(block.kind, block.level, block.text) for block in extract_file(path).blocks]


# --- HTML ------------------------------------------------------------------------------------------

def test_html_navigation_cookie_banner_and_scripts_are_dropped_headings_lists_tables_kept(tmp_path):
    path = tmp_path / "kinship.html"
    path.write_text(COUNCIL_PAGE, encoding="utf-8")
    assert blocks_of(path) == [
        (H, 1, "Kinship care"),
        (P, 0, "Kinship carers are relatives or friends who look after a child who cannot live with their parents. "
               "The council will give kinship carers the same support as foster carers."),
        (H, 2, "What support you can get"),
        (P, 0, "Every kinship family will be offered:"),
        (LI, 0, "a weekly allowance at the same rate as fostering"),
        (LI, 0, "training and peer support, including:"),
        (LI, 0, "evening groups"), (LI, 0, "online courses"),
        (LI, 0, "a named social worker"),
        (H, 3, "How to apply"),
        (LI, 0, "Contact the kinship team."), (LI, 0, "Complete an assessment."),
        (H, 2, "Allowance rates"),
        (TR, 0, "Age of child | Weekly rate"), (TR, 0, "0 to 4 | £160"), (TR, 0, "5 to 10 | £180"),
        (H, 4, "Review"),
        (P, 0, "Rates are reviewed every April, after consultation with the kinship carers' forum."),
    ]


def test_html_without_main_element_still_finds_the_content(tmp_path):
    path = tmp_path / "plan.htm"
    path.write_text(DIV_LAYOUT_PAGE, encoding="utf-8")
    blocks = blocks_of(path)
    assert blocks[0] == (H, 1, "Children's Services Plan 2023-2026")
    assert (H, 2, "Our priorities") in blocks
    text = " ".join(text for _, _, text in blocks)
    for furniture in ("cookies", "About us", "In this section", "High Street"):
        assert furniture not in text


BARE_PAGE = """<html><head><title>Plan</title><script>var tracking = 1;</script></head><body>
<div class="cookie-consent"><p>We use cookies on this website. Accept or reject them.</p></div>
<nav><a href="/">Home</a> <a href="/plans">Plans</a></nav>
<h1>Children's Services Plan</h1>
<p>This plan sets out how partners will keep the promise to care experienced children by 2030.</p>
<h2>Priorities</h2>
<ul><li>Keep brothers and sisters together</li><li>End the use of secure care for under-18s</li></ul>
<table><tr><th>Action</th><th>Lead</th></tr><tr><td>Family hubs</td><td>HSCP</td></tr></table>
<footer>Glenmore Council, 1 High Street</footer>
</body></html>"""

WORD_EXPORT = """<html xmlns:o="urn:schemas-microsoft-com:office:office"><head>
<meta http-equiv=Content-Type content="text/html; charset=utf-8"><style>p.MsoNormal{margin:0}</style></head>
<body lang=EN-GB><div class=WordSection1>
<h1>Corporate Parenting Plan</h1>
<p class=MsoNormal>The council is a corporate parent to every care experienced child and young person.</p>
<h2>Our commitments</h2>
<p class=MsoNormal>Young people told us that they want to be heard before decisions are made about them.</p>
</div></body></html>"""


def test_html_page_without_a_content_frame_keeps_headings_lists_and_tables(tmp_path):
    path = tmp_path / "bare.html"
    path.write_text(BARE_PAGE, encoding="utf-8")
    assert blocks_of(path) == [
        (H, 1, "Children's Services Plan"),
        (P, 0, "This plan sets out how partners will keep the promise to care experienced children by 2030."),
        (H, 2, "Priorities"),
        (LI, 0, "Keep brothers and sisters together"), (LI, 0, "End the use of secure care for under-18s"),
        (TR, 0, "Action | Lead"), (TR, 0, "Family hubs | HSCP"),
    ]


def test_html_saved_by_word_keeps_its_headings(tmp_path):
    path = tmp_path / "plan.htm"
    path.write_text(WORD_EXPORT, encoding="utf-8")
    assert blocks_of(path) == [
        (H, 1, "Corporate Parenting Plan"),
        (P, 0, "The council is a corporate parent to every care experienced child and young person."),
        (H, 2, "Our commitments"),
        (P, 0, "Young people told us that they want to be heard before decisions are made about them."),
    ]


def test_html_declared_encoding_is_honoured(tmp_path):
    path = tmp_path / "latin.html"
    path.write_bytes('<html><head><meta charset="windows-1252"></head><body><main><h1>Café</h1>'
                     '<p>Children’s hearings – a review of “care”.</p></main></body></html>'.encode("cp1252"))
    assert blocks_of(path) == [(H, 1, "Café"), (P, 0, "Children’s hearings – a review of “care”.")]


def test_html_fragment_without_page_structure_is_read(tmp_path):
    path = tmp_path / "snippet.html"
    path.write_text("<h2>Kinship</h2><p>Kinship carers get the same support as foster carers.</p>", encoding="utf-8")
    assert blocks_of(path) == [(H, 2, "Kinship"), (P, 0, "Kinship carers get the same support as foster carers.")]


@pytest.mark.parametrize("reference", ["&#11;", "&#x0B;", "&#12;", "&#1;", "\x0b"])
def test_a_control_character_illegal_in_xml_does_not_drop_the_page(tmp_path, reference):
    path = tmp_path / "page.html"
    path.write_text(f"<html><body><main><h1>Kinship{reference} care</h1><p>Kinship carers{reference} will get the "
                    f"same support as foster carers.</p><p title='a{reference}b'>Allowances are paid weekly.</p>"
                    "</main></body></html>", encoding="utf-8")
    assert blocks_of(path) == [(H, 1, "Kinship care"), (P, 0, "Kinship carers will get the same support as foster "
                                                               "carers."), (P, 0, "Allowances are paid weekly.")]


def test_a_control_character_in_a_utf16_page_does_not_drop_it(tmp_path):
    path = tmp_path / "page.html"
    path.write_bytes(b"\xff\xfe" + "<html><body><main><p>Kinship carers&#11;will get support.</p></main></body>"
                                    "</html>".encode("utf-16-le"))
    assert blocks_of(path) == [(P, 0, "Kinship carers will get support.")]

@pytest.mark.parametrize("markup", [
    "<html><head><script>var x = 1;</script><style>p {}</style></head><body><script>app()</script></body></html>",
    "<html><body></body></html>",
])
def test_html_with_no_content_is_a_clear_error(tmp_path, markup):
    path = tmp_path / "empty.html"
    path.write_text(markup, encoding="utf-8")
    with pytest.raises(ExtractionError, match="no text found"):
        extract_file(path)


def test_a_pdf_saved_as_html_is_reported_as_mislabelled(tmp_path):
    path = tmp_path / "report.html"
    path.write_bytes(b"%PDF-1.7\n%binary")
    with pytest.raises(ExtractionError, match="it is a PDF; is it mislabelled"):
        extract_file(path)


# --- DOCX ------------------------------------------------------------------------------------------

def add_xml_paragraph(document, inner_xml: str, *, wrap_in_content_control: bool = False):
    """Append a raw w:p (optionally inside a w:sdt content control) before the section properties."""
    from docx.oxml import parse_xml
    from docx.oxml.ns import nsdecls

    paragraph = f"<w:p {nsdecls('w')}>{inner_xml}</w:p>"
    if wrap_in_content_control:
        paragraph = f"<w:sdt {nsdecls('w')}><w:sdtPr/><w:sdtContent>{paragraph}</w:sdtContent></w:sdt>"
    document.element.body.sectPr.addprevious(parse_xml(paragraph))


def structured_docx(path):
    import docx
    from docx.enum.style import WD_STYLE_TYPE
    from docx.enum.text import WD_BREAK
    from docx.oxml import parse_xml
    from docx.oxml.ns import nsdecls

    document = docx.Document()
    document.add_heading("Children's Services Plan", level=0)
    document.add_heading("Our promise", level=1)
    document.add_paragraph("We will keep the promise by 2030.")
    document.add_heading("Family support", level=2)
    document.add_paragraph("Open family hubs", style="List Bullet")
    document.add_paragraph("Fund parenting groups", style="List Bullet 2")
    document.add_paragraph("Consult children", style="List Number")
    numbered = document.add_paragraph("Report every year")
    numbered._p.get_or_add_pPr().append(parse_xml(
        f'<w:numPr {nsdecls("w")}><w:ilvl w:val="0"/><w:numId w:val="1"/></w:numPr>'))
    custom = document.styles.add_style("Council Section", WD_STYLE_TYPE.PARAGRAPH)
    custom.element.get_or_add_pPr().append(parse_xml(f'<w:outlineLvl {nsdecls("w")} w:val="2"/>'))
    document.add_paragraph("Secure care", style="Council Section")
    add_xml_paragraph(document, "<w:r><w:t>Inside a content control.</w:t></w:r>", wrap_in_content_control=True)
    add_xml_paragraph(document, "<w:r><w:t xml:space='preserve'>Siblings stay </w:t></w:r>"
                                "<w:del w:id='1' w:author='a'><w:r><w:delText>apart</w:delText></w:r></w:del>"
                                "<w:ins w:id='2' w:author='a'><w:r><w:t>together</w:t></w:r></w:ins>"
                                "<w:r><w:t>.</w:t></w:r>")
    add_xml_paragraph(document, "<w:r><w:fldChar w:fldCharType='begin'/></w:r>"
                                "<w:r><w:instrText> PAGE </w:instrText></w:r>"
                                "<w:r><w:fldChar w:fldCharType='separate'/></w:r>"
                                "<w:r><w:t>Field result text.</w:t></w:r>"
                                "<w:r><w:fldChar w:fldCharType='end'/></w:r>")
    table = document.add_table(rows=3, cols=3)
    for column, value in enumerate(["Action", "Lead", "When"]):
        table.cell(0, column).text = value
    table.cell(1, 0).text = "Hubs"
    table.cell(1, 1).text = "HSCP"
    table.cell(1, 2).text = "2025"
    merged = table.cell(2, 0).merge(table.cell(2, 1))
    merged.text = "Joint"
    inner = table.cell(2, 2).add_table(rows=2, cols=2)
    for row, values in enumerate([["Quarter", "Target"], ["Q1", "10 hubs"]]):
        for column, value in enumerate(values):
            inner.cell(row, column).text = value
    document.paragraphs[-1].add_run().add_break(WD_BREAK.PAGE)
    document.add_paragraph("After the page break.")
    section = document.sections[0]
    section.header.paragraphs[0].text = "RUNNING HEADER TEXT"
    section.footer.paragraphs[0].text = "RUNNING FOOTER TEXT"
    document.save(str(path))
    return path


def test_docx_headings_by_style_and_outline_level_lists_tables_and_hidden_structure(tmp_path):
    document = extract_file(structured_docx(tmp_path / "plan.docx"))
    assert [(b.kind, b.level, b.text, b.page) for b in document.blocks] == [
        (H, 1, "Children's Services Plan", 1),
        (H, 1, "Our promise", 1),
        (P, 0, "We will keep the promise by 2030.", 1),
        (H, 2, "Family support", 1),
        (LI, 0, "Open family hubs", 1),
        (LI, 0, "Fund parenting groups", 1),
        (LI, 0, "Consult children", 1),
        (LI, 0, "Report every year", 1),
        (H, 3, "Secure care", 1),
        (P, 0, "Inside a content control.", 1),
        (P, 0, "Siblings stay together.", 1),
        (P, 0, "Field result text.", 1),
        (TR, 0, "Action | Lead | When", 2),
        (TR, 0, "Hubs | HSCP | 2025", 2),
        (TR, 0, "Joint", 2),
        (TR, 0, "Quarter | Target", 2),
        (TR, 0, "Q1 | 10 hubs", 2),
        (P, 0, "After the page break.", 2),
    ]
    assert document.page_count == 2
    assert "RUNNING" not in document.text and "PAGE" not in document.text and "apart" not in document.text


def test_docx_table_cells_with_equal_text_are_all_kept(tmp_path):
    import docx

    document = docx.Document()
    table = document.add_table(rows=1, cols=3)
    for column, value in enumerate(["Yes", "Yes", "No"]):
        table.cell(0, column).text = value
    document.save(str(tmp_path / "grid.docx"))
    assert blocks_of(tmp_path / "grid.docx") == [(TR, 0, "Yes | Yes | No")]


def test_docx_generated_table_of_contents_is_left_out(tmp_path):
    import docx
    from docx.enum.style import WD_STYLE_TYPE

    document = docx.Document()
    document.styles.add_style("toc 1", WD_STYLE_TYPE.PARAGRAPH)
    document.add_paragraph("Introduction\t3", style="toc 1")
    document.add_heading("Introduction", level=1)
    document.add_paragraph("The plan begins here.")
    document.save(str(tmp_path / "toc.docx"))
    assert blocks_of(tmp_path / "toc.docx") == [(H, 1, "Introduction"), (P, 0, "The plan begins here.")]


def test_password_protected_docx_says_so(tmp_path):
    path = tmp_path / "locked.docx"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 512 + "EncryptedPackage".encode("utf-16-le"))
    with pytest.raises(ExtractionError, match="encrypted DOCX"):
        extract_file(path)


def docx_of_many_paragraphs(path, count):
    """A DOCX of `count` short paragraphs, every other one a bulleted list item, written straight into its XML."""
    import zipfile

    import docx

    template = path.with_suffix(".template.docx")
    document = docx.Document()
    document.add_paragraph("first", style="List Bullet")
    document.save(str(template))
    paragraphs = "".join(
        f'<w:p><w:pPr><w:pStyle w:val="ListBullet"/></w:pPr><w:r><w:t>Item {n} on kinship care.</w:t></w:r></w:p>'
        if n % 2 else f"<w:p><w:r><w:t>Paragraph {n} on brothers and sisters.</w:t></w:r></w:p>" for n in range(count))
    with zipfile.ZipFile(template) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "word/document.xml":
                body_start = data.index(b"<w:body>") + len(b"<w:body>")
                data = data[:body_start] + paragraphs.encode() + data[data.index(b"<w:sectPr"):]
            target.writestr(item, data)
    return path


@pytest.mark.slow
def test_a_docx_of_a_hundred_thousand_paragraphs_is_extracted_and_segmented_within_its_limits(tmp_path):
    """Issue 11: a 671 KB DOCX of 100k paragraphs took 157 s and 1.1 GB; segmenting its list items was quadratic."""
    from pipeline.extract import extract_all
    from pipeline.segment import Segmenter

    path = docx_of_many_paragraphs(tmp_path / "long.docx", 100_000)
    (result,) = extract_all([path], cache_dir=None, workers=1)
    assert result.problems == ()
    assert len(result.document.blocks) == 100_000
    assert result.peak_rss_bytes < 512 * 2**20
    passages = Segmenter().segment(result.document)
    assert len(passages) == 100_000
    assert passages[1].text == "Item 1 on kinship care." and passages[1].lead_in == ""
