"""The whole pipeline through the CLI: the bundled sample corpus, mixed file types, bad files, repeatability."""

import csv
import json
import re
import shutil

import pytest
from typer.testing import CliRunner

from pipeline.classify import normalise_for_matching
from pipeline.classify.text import FUNCTION_WORDS, lemmatise
from pipeline.cli import app
from tests.conftest import SAMPLE_CORPUS, UNRELATED_TEXT, make_docx, make_pdf

pytestmark = pytest.mark.slow

BRIEFING, RESPONSE, SUMMARY = "000_c62ad4983681b1c2.txt", "001_6364ec61e7c35946.txt", "004_371aa332c2b99622.txt"


def run_map(corpus, out):
    result = CliRunner().invoke(app, ["map", str(corpus), "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    return read_gap_table(out)


def read_gap_table(out):
    rows = list(csv.DictReader((out / "gap_table.csv").open(encoding="utf-8")))
    return {(row["document"], row["item_id"]): row for row in rows}


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("sample-run")
    return out, run_map(SAMPLE_CORPUS, out)


def opening_words(text, n=7):
    return " ".join(normalise_for_matching(text).split()[:n])


@pytest.mark.parametrize("document", [BRIEFING, RESPONSE])
def test_all_thirteen_principles_covered_with_their_own_passages_as_evidence(sample_run, reference_set, document):
    _, table = sample_run
    for n in range(1, 14):
        item = reference_set.item(f"IP-{n:02d}")
        row = table[(document, item.id)]
        assert row["status"] == "covered", (document, item.id, row)
        assert row["signal"] == "quote"
        assert opening_words(item.text) in normalise_for_matching(row["evidence"]), (item.id, row["evidence"])
        if document == RESPONSE:
            assert "24. Core Principles for Regulation and Scrutiny" in row["heading"]


def test_member_summary_covers_what_it_discusses_and_misses_scaffolding(sample_run):
    _, table = sample_run
    for item_id in ("CARE-12", "CARE-21", "FAMILY-8"):
        assert table[(SUMMARY, item_id)]["status"] == "covered", item_id
    assert table[(SUMMARY, "FAMILY-8")]["signal"] == "quote"
    missing = [n for n in range(1, 12) if table[(SUMMARY, f"SCAFFOLDING-{n}")]["status"] == "missing"]
    assert len(missing) >= 8


def test_every_document_item_pair_has_a_row_and_claims_show_evidence(sample_run, reference_set):
    _, table = sample_run
    documents = {doc for doc, _ in table}
    assert documents == {path.name for path in SAMPLE_CORPUS.iterdir()}
    assert len(table) == len(documents) * len(reference_set.items)
    for row in table.values():
        if row["status"] != "missing":
            assert row["evidence"] and row["page"].isdigit() and row["signal"] in ("quote", "tfidf", "model")
        else:
            assert row["evidence"] == "" and row["page"] == ""


def test_outputs_of_a_run(sample_run, reference_set):
    out, _ = sample_run
    assert {p.name for p in out.iterdir()} >= {"gap_table.csv", "gap_table.xlsx", "gap_table.md", "passages.jsonl",
                                               "matches.csv", "errors.csv", "run.json", "report.html", "report",
                                               "coverage_by_item.png", "coverage_heatmap.png", "coverage_heatmap.svg",
                                               "coverage_by_foundation.png"}
    assert len(list((out / "report").glob("*.html"))) == len(list(SAMPLE_CORPUS.iterdir()))  # a page per document
    run = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert run["reference"]["sha256"] == reference_set.sha256
    assert {fw["version"] for fw in run["reference"]["frameworks"]} == {"2020-south-ayrshire-55", "2020-promise-p119"}
    assert all(re.fullmatch(r"[0-9a-f]{64}", entry["sha256"]) for entry in run["inputs"])
    assert "wall" in run["timings_seconds"]  # the stages' own seconds only for documents not from the cache
    assert set(run["timings_seconds"]) <= {"wall", "extract", "segment", "classify", "stance", "total"}
    passages = [json.loads(line) for line in (out / "passages.jsonl").read_text(encoding="utf-8").splitlines()]
    ids = {entry["sha256"] for entry in run["inputs"]}
    assert {entry["file"] for entry in run["inputs"]} == {path.name for path in SAMPLE_CORPUS.iterdir()}
    assert {p["doc"] for p in passages} == ids
    matches = list(csv.DictReader((out / "matches.csv").open(encoding="utf-8")))
    assert matches and all(m["matched"] for m in matches if m["signal"] == "quote")
    assert list(csv.DictReader((out / "errors.csv").open(encoding="utf-8"))) == []


def test_model_and_tfidf_matches_name_the_passages_own_words(sample_run):
    """A reviewer checks a match against the words it shows: they must be words of the passage as read
    (heading, lead-in and text), with no lexicon concept tokens and no terms made only of function words."""
    out, _ = sample_run
    passages = {p["id"]: p for p in map(json.loads, (out / "passages.jsonl").read_text(encoding="utf-8").splitlines())}
    explained = [m for m in csv.DictReader((out / "matches.csv").open(encoding="utf-8"))
                 if m["signal"] in ("model", "tfidf")]
    assert len(explained) > 100
    for match in explained:
        passage = passages[match["passage_id"]]
        read = normalise_for_matching(" ".join((passage["heading"], passage["lead_in"], passage["text"])))
        words_read = set(read.split()) | set(lemmatise(read).split())
        terms = match["matched"].split(", ")
        assert match["matched"] and "c_" not in match["matched"], match
        assert all(set(term.split()) - FUNCTION_WORDS for term in terms), match
        shown = set(" ".join(terms).split()) - {"/"}  # " / " joins the several phrases of one concept
        assert shown <= words_read, (match, shown - words_read)


def test_second_run_is_byte_identical(sample_run, tmp_path):
    out, _ = sample_run
    run_map(SAMPLE_CORPUS, tmp_path)
    for name in ("gap_table.csv", "gap_table.xlsx", "matches.csv", "passages.jsonl", "gap_table.md", "errors.csv"):
        assert (tmp_path / name).read_bytes() == (out / name).read_bytes(), name


def test_mixed_folder_with_bad_files_completes(tmp_path, reference_set):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(SAMPLE_CORPUS / SUMMARY, corpus)
    (corpus / "roads.txt").write_text(UNRELATED_TEXT, encoding="utf-8")
    make_pdf(corpus / "plan.pdf", [
        [("h1", "Stability"), ("body", "Glenmore Council must limit the number of moves that children experience and "
                                       "support carers to continue to care.")],
        [("h1", "Roads"), ("body", "Resurfacing continues on the A719.")],
    ])
    make_docx(corpus / "response.docx", heading="Siblings",
              paragraphs=["Scotland already has a presumption that children will stay together with their brothers "
                          "and sisters. That presumption must be fully implemented and closely monitored."])
    (corpus / "corrupt.pdf").write_bytes(b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R")
    (corpus / "notes.odt").write_bytes(b"PK\x03\x04 not supported")
    out = tmp_path / "out"
    table = run_map(corpus, out)

    errors = list(csv.DictReader((out / "errors.csv").open(encoding="utf-8")))
    assert [(e["file"], e["stage"]) for e in errors] == [("corrupt.pdf", "extract"), ("notes.odt", "extract")]
    assert "damaged" in errors[0]["reason"] and "unsupported file type" in errors[1]["reason"]
    assert {doc for doc, _ in table} == {SUMMARY, "roads.txt", "plan.pdf", "response.docx"}

    assert all(table[("roads.txt", item.id)]["status"] == "missing" for item in reference_set.items)
    assert table[("plan.pdf", "CARE-6")]["status"] == "covered"
    assert table[("plan.pdf", "CARE-6")]["page"] == "1"
    assert table[("response.docx", "CARE-3")]["status"] == "covered"
    assert table[(SUMMARY, "FAMILY-8")]["status"] == "covered"


def test_files_of_one_name_in_different_folders_stay_separate_documents(tmp_path, reference_set):
    """A corpus kept by year ("2023/plan.txt", "2024/plan.txt") must not merge the two plans into one document."""
    corpus = tmp_path / "corpus"
    for year, text in (("2023", "Siblings\n\nScotland already has a presumption that children will stay together "
                                 "with their brothers and sisters. That presumption must be fully implemented."),
                       ("2024", UNRELATED_TEXT)):
        (corpus / year).mkdir(parents=True)
        (corpus / year / "plan.txt").write_text(text, encoding="utf-8")
    (corpus / "2024" / "budget.txt").write_text(UNRELATED_TEXT + "\nThe budget for 2024.\n", encoding="utf-8")
    out = tmp_path / "out"
    table = run_map(corpus, out)

    assert {doc for doc, _ in table} == {"2023/plan.txt", "2024/plan.txt", "budget.txt"}
    assert len(table) == 3 * len(reference_set.items)
    assert table[("2023/plan.txt", "CARE-3")]["status"] == "covered"
    assert "brothers and sisters" in table[("2023/plan.txt", "CARE-3")]["evidence"]
    assert all(table[("2024/plan.txt", item.id)]["status"] == "missing" for item in reference_set.items)
    passage_ids = [json.loads(line)["id"] for line in (out / "passages.jsonl").read_text(encoding="utf-8").split("\n")
                   if line]
    assert len(passage_ids) == len(set(passage_ids))


def test_cli_refuses_missing_or_empty_folder(tmp_path):
    runner = CliRunner()
    missing = runner.invoke(app, ["map", str(tmp_path / "nope"), "--out", str(tmp_path / "o")])
    assert missing.exit_code == 2 and "does not exist" in missing.output
    (tmp_path / "empty").mkdir()
    empty = runner.invoke(app, ["map", str(tmp_path / "empty"), "--out", str(tmp_path / "o")])
    assert empty.exit_code == 2 and "no files" in empty.output
    assert not (tmp_path / "o").exists()
