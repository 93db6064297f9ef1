"""The HTML report in a real browser: Debian's headless Chromium, driven by Playwright, with no network.

The index and a document page must load from disk with no console error and no
request leaving the file; the index shows the items' counts, the paged heatmap
and the documents; a document page its gap table, whose filters and sorting
change what is shown. A 1,000-document index opens within 3 s. Screenshots are
written to the test's temporary folder.
Skipped, saying why, where Chromium or the Playwright package is not installed.
"""

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from tests.conftest import SAMPLE_CORPUS
from tests.test_report_html import HOSTILE_TEXTS, RUN_RECORD, fixture_coverages

sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright Python package is not installed "
                               "(pip install playwright; never `playwright install`: Debian's chromium is used)")

pytestmark = pytest.mark.slow

#: Debian's package first; the browser Playwright would download is never used.
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser")
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--disable-extensions"]
VIEWPORT = {"width": 1400, "height": 1000}


def chromium_executable():
    for candidate in CHROMIUM_CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    return None


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    executable = chromium_executable()
    if executable is None:
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium chromium-driver); "
                    "the browser checks of report.html need it")
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_api.sync_playwright() as playwright:
        # A persistent context gives Chromium a fresh --user-data-dir of our own.
        context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=executable, headless=True, args=LAUNCH_ARGS, viewport=VIEWPORT)
        yield context
        context.close()


class OpenedPage:
    """A page with everything it said and asked for recorded: console errors, page errors, requests, dialogs."""

    def __init__(self, context, path: Path):
        self.console_errors, self.page_errors, self.requests, self.dialogs = [], [], [], []
        self.page = context.new_page()
        self.page.on("console", lambda message: message.type == "error" and self.console_errors.append(message.text))
        self.page.on("pageerror", lambda error: self.page_errors.append(str(error)))
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on("dialog", lambda dialog: (self.dialogs.append(dialog.message), dialog.dismiss()))
        self.page.goto(path.as_uri())
        self.page.wait_for_load_state("load")


@pytest.fixture(scope="module")
def sample_report(tmp_path_factory):
    """report.html of the sample corpus (lexical classifier: no model to train), its pages in report/."""
    out = tmp_path_factory.mktemp("sample-report")
    result = CliRunner().invoke(app, ["map", str(SAMPLE_CORPUS), "--out", str(out), "--quiet",
                                      "--classifier", "lexical"])
    assert result.exit_code == 0, result.output
    return out / "report.html"


def first_document_page(index: Path) -> Path:
    """The page of the index's first document, found by its link."""
    from bs4 import BeautifulSoup

    page = BeautifulSoup(index.read_text(encoding="utf-8"), "html5lib")
    return index.parent / page.select_one("#documents td[data-name] a")["href"]


@pytest.fixture(scope="module")
def sample_page(sample_report):
    return first_document_page(sample_report)


@pytest.fixture
def opened(browser, sample_page):
    view = OpenedPage(browser, sample_page)
    yield view
    view.page.close()


@pytest.fixture
def opened_index(browser, sample_report):
    view = OpenedPage(browser, sample_report)
    yield view
    view.page.close()


def visible_rows(page, table="table.gap-table"):
    return page.locator(f"{table} tbody tr:visible")


def test_index_loads_from_disk_without_errors_or_network(opened_index, tmp_path, sample_report):
    page = opened_index.page
    assert page.locator("#overview table.overview").is_visible()
    assert visible_rows(page, "table.overview").count() == 68
    page.locator("#heatmap table.heatmap").scroll_into_view_if_needed()
    assert page.locator("#heatmap tbody td.c2").first.is_visible()
    assert visible_rows(page, "table.documents").count() == 4
    page.screenshot(path=str(tmp_path / "index-top.png"))
    assert (tmp_path / "index-top.png").stat().st_size > 20_000
    assert opened_index.console_errors == [] and opened_index.page_errors == [] and opened_index.dialogs == []
    assert opened_index.requests == [sample_report.as_uri()]


def test_document_page_loads_from_disk_without_errors_or_network(opened, tmp_path, sample_page):
    page = opened.page
    assert page.locator("table.gap-table").is_visible()
    assert visible_rows(page).count() == 68
    page.screenshot(path=str(tmp_path / "page-full.png"), full_page=True)
    assert opened.console_errors == [] and opened.page_errors == [] and opened.dialogs == []
    assert opened.requests == [sample_page.as_uri()]


