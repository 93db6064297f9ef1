"""The HTML report in a real browser: Debian's headless Chromium, driven by Playwright, with no network.

It must load from disk with no console error and no request leaving the file,
show the heatmap and a gap table, and its filters and sorting must change what
is shown. Screenshots are written to the test's temporary folder.
Skipped, saying why, where Chromium or the Playwright package is not installed.
"""

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.report_html import render_report
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
    out = tmp_path_factory.mktemp("sample-report")
    result = CliRunner().invoke(app, ["map", str(SAMPLE_CORPUS), "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    return out / "report.html"


@pytest.fixture
def opened(browser, sample_report):
    view = OpenedPage(browser, sample_report)
    yield view
    view.page.close()


def visible_rows(page, section="#doc-1"):
    return page.locator(f"{section} table.gap-table tbody tr:visible")


def test_report_loads_from_disk_without_errors_or_network(opened, tmp_path, sample_report):
    page = opened.page
    assert page.locator("#heatmap table.heatmap").is_visible()
    assert page.locator("#heatmap td.cell").first.is_visible()
    page.locator("#doc-1 table.gap-table").scroll_into_view_if_needed()
    assert page.locator("#doc-1 table.gap-table").is_visible()
    assert visible_rows(page).count() == 68
    page.screenshot(path=str(tmp_path / "report-top.png"))
    page.screenshot(path=str(tmp_path / "report-full.png"), full_page=True)
    assert (tmp_path / "report-top.png").stat().st_size > 20_000
    assert opened.console_errors == [] and opened.page_errors == [] and opened.dialogs == []
    assert opened.requests == [sample_report.as_uri()]


def test_a_filter_changes_the_rows_shown(opened, tmp_path):
    page = opened.page
    section = page.locator("#doc-1")
    section.scroll_into_view_if_needed()
    covered = page.locator("#doc-1 table.gap-table tbody tr[data-status='covered']").count()
    assert 0 < covered < 68
    section.locator("select[data-filter='status']").select_option("covered")
    assert visible_rows(page).count() == covered
    assert section.locator("[data-row-count]").text_content() == f"{covered} of 68 items shown"
    assert all(status == "covered" for status in
               visible_rows(page).evaluate_all("rows => rows.map(row => row.dataset.status)"))
    section.locator("select[data-filter='framework']").select_option("inspection_principles")
    inspection_covered = page.locator(
        "#doc-1 tbody tr[data-status='covered'][data-framework='inspection_principles']").count()
    assert visible_rows(page).count() == inspection_covered
    page.screenshot(path=str(tmp_path / "report-filtered.png"))
    section.locator("button[data-action='reset']").click()
    assert visible_rows(page).count() == 68
    section.locator("select[data-filter='group']").select_option("Voice")
    assert visible_rows(page).count() == 6
    assert opened.console_errors == [] and opened.page_errors == []


def test_sorting_by_score_orders_the_rows(opened):
    page = opened.page
    header = page.locator("#doc-1 th[data-sort-key='score'] button")

    def scores():
        return [float(s) for s in visible_rows(page).evaluate_all("rows => rows.map(r => r.dataset.sortScore)")]

    original = scores()
    header.click()
    assert scores() == sorted(original)
    header.click()
    assert scores() == sorted(original, reverse=True)
    assert page.locator("#doc-1 th[data-sort-key='score']").get_attribute("aria-sort") == "descending"
    page.locator("#doc-1 th[data-sort-key='order'] button").click()
    assert scores() == original


def test_a_heatmap_cell_opens_that_rows_evidence(opened):
    page = opened.page
    cell = page.locator("#heatmap td.cell.s-covered a").first
    target = cell.get_attribute("href").lstrip("#")
    page.locator("#doc-1 select[data-filter='status']").select_option("missing")  # hides the target row
    cell.click()
    row = page.locator(f"tr[id='{target}']")
    assert row.is_visible()
    assert row.locator("details").evaluate("details => details.open") is True
    assert row.locator("blockquote.passage").first.is_visible()


def test_hostile_text_stays_inert_in_the_browser(browser, tmp_path, reference_set):
    payload = " ".join(HOSTILE_TEXTS)
    coverages = fixture_coverages(reference_set, doc_a=f"<img src=x onerror=\"window.__pwned='name'\">{payload}",
                                  text=f"{payload} Brothers and sisters stay together.", heading=HOSTILE_TEXTS[1])
    report = tmp_path / "hostile.html"
    report.write_text(render_report(coverages=coverages, skipped=[], run_record=RUN_RECORD), encoding="utf-8")
    view = OpenedPage(browser, report)
    page = view.page
    page.locator("#doc-1 button[data-action='expand']").click()
    page.locator("tr#d1-CARE-3").hover()
    page.mouse.move(10, 10)
    page.screenshot(path=str(tmp_path / "hostile.png"))
    assert page.evaluate("() => window.__pwned") is None
    assert view.dialogs == [] and view.page_errors == [] and view.console_errors == []
    assert view.requests == [report.as_uri()]
    assert HOSTILE_TEXTS[0] in page.locator("tr#d1-CARE-3 blockquote.passage").text_content()
    view.page.close()


# Printing (or saving as PDF): evidence expanded, status colours kept, the whole heatmap on paper

#: The covered status's colour (Okabe-Ito bluish green), as an RGB triple.
COVERED_RGB = (0x00, 0x9E, 0x73)
#: Text after the heatmap in the overview section: the pages before it hold the heatmap.
AFTER_HEATMAP = "What its score measures"


@pytest.fixture(scope="module")
def printed_report(browser, sample_report, tmp_path_factory):
    """report.html printed to an A4 PDF as a person would: background graphics off, the print dialog's default."""
    page = browser.new_page()
    page.goto(sample_report.as_uri())
    page.wait_for_load_state("load")
    pdf_path = tmp_path_factory.mktemp("printed") / "report.pdf"
    page.pdf(path=str(pdf_path), format="A4", print_background=False)
    page.close()
    return pdf_path


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


def test_printing_expands_every_evidence_passage(printed_report, sample_report):
    text = " ".join(pdf_page_texts(printed_report))
    covered = [row for row in sample_gap_rows(sample_report) if row["status"] == "covered"]
    assert len(covered) > 100
    for row in covered[:: len(covered) // 12]:
        opening = " ".join(row["evidence"].split()[:8])
        assert opening in text, (row["document"], row["item_id"], opening)


def test_printing_shows_the_whole_item_text(printed_report, reference_set):
    """In each document's gap table (4) and on the item's page, not only the start shown on screen."""
    text = " ".join(pdf_page_texts(printed_report))
    long_text = " ".join(reference_set.item("CARE-22").text.split())
    assert text.count(long_text[-60:]) == 5


def test_printing_keeps_the_status_colours(printed_report):
    import numpy as np
    import pypdfium2

    document = pypdfium2.PdfDocument(str(printed_report))
    try:
        pixels = np.asarray(document[0].render(scale=1).to_pil().convert("RGB"), dtype=int)
    finally:
        document.close()
    covered_pixels = int((np.abs(pixels - np.array(COVERED_RGB)).max(axis=2) <= 12).sum())
    assert covered_pixels > 500


def test_printing_pages_the_whole_heatmap(printed_report, sample_report):
    """Every document's row is printed whole: its covered and partial symbols, across the printed blocks,
    add up to its counts (the screen heatmap, 68 items wide, was cut at the paper's edge)."""
    import pypdfium2

    document = pypdfium2.PdfDocument(str(printed_report))
    try:
        lines = []
        for page in document:
            text = page.get_textpage().get_text_range()
            lines += text.split(AFTER_HEATMAP)[0].splitlines()
            if AFTER_HEATMAP in text:
                break
    finally:
        document.close()
    rows = sample_gap_rows(sample_report)
    for name in dict.fromkeys(row["document"] for row in rows):
        expected = sum(row["document"] == name and row["status"] in ("covered", "partial") for row in rows)
        shown = sum(line.count("●") + line.count("◐") for line in lines if line.startswith(name))
        assert shown == expected, name
