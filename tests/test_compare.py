"""compare: the items one document covers and the other misses, as a table and an HTML page."""

import csv

import pytest
from bs4 import BeautifulSoup
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.compare import (
    COMPARE_COLUMNS,
    CompareError,
    compare_documents,
    comparison_file_stem,
    read_gap_table,
    resolve_document,
)
from pipeline.report import write_comparison
from pipeline.report_html import asset_text


def row(document, item_id, status, evidence="", page=""):
    return {"document": document, "framework": "calls_to_action", "group": item_id.split("-")[0].title(),
            "item_id": item_id, "title": f"title of {item_id}", "status": status,
            "score": "0.900" if status != "missing" else "0.000", "signal": "quote" if status != "missing" else "",
            "evidence": evidence, "page": page, "heading": "", "evidence_pages": page}


#: (item, status in consultation.txt, status in response.txt)
STATUS_TABLE = [
    ("VOICE-1", "covered", "covered"),
    ("VOICE-2", "covered", "missing"),
    ("VOICE-3", "missing", "covered"),
    ("VOICE-4", "partial", "missing"),
    ("VOICE-5", "covered", "partial"),
    ("VOICE-6", "missing", "missing"),
    ("CARE-1", "missing", "covered"),
]
A, B = "consultation.txt", "response.txt"


@pytest.fixture
def rows():
    table = [row(A, item, status_a, evidence=f"A on {item}", page="2") for item, status_a, _ in STATUS_TABLE]
    table += [row(B, item, status_b, evidence=f"B on {item}", page="5") for item, _, status_b in STATUS_TABLE]
    return table + [row("other.txt", "VOICE-1", "covered")]


def test_lists_exactly_the_items_covered_in_one_and_missing_in_the_other(rows):
    comparison = compare_documents(rows, A, B)
    assert [entry.item_id for entry in comparison.only_a] == ["VOICE-2"]
    assert [entry.item_id for entry in comparison.only_b] == ["VOICE-3", "CARE-1"]
    assert comparison.items_compared == len(STATUS_TABLE)
    voice_3 = comparison.only_b[0]
    assert (voice_3.status_a, voice_3.status_b, voice_3.evidence_b, voice_3.page_b) == ("missing", "covered",
                                                                                         "B on VOICE-3", "5")


def test_swapping_the_documents_swaps_the_lists(rows):
    forward, backward = compare_documents(rows, A, B), compare_documents(rows, B, A)
    assert [e.item_id for e in forward.only_a] == [e.item_id for e in backward.only_b]
    assert [e.item_id for e in forward.only_b] == [e.item_id for e in backward.only_a]


def test_include_partial_lists_every_difference_on_the_stronger_side(rows):
    comparison = compare_documents(rows, A, B, include_partial=True)
    assert [entry.item_id for entry in comparison.only_a] == ["VOICE-2", "VOICE-4", "VOICE-5"]
    assert [entry.item_id for entry in comparison.only_b] == ["VOICE-3", "CARE-1"]
    assert comparison.only_a[1].difference == "partial in A, missing in B"


@pytest.mark.parametrize(("query", "expected"), [
    ("response.txt", "response.txt"), ("resp", "response.txt"), ("response", "response.txt"), ("c", A)])
def test_documents_are_found_by_name_or_unique_prefix(query, expected):
    assert resolve_document(query, [A, B, "other.txt"]) == expected


@pytest.mark.parametrize(("query", "message"), [
    ("nope.txt", "not a document of this run; its documents are: consultation.txt, response.txt, cons.txt"),
    ("con", "matches several documents"),
    ("", "matches several documents"),
])
def test_unknown_or_ambiguous_names_say_what_the_documents_are(query, message):
    with pytest.raises(CompareError, match=message):
        resolve_document(query, [A, B, "cons.txt"])


def test_a_document_cannot_be_compared_with_itself(rows):
    with pytest.raises(CompareError, match="two different documents"):
        compare_documents(rows, A, "consult")


def test_missing_gap_table_says_to_run_map_first(tmp_path):
    with pytest.raises(CompareError, match="run `promise-map map"):
        read_gap_table(tmp_path)


def test_comparisons_of_documents_with_one_stem_get_files_of_their_own():
    names = ["2023/plan.pdf", "2024/plan.pdf", "plan.docx", "x" * 200 + "a.txt", "x" * 200 + "b.txt"]
    rows = [row(name, "CARE-3", "covered") for name in names] + [row("other.txt", "CARE-3", "missing")]
    stems = [comparison_file_stem(compare_documents(rows, name, "other.txt")) for name in names]
    assert len(set(stems)) == len(names) and all(len(stem) < 200 for stem in stems)
    assert stems[0] == "compare_2023_plan.pdf__other.txt"


def test_writes_a_neutralised_table_and_an_escaped_html_page(tmp_path):
    hostile = [row("=evil<script>alert(1)</script>.txt", "CARE-3", "covered",
                   evidence="=HYPERLINK(\"http://x\") <img src=x onerror=alert(2)>", page="3"),
               row("b.txt", "CARE-3", "missing")]
    comparison = compare_documents(hostile, "=evil", "b.txt")
    csv_path, html_path = write_comparison(tmp_path, comparison, run_record={"created": "2026-01-01"})
    assert csv_path.name == comparison_file_stem(comparison) + ".csv" and html_path.suffix == ".html"
    assert "<" not in csv_path.name and "=" not in csv_path.name.removeprefix("compare_")[:1]
    with csv_path.open(encoding="utf-8", newline="") as stream:
        [entry] = list(csv.DictReader(stream))
    assert list(entry) == list(COMPARE_COLUMNS)
    assert entry["document_a"].startswith("'=") and entry["evidence_a"].startswith("'=HYPERLINK")
    assert entry["difference"] == "covered in A, missing in B"
    page = BeautifulSoup(html_path.read_text(encoding="utf-8"), "html5lib")
    assert len(page.find_all("script")) == 1 and page.script.string == asset_text("report.js")
    assert not page.find_all(["img", "iframe", "svg"])
    assert "<img src=x onerror=alert(2)>" in page.select_one("#only-a").get_text()
    assert [tr["data-item"] for tr in page.select("#only-a tbody tr")] == ["CARE-3"]
    assert "None." in page.select_one("#only-b").get_text()