def test_a_filter_changes_the_rows_shown(opened, tmp_path):
    page = opened.page
    section = page.locator("#gap-table")
    covered = page.locator("table.gap-table tbody tr[data-status='covered']").count()
    assert 0 < covered < 68
    section.locator("select[data-filter='status']").select_option("covered")
    assert visible_rows(page).count() == covered
    assert section.locator("[data-row-count]").text_content() == f"{covered} of 68 items shown"
    assert all(status == "covered" for status in
               visible_rows(page).evaluate_all("rows => rows.map(row => row.dataset.status)"))
    section.locator("select[data-filter='framework']").select_option("inspection_principles")
    inspection_covered = page.locator(
        "table.gap-table tbody tr[data-status='covered'][data-framework='inspection_principles']").count()
    assert visible_rows(page).count() == inspection_covered
    page.screenshot(path=str(tmp_path / "page-filtered.png"))
    section.locator("button[data-action='reset']").click()
    assert visible_rows(page).count() == 68
    section.locator("select[data-filter='group']").select_option("Voice")
    assert visible_rows(page).count() == 6
    assert opened.console_errors == [] and opened.page_errors == []


def test_sorting_by_score_orders_the_rows(opened):
    page = opened.page
    header = page.locator("th[data-sort-key='score'] button")

    def scores():
        return [float(s) for s in visible_rows(page).evaluate_all("rows => rows.map(r => r.dataset.sortScore)")]

    original = scores()
    header.click()
    assert scores() == sorted(original)
    header.click()
    assert scores() == sorted(original, reverse=True)
    assert page.locator("th[data-sort-key='score']").get_attribute("aria-sort") == "descending"
    page.locator("th[data-sort-key='order'] button").click()
    assert scores() == original


def test_the_overview_filters_and_sorts_items(opened_index):
    page = opened_index.page
    section = page.locator("#overview")
    never = page.locator("table.overview tbody tr[data-covered-by='none']").count()
    section.locator("select[data-filter='covered-by']").select_option("none")
    assert visible_rows(page, "table.overview").count() == never
    section.locator("button[data-action='reset']").click()
    section.locator("th[data-sort-key='covered'] button").click()
    section.locator("th[data-sort-key='covered'] button").click()
    counts = visible_rows(page, "table.overview").evaluate_all("rows => rows.map(r => Number(r.dataset.sortCovered))")
    assert counts == sorted(counts, reverse=True) and len(counts) == 68
    names = page.locator("#documents")
    names.locator("input[data-filter-text='name']").fill("000_")
    assert visible_rows(page, "table.documents").count() == 1
    assert opened_index.console_errors == [] and opened_index.page_errors == []


def test_a_heatmap_cell_opens_that_documents_page_at_the_item(opened_index):
    page = opened_index.page
    cell = page.locator("#heatmap tbody td.c2").first
    item = cell.evaluate("cell => cell.closest('table').dataset.items.trim().split(' ')[cell.cellIndex - 3]")
    cell.click()
    page.wait_for_load_state("load")
    assert page.url.endswith(f".html#{item}") and "/report/" in page.url
    row = page.locator(f"tr[id='{item}']")
    assert row.is_visible()
    assert row.locator("td.evidence details").evaluate("details => details.open") is True
    assert row.locator("blockquote.passage").first.is_visible()


def write_hostile_run(folder, reference_set):
    """The index and pages of a run whose document name, text and heading are hostile."""
    from pipeline.report_html import document_pages, render_index
    from tests.report_store import make_store

    payload = " ".join(HOSTILE_TEXTS)
    coverages = fixture_coverages(reference_set, doc_a=f"<img src=x onerror=\"window.__pwned='name'\">{payload}",
                                  text=f"{payload} Brothers and sisters stay together.", heading=HOSTILE_TEXTS[1])
    store = make_store(folder / "run.sqlite", coverages)
    (folder / "report.html").write_text(render_index(store, reference_set, RUN_RECORD), encoding="utf-8")
    pages = []
    for info, html in document_pages(store, reference_set, RUN_RECORD, folder / "report"):
        path = folder / "report" / f"{info.id}.html"
        path.parent.mkdir(exist_ok=True)
        path.write_text(html, encoding="utf-8")
        pages.append(path)
    store.close()
    return folder / "report.html", pages[0]


