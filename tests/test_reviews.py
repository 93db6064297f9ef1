"""Reviewers' decisions: an append-only store, applied to every output of a re-run, kept across a rename,
flagged when the document is edited, safe with two writers, and read back from the workbook."""

import csv
import json
import threading

import openpyxl
import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.review.store import Decision, ReviewStore, ReviewStoreError, passage_hash

SIBLINGS = ("Brothers and sisters must be kept together in care wherever it is safe, and where they cannot live "
            "together the council will make sure they keep in touch and see each other often.")
LISTENING = ("Children and young people will be listened to and involved in every decision about their care; "
             "what they say will shape the plan made with them.")
OTHER = "The library opens at nine on weekdays and at ten on Saturdays; the car park is free after six."


def map_folder(corpus, out, *extra):
    result = CliRunner().invoke(app, ["map", str(corpus), "--out", str(out), "--quiet", "--classifier", "lexical",
                                      "--no-cache", *extra])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in (out / "coverage.jsonl").open(encoding="utf-8")]


@pytest.fixture
def corpus(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "plan.txt").write_text(f"{SIBLINGS}\n\n{LISTENING}\n\n{OTHER}\n", encoding="utf-8")
    return folder


def decide_item(store, verdict, status, *, reviewer="Ann", note=""):
    store.add(Decision(doc_id=verdict["doc_id"], document=verdict["document"], item_id=verdict["item_id"],
                       decision=status, reviewer=reviewer, note=note, machine_status=verdict["status"],
                       machine_score=verdict["score"],
                       evidence_hashes=tuple(passage_hash(e["text"]) for e in verdict["evidence"])))


def reject_best(store, verdict, *, reviewer="Ann"):
    text = verdict["evidence"][0]["text"]
    store.add(Decision(doc_id=verdict["doc_id"], document=verdict["document"], item_id=verdict["item_id"],
                       decision="rejected", reviewer=reviewer, passage_hash=passage_hash(text), passage_text=text))


def covered(verdicts):
    found = [v for v in verdicts if v["status"] == "covered"]
    assert found, "the fixture must give the lexical classifier something to cover"
    return found[0]


def test_the_history_is_append_only_and_the_newest_decision_is_in_force(tmp_path):
    store = ReviewStore(tmp_path / "reviews.sqlite")
    base = {"doc_id": "a" * 64, "document": "plan.txt", "item_id": "CARE-3", "reviewer": "Ann"}
    store.add(Decision(decision="covered", **base))
    store.add(Decision(decision="missing", note="only names it", **base))
    assert [(d.decision, d.note) for d in store.latest()] == [("missing", "only names it")]
    assert [d.decision for d in store.history()] == ["covered", "missing"]
    with store.connect() as connection, pytest.raises(Exception, match="append-only"):
        connection.execute("DELETE FROM decisions")
    with pytest.raises(ReviewStoreError, match="not a decision"):
        Decision(decision="coverd", **base)
    with pytest.raises(ReviewStoreError, match="reviewer"):
        Decision(decision="covered", **{**base, "reviewer": " "})


def test_a_file_that_is_not_a_review_store_is_refused(tmp_path):
    (tmp_path / "x.sqlite").write_bytes(b"not sqlite at all" * 100)
    with pytest.raises(ReviewStoreError, match="not a promise-map review store"):
        ReviewStore(tmp_path / "x.sqlite")