CONSULTATION = """Consultation on siblings and stability

Scotland already has a presumption that children will stay together with their brothers and sisters. That \
presumption must be fully implemented and closely monitored.

Scotland must limit the number of moves that children experience and support carers to continue to care.

Inspection frameworks must prioritise the quality of relationships experienced by children, not the process \
surrounding their care.
"""
RESPONSE = """Response on mental health and scrutiny

Scotland must ensure that timely, trauma informed and thoughtful support therapies act as a cushion to all those \
that require it, regardless of diagnosis.

Inspection frameworks must prioritise the quality of relationships experienced by children, not the process \
surrounding their care.
"""


def statuses_by_document(out):
    table = {}
    for entry in csv.DictReader((out / "gap_table.csv").open(encoding="utf-8")):
        table.setdefault(entry["document"], {})[entry["item_id"]] = entry["status"]
    return table


@pytest.mark.slow
def test_compare_command_on_two_fixture_documents(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "consultation.txt").write_text(CONSULTATION, encoding="utf-8")
    (corpus / "response.txt").write_text(RESPONSE, encoding="utf-8")
    run = tmp_path / "run"
    runner = CliRunner()
    mapped = runner.invoke(app, ["map", str(corpus), "--out", str(run), "--quiet"])
    assert mapped.exit_code == 0, mapped.output
    compared = runner.invoke(app, ["compare", "consultation", "response", "--run", str(run)])
    assert compared.exit_code == 0, compared.output

    statuses = statuses_by_document(run)
    consultation, response = statuses["consultation.txt"], statuses["response.txt"]
    expected_a = [i for i in consultation if consultation[i] == "covered" and response[i] == "missing"]
    expected_b = [i for i in consultation if response[i] == "covered" and consultation[i] == "missing"]
    written = list(csv.DictReader((run / "compare_consultation.txt__response.txt.csv").open(encoding="utf-8")))
    listed_a = [e["item_id"] for e in written if e["difference"] == "covered in A, missing in B"]
    listed_b = [e["item_id"] for e in written if e["difference"] == "missing in A, covered in B"]
    assert listed_a == expected_a and listed_b == expected_b
    assert len(written) == len(expected_a) + len(expected_b)
    # what the fixture texts were written to show: each quotes items the other does not
    assert {"CARE-3", "CARE-6"} <= set(listed_a)
    assert "FAMILY-8" in listed_b
    assert "CARE-3" not in listed_b and "IP-01" not in listed_a + listed_b
    page = BeautifulSoup((run / "compare_consultation.txt__response.txt.html").read_text(encoding="utf-8"), "html5lib")
    assert [tr["data-item"] for tr in page.select("#only-a tbody tr")] == listed_a
    assert [tr["data-item"] for tr in page.select("#only-b tbody tr")] == listed_b
    (run / "gap_table.csv").unlink()  # compare reads the typed verdicts, coverage.jsonl
    again = runner.invoke(app, ["compare", "consultation", "response", "--run", str(run), "--out", str(tmp_path / "c")])
    assert again.exit_code == 0, again.output
    assert (tmp_path / "c" / "compare_consultation.txt__response.txt.csv").read_bytes() == \
        (run / "compare_consultation.txt__response.txt.csv").read_bytes()


def test_compare_command_refuses_unknown_documents(tmp_path, rows):
    with (tmp_path / "gap_table.csv").open("w", encoding="utf-8", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    result = CliRunner().invoke(app, ["compare", "nope", "response", "--run", str(tmp_path)])
    assert result.exit_code == 2 and "not a document of this run" in result.output
    assert not list(tmp_path.glob("compare_*"))
    result = CliRunner().invoke(app, ["compare", "cons", "resp", "--run", str(tmp_path), "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["compare_consultation.txt__response.txt.csv",
                                                                   "compare_consultation.txt__response.txt.html"]


def test_comparison_carries_the_item_text_after_the_title(tmp_path):
    rows = [{**row(A, "VOICE-2", "covered", evidence="culture", page="2"), "item_text": "support a culture change"},
            {**row(B, "VOICE-2", "missing"), "item_text": "support a culture change"}]
    comparison = compare_documents(rows, A, B)
    assert comparison.only_a[0].item_text == "support a culture change"
    csv_path, html_path = write_comparison(tmp_path, comparison, run_record={})
    assert COMPARE_COLUMNS[COMPARE_COLUMNS.index("title") + 1] == "item_text"
    with csv_path.open(encoding="utf-8", newline="") as stream:
        [entry] = list(csv.DictReader(stream))
    assert entry["item_text"] == "support a culture change"
    page = BeautifulSoup(html_path.read_text(encoding="utf-8"), "html5lib")
    assert "support a culture change" in page.select_one("#only-a tbody tr").get_text()


def test_a_gap_table_without_item_texts_still_compares(rows):
    assert compare_documents(rows, A, B).only_a[0].item_text == ""