def test_hostile_text_stays_inert_in_the_browser(browser, tmp_path, reference_set):
    index, document = write_hostile_run(tmp_path, reference_set)
    for path in (index, document):
        view = OpenedPage(browser, path)
        page = view.page
        if path == document:
            page.locator("button[data-action='expand']").click()
            page.locator("tr#CARE-3").hover()
            assert HOSTILE_TEXTS[0] in page.locator("tr#CARE-3 blockquote.passage").text_content()
        else:
            page.locator("#heatmap tbody th.doc a").first.hover()
        page.mouse.move(10, 10)
        page.screenshot(path=str(tmp_path / f"hostile-{path.stem[:8]}.png"))
        assert page.evaluate("() => window.__pwned") is None
        assert view.dialogs == [] and view.page_errors == [] and view.console_errors == []
        assert view.requests == [path.as_uri()]
        view.page.close()


# A run of 1,000 documents: the index opens at once, its heatmap pages, a document page opens too

INDEX_LOAD_SECONDS = 3.0


@pytest.fixture(scope="module")
def large_run(tmp_path_factory, reference_set):
    import itertools

    from pipeline.report_html import document_pages, render_index
    from tests.report_store import synthetic_store

    folder = tmp_path_factory.mktemp("large-run")
    store = synthetic_store(folder / "run.sqlite", reference_set, documents=1000)
    (folder / "report.html").write_text(render_index(store, reference_set, RUN_RECORD, report_dir=folder),
                                        encoding="utf-8")
    [(info, html)] = itertools.islice(document_pages(store, reference_set, RUN_RECORD, folder / "report"), 1)
    (folder / "report").mkdir()
    page = folder / "report" / f"{info.id}.html"
    page.write_text(html, encoding="utf-8")
    store.close()
    return folder / "report.html", page


def test_the_index_of_1000_documents_opens_within_3_seconds(browser, large_run):
    import time

    index, _ = large_run
    started = time.perf_counter()
    view = OpenedPage(browser, index)
    seconds = time.perf_counter() - started
    page = view.page
    assert seconds <= INDEX_LOAD_SECONDS, seconds
    assert view.console_errors == [] and view.page_errors == [] and view.requests == [index.as_uri()]
    assert visible_rows(page, "table.heatmap").count() == 50
    page.locator("button[data-page-step='1']").click()
    first = page.locator("table.heatmap tbody:visible tr th.doc").first.text_content()
    assert first.startswith("council-plan-0050")
    page.locator("select[data-page-select]").select_option("19")
    assert page.locator("table.heatmap tbody:visible tr th.doc").last.text_content().startswith("council-plan-0999")
    assert visible_rows(page, "table.documents").count() == 1000
    assert view.console_errors == [] and view.page_errors == []
    view.page.close()


def test_a_document_page_of_a_large_run_opens_without_errors(browser, large_run):
    _, document = large_run
    view = OpenedPage(browser, document)
    assert visible_rows(view.page).count() == 68
    assert view.console_errors == [] and view.page_errors == [] and view.requests == [document.as_uri()]
    view.page.close()


# Printing (or saving as PDF): evidence expanded, status colours kept, the items' counts on paper

#: The covered status's colour (Okabe-Ito bluish green), as an RGB triple.
COVERED_RGB = (0x00, 0x9E, 0x73)


def printed(browser, path, folder):
    """A page printed to an A4 PDF as a person would: background graphics off, the print dialog's default."""
    page = browser.new_page()
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    pdf_path = folder / f"{path.stem[:12]}.pdf"
    page.pdf(path=str(pdf_path), format="A4", print_background=False)
    page.close()
    return pdf_path


@pytest.fixture(scope="module")
def printed_page(browser, sample_page, tmp_path_factory):
    return printed(browser, sample_page, tmp_path_factory.mktemp("printed"))


@pytest.fixture(scope="module")
def printed_index(browser, sample_report, tmp_path_factory):
    return printed(browser, sample_report, tmp_path_factory.mktemp("printed-index"))


def pdf_page_texts(pdf_path):
    import pypdfium2

    document = pypdfium2.PdfDocument(str(pdf_path))
    try:
        return [" ".join(page.get_textpage().get_text_range().split()) for page in document]
    finally:
        document.close()