def test_two_concurrent_writers_lose_no_decision(tmp_path):
    path = tmp_path / "reviews.sqlite"
    ReviewStore(path)

    def write(reviewer):
        store = ReviewStore(path)
        for number in range(40):
            store.add(Decision(doc_id="b" * 64, document="d.txt", item_id=f"CARE-{number % 22 + 1}",
                               decision="covered", reviewer=reviewer, note=str(number)))

    threads = [threading.Thread(target=write, args=(name,)) for name in ("Ann", "Bo", "Cy")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    history = list(ReviewStore(path).history())
    assert len(history) == 120
    assert {(d.reviewer, d.note) for d in history} == {(r, str(n)) for r in ("Ann", "Bo", "Cy") for n in range(40)}


def test_a_re_run_shows_the_reviews_in_every_output_and_keeps_them_when_the_file_is_renamed(tmp_path, corpus):
    verdicts = map_folder(corpus, tmp_path / "run")
    target, missing = covered(verdicts), next(v for v in verdicts if v["status"] == "missing")
    store = ReviewStore(tmp_path / "reviews.sqlite")
    decide_item(store, target, "missing", note="names the topic only")
    reject_best(store, target)
    decide_item(store, missing, "not_applicable", reviewer="Bo")

    (corpus / "plan.txt").rename(corpus / "renamed-plan.txt")
    out = tmp_path / "rerun"
    again = {v["item_id"]: v for v in map_folder(corpus, out, "--reviews", str(tmp_path / "reviews.sqlite"))}
    reviewed = again[target["item_id"]]
    assert (reviewed["status"], reviewed["machine_status"]) == ("missing", "covered")
    assert reviewed["review"]["reviewer"] == "Ann" and reviewed["review"]["note"] == "names the topic only"
    assert reviewed["evidence"][0]["review"] == "rejected"
    assert again[missing["item_id"]]["status"] == "not_applicable"

    rows = {r["item_id"]: r for r in csv.DictReader((out / "gap_table.csv").open(encoding="utf-8"))}
    assert (rows[target["item_id"]]["status"], rows[target["item_id"]]["machine_status"],
            rows[target["item_id"]]["reviewed_by"]) == ("missing", "covered", "Ann")
    sheet = openpyxl.load_workbook(out / "gap_table.xlsx")["gap_table"]
    header = [cell.value for cell in sheet[1]]
    row = next(r for r in sheet.iter_rows(min_row=2, values_only=True) if r[header.index("item_id")] ==
               target["item_id"])
    assert (row[header.index("status")], row[header.index("reviewed_status")]) == ("missing", "missing")
    assert "reviewed (Ann" in (out / "gap_table.md").read_text(encoding="utf-8")
    page = next((out / "report").glob("*.html")).read_text(encoding="utf-8")
    assert "reviewed by Ann" in page and "machine: covered" in page
    index = (out / "report.html").read_text(encoding="utf-8")
    assert 'id="review"' in index and "Machine precision" in index
    record = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert record["reviews"]["items_reviewed"] == 2 and record["reviews"]["sha256"] == store.sha256()


def test_an_edited_document_flags_its_changed_evidence_for_review_again(tmp_path, corpus):
    target = covered(map_folder(corpus, tmp_path / "run"))
    store = ReviewStore(tmp_path / "reviews.sqlite")
    decide_item(store, target, "partial")
    (corpus / "plan.txt").write_text(f"{SIBLINGS} Each child will have a named worker for this.\n\n{LISTENING}\n\n"
                                     f"{OTHER}\n", encoding="utf-8")
    again = {v["item_id"]: v for v in map_folder(corpus, tmp_path / "rerun", "--reviews",
                                                 str(tmp_path / "reviews.sqlite"))}
    edited = again[target["item_id"]]
    assert edited["doc_id"] != target["doc_id"]
    assert edited["review"]["state"] == "review again"
    assert edited["status"] == edited["machine_status"]  # the old decision is shown, not applied
    assert "review again" in {e["review"] for e in edited["evidence"]}


def test_an_edited_workbook_round_trips_and_a_bad_status_is_refused_with_its_row(tmp_path, corpus):
    map_folder(corpus, tmp_path / "run")
    workbook_path = tmp_path / "run" / "gap_table.xlsx"
    workbook = openpyxl.load_workbook(workbook_path)
    sheet = workbook["gap_table"]
    header = [cell.value for cell in sheet[1]]
    status_column, note_column = header.index("reviewed_status") + 1, header.index("review_note") + 1
    sheet.cell(row=2, column=status_column, value="partial")
    sheet.cell(row=2, column=note_column, value="@cmd is only text here")
    sheet.cell(row=3, column=status_column, value="not applicable")
    workbook.save(tmp_path / "edited.xlsx")
    db = tmp_path / "reviews.sqlite"
    result = CliRunner().invoke(app, ["reviews", "import", str(tmp_path / "edited.xlsx"), "--db", str(db),
                                      "--reviewer", "Cy"])
    assert result.exit_code == 0, result.output
    decisions = ReviewStore(db).latest()
    assert sorted(d.decision for d in decisions) == ["not_applicable", "partial"]
    assert {d.reviewer for d in decisions} == {"Cy"} and {d.origin for d in decisions} == {"workbook"}
    again = CliRunner().invoke(app, ["reviews", "import", str(tmp_path / "edited.xlsx"), "--db", str(db),
                                     "--reviewer", "Cy"])
    assert "imported 0 decision(s)" in again.output and ReviewStore(db).count() == 2

    rerun = {(v["item_id"]): v for v in map_folder(corpus, tmp_path / "rerun", "--reviews", str(db))}
    assert sum(v["status"] == "not_applicable" for v in rerun.values()) == 1

    sheet.cell(row=4, column=status_column, value="coverd")
    workbook.save(tmp_path / "bad.xlsx")
    refused = CliRunner().invoke(app, ["reviews", "import", str(tmp_path / "bad.xlsx"), "--db", str(db),
                                       "--reviewer", "Cy"])
    assert refused.exit_code == 2 and "row 4" in refused.output and "'coverd'" in refused.output
    assert ReviewStore(db).count() == 2  # nothing of the bad workbook was imported

    export = CliRunner().invoke(app, ["reviews", "export", "--db", str(db), "--out", str(tmp_path / "trail.csv")])
    assert export.exit_code == 0, export.output
    trail = list(csv.DictReader((tmp_path / "trail.csv").open(encoding="utf-8")))
    assert len(trail) == 2 and trail[0]["note"] == "'@cmd is only text here"  # the formula guard holds in the trail


@pytest.mark.slow
def test_reviews_teach_the_model_in_the_direction_of_the_decision(tmp_path, reference_set):
    from pipeline.evaluate import load_labelled
    from pipeline.review.passages import reviewed_passages
    from pipeline.training import DEFAULT_LABELLED_DIR, DEFAULT_LEXICON, train, training_reference

    training = training_reference()
    known = {item.id for item in training.items}
    dev = [*load_labelled(DEFAULT_LABELLED_DIR / "dev.jsonl", known),
           *load_labelled(DEFAULT_LABELLED_DIR / "offtopic-A.jsonl", known)]
    text = "Where it is safe, brothers and sisters will live together, and the council will support them to."
    store = ReviewStore(tmp_path / "reviews.sqlite")
    store.add(Decision(doc_id="c" * 64, document="plan.txt", item_id="CARE-3", decision="rejected", reviewer="Ann",
                       passage_hash=passage_hash(text), passage_text=text))
    column = [item.id for item in training.items].index("CARE-3")

    def score(passages):
        classifier = train(training, passages, DEFAULT_LEXICON)
        return classifier.score([text]).scores.probabilities[0, column]

    reviewed = reviewed_passages(store, {item.id for item in training.items})
    assert [p.labels for p in reviewed] == [frozenset()]
    assert score(dev + reviewed * 3) < score(dev)


def test_eval_scores_the_model_on_the_reviewed_passages(tmp_path):
    store = ReviewStore(tmp_path / "reviews.sqlite")
    for text, decision in ((SIBLINGS, "accepted"), (OTHER, "rejected")):
        store.add(Decision(doc_id="d" * 64, document="plan.txt", item_id="CARE-3", decision=decision, reviewer="Ann",
                           passage_hash=passage_hash(text), passage_text=text))
    result = CliRunner().invoke(app, ["eval", "--reviews", str(tmp_path / "reviews.sqlite"), "--classifier",
                                      "lexical", "--json", str(tmp_path / "figures.json")])
    assert result.exit_code == 0, result.output
    figures = json.loads((tmp_path / "figures.json").read_text(encoding="utf-8"))
    assert (figures["judgements"], figures["accepted"], figures["rejected"]) == (2, 1, 1)
    assert result.output.strip().splitlines()[-1] == f"review_agreement={figures['agreement']:.3f}"