def sample_gap_rows(sample_report):
    import csv

    with (sample_report.parent / "gap_table.csv").open(encoding="utf-8", newline="") as stream:
        return list(csv.DictReader(stream))


def test_printing_expands_every_evidence_passage(printed_page, sample_report, sample_page):
    from bs4 import BeautifulSoup

    text = " ".join(pdf_page_texts(printed_page))
    name = BeautifulSoup(sample_page.read_text(encoding="utf-8"), "html5lib").h1.get_text()
    covered = [row for row in sample_gap_rows(sample_report) if row["status"] == "covered" and row["document"] == name]
    assert len(covered) > 5
    for row in covered:
        opening = " ".join(row["evidence"].split()[:8])
        assert opening in text, (row["item_id"], opening)


def test_printing_shows_the_whole_item_text(printed_page, reference_set):
    text = " ".join(pdf_page_texts(printed_page))
    long_text = " ".join(reference_set.item("CARE-22").text.split())
    assert text.count(long_text[-60:]) == 1


def test_printing_keeps_the_status_colours(printed_page):
    import numpy as np
    import pypdfium2

    document = pypdfium2.PdfDocument(str(printed_page))
    try:
        covered_pixels = 0
        for page in list(document)[:3]:
            pixels = np.asarray(page.render(scale=1).to_pil().convert("RGB"), dtype=int)
            covered_pixels += int((np.abs(pixels - np.array(COVERED_RGB)).max(axis=2) <= 12).sum())
    finally:
        document.close()
    assert covered_pixels > 500


def test_printing_the_index_gives_every_items_counts_and_leaves_the_paged_heatmap_out(printed_index, reference_set):
    text = " ".join(pdf_page_texts(printed_index)).replace("\ufffe", "-")  # a hyphen the line broke at
    assert all(item.id in text for item in reference_set.items)
    assert "Items across the corpus" in text and "Previous" not in text  # the heatmap's pager is not printed


@pytest.fixture(scope="module")
def responses_report(tmp_path_factory):
    """report.html of two consultation responses: one opposes two items (tests/test_stance.py), one opposes none."""
    from tests.test_stance import map_responses

    return map_responses(tmp_path_factory) / "report.html"


def test_a_stance_filter_shows_only_the_items_a_response_opposes(browser, responses_report, tmp_path):
    from bs4 import BeautifulSoup

    index = BeautifulSoup(responses_report.read_text(encoding="utf-8"), "html5lib")
    link = next(a["href"] for a in index.select("#documents td[data-name] a") if a.text == "response.txt")
    view = OpenedPage(browser, responses_report.parent / link)
    page = view.page
    opposed = page.locator("table.gap-table tbody tr[data-stance='opposes']")
    assert opposed.count() >= 2
    page.locator("#gap-table select[data-filter='stance']").select_option("opposes")
    shown = visible_rows(page)
    assert shown.count() == opposed.count()
    assert {"CARE-3", "CARE-19"} <= set(shown.evaluate_all("rows => rows.map(row => row.id)"))
    assert set(shown.evaluate_all("rows => rows.map(row => row.dataset.stance)")) == {"opposes"}
    page.screenshot(path=str(tmp_path / "page-opposes.png"))
    assert view.console_errors == [] and view.page_errors == []
    page.close()


def test_the_heatmap_marks_opposed_items_and_filters_to_the_documents_that_oppose(browser, responses_report,
                                                                                   tmp_path):
    view = OpenedPage(browser, responses_report)
    page = view.page
    rows = page.locator("#heatmap tbody tr")
    assert rows.count() == 2
    assert page.locator("#heatmap tbody td.st-opposes").count() >= 2
    page.locator("select[data-heatmap-filter='opposes']").select_option("some")
    shown = page.locator("#heatmap tbody tr:visible")
    assert shown.count() == 1 and shown.first.locator("th.doc").text_content().strip() == "response.txt"
    assert page.locator("[data-heatmap-count]").text_content() == "1 of 2 documents shown"
    page.locator("#overview select[data-filter='opposed-by']").select_option("some")
    assert {"CARE-3", "CARE-19"} <= set(visible_rows(page, "table.overview").evaluate_all(
        "rows => rows.map(row => row.id.replace('item-', ''))"))
    page.screenshot(path=str(tmp_path / "heatmap-opposes.png"))
    assert view.console_errors == [] and view.page_errors == []
    page.close()
