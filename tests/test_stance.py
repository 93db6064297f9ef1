"""Stance and commitment (pipeline/stance): the models, the document-level rules and every output's columns.

The models are trained here from the repository's labelled set (corpora/labelled/stance.jsonl, seconds), into
the test's own folder. The passages read below are not in that set: they check the guide's hard cases
(docs/stance-labelling.md) on text the model never saw.
"""

import csv
import json

import numpy as np
import openpyxl
import pytest
from typer.testing import CliRunner

from pipeline.classify.persist import ModelFileError, write_model_file
from pipeline.cli import app
from pipeline.compare import compare_documents, read_verdicts
from pipeline.evaluate import GoldFileError, load_labelled
from pipeline.stance import read_stances
from pipeline.stance.cues import CUE_NAMES, cue_counts, read_cues, scoped_words
from pipeline.stance.model import tfidf_rows
from pipeline.stance.training import (
    DEFAULT_STANCE_SET,
    class_figures,
    ensure_stance_model,
    fit_model,
    load_stance_model,
    save_stance_model,
    stance_agreement,
    stance_passages,
    training_sha256,
)
from pipeline.types import (
    Commitment,
    Coverage,
    Evidence,
    EvidenceDecision,
    Signal,
    Stance,
    Status,
    document_commitment,
    document_stance,
)
from tests.conftest import REPO

#: A consultation response that opposes two items (CARE-19 restraint, CARE-3 siblings) and supports three
#: (FAMILY-6 intensive family support, SCAFFOLDING-7 advocacy, CARE-14 foster care).
CONSULTATION_RESPONSE = """Response to the consultation on keeping the promise

Question 3: restraint

We cannot support the aim of ending restraint in residential care. Staff must keep the ability to hold a child who \
is about to seriously hurt themselves, and taking that away would leave young people and workers less safe.

Question 4: brothers and sisters

We disagree with the presumption that brothers and sisters should be placed together. For some children a separate \
home is the safer plan, and the presumption delays permanence for the youngest.

Question 5: family support

We strongly support the call for intensive family support that is available early, for as long as families need \
it, whatever the issues they face.

Question 6: advocacy

We welcome the commitment to independent advocacy for every care experienced child and young person, at every \
stage of their care.

Question 7: foster care

We agree that foster carers must feel valued and supported, and we endorse the proposal to review the allowances \
they receive.
"""
RESPONSE_STANCES = {"CARE-19": "opposes", "CARE-3": "opposes", "FAMILY-6": "supports", "SCAFFOLDING-7": "supports",
                    "CARE-14": "supports"}

#: A second response that supports what the first opposes.
SUPPORTING_RESPONSE = """Response from a kinship carers' group

We strongly agree that brothers and sisters must be kept together wherever it is safe. Separating siblings adds a \
second loss to the first.

Foster carers must be valued and supported; we back a review of the allowances they receive.
"""

#: The guide's hard cases (docs/stance-labelling.md sections 2.1, 3 and 4), as the guide labels them.
GUIDE_CASES = [
    pytest.param("We cannot support the proposal that brothers and sisters must always be placed together; for "
                 "some children a separate placement is the safer plan.", "opposes", None, id="negated support"),
    pytest.param("We support the aim of ending restraint, but only if staff receive the training and staffing "
                 "they need to keep children safe without it.", "mixed", None, id="conditional support"),
    pytest.param("Some respondents opposed the presumption that brothers and sisters are placed together, arguing "
                 "that it can delay permanence.", "opposes", "describes", id="reported opposition"),
    pytest.param("The Committee heard concerns that a ban on restraint would leave residential workers without the "
                 "tools to keep young people safe.", "opposes", "describes", id="reported concern about the aim"),
    pytest.param("The Council will recruit 12 kinship support workers by March 2027.", "supports", "commits",
                 id="a commitment with an owner, a number and a date"),
    pytest.param("We aspire to keep brothers and sisters together.", "supports", "intends", id="an aspiration"),
]


@pytest.fixture(scope="module")
def stance_model(tmp_path_factory):
    return ensure_stance_model(tmp_path_factory.mktemp("stance") / "stance.npz", say=lambda message: None)


# ---- the models on the guide's cases -------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "stance", "commitment"), GUIDE_CASES)
def test_the_guides_hard_cases_are_read_as_the_guide_labels_them(stance_model, text, stance, commitment):
    assert text not in {passage.text for passage in stance_passages()}
    reading = stance_model.predict([text])[0]
    assert reading.stance.value == stance
    if commitment is not None:
        assert reading.commitment.value == commitment


def test_negation_scope_marks_the_words_it_covers():
    assert scoped_words("We do not support this, but we welcome that") == \
        "we do not not_support not_this we welcome that"
    assert scoped_words("We can't agree.") == "we can't not_agree"


def test_the_fast_tfidf_rows_are_the_vectorizers(stance_model):
    scoped = [read_cues(p.text).scoped_words for p in stance_passages()[:200]] + ["", "words no model has seen"]
    fast = tfidf_rows([text.split() for text in scoped], stance_model.vectorizer_)
    slow = stance_model.vectorizer_.transform(scoped)
    for part in ("indptr", "indices", "data"):  # bit for bit, as the classifier's rows are
        assert np.array_equal(getattr(fast, part), getattr(slow, part)), part


def test_the_runs_labels_are_the_predicted_readings(stance_model):
    texts = [p.text for p in stance_passages()[:300]] + ["", "words no model has seen"]
    readings = stance_model.predict(texts)
    assert stance_model.labels(texts) == [(reading.stance, reading.commitment) for reading in readings]
    assert stance_model.labels([]) == [] and stance_model.predict([]) == []


def test_cues_count_a_negated_support_and_a_condition():
    names = list(CUE_NAMES)
    negated = cue_counts("We cannot support the presumption.")
    plain = cue_counts("We support the presumption only if it is funded.")
    assert negated[names.index("negated_support")] > 0 and plain[names.index("negated_support")] == 0
    assert plain[names.index("support+condition")] > 0 and negated[names.index("support+condition")] == 0


def test_a_passage_is_read_once_however_many_items_it_is_evidence_for(reference_set):
    calls = []

    class Counting:
        """A stand-in model that reads every passage as opposed, and remembers what it was asked."""

        def labels(self, texts):
            calls.append(list(texts))
            return [(Stance.OPPOSES, Commitment.DESCRIBES) for _ in texts]

    shared = evidence("p1", "We disagree with the presumption that brothers and sisters are placed together.")
    coverages = [coverage(reference_set.items[0], Status.COVERED, (shared,)),
                 coverage(reference_set.items[1], Status.PARTIAL, (shared,)),
                 coverage(reference_set.items[2], Status.MISSING, (), near_miss=evidence("p2", "Roads."))]
    read = read_stances(coverages, Counting())
    assert calls == [[shared.text]]
    assert [c.stance for c in read] == [Stance.OPPOSES, Stance.OPPOSES, None]
    assert read[2].near_miss.stance is None
    assert read_stances(coverages, None) == coverages


# ---- document-level rules --------------------------------------------------------------------------------------


def test_a_document_that_supports_and_opposes_an_item_is_mixed():
    assert document_stance([Stance.SUPPORTS, Stance.OPPOSES]) is Stance.MIXED
    assert document_stance([Stance.SUPPORTS, Stance.MIXED]) is Stance.MIXED
    assert document_stance([Stance.NEUTRAL, Stance.OPPOSES]) is Stance.OPPOSES
    assert document_stance([Stance.SUPPORTS, Stance.NEUTRAL]) is Stance.SUPPORTS
    assert document_stance([Stance.NEUTRAL]) is Stance.NEUTRAL
    assert document_stance([]) is None


def test_a_documents_commitment_is_its_strongest_passages():
    assert document_commitment([Commitment.DESCRIBES, Commitment.INTENDS]) is Commitment.INTENDS
    assert document_commitment([Commitment.INTENDS, Commitment.CALLS_FOR]) is Commitment.CALLS_FOR
    assert document_commitment([Commitment.CALLS_FOR, Commitment.COMMITS]) is Commitment.COMMITS
    assert document_commitment([]) is None


def test_a_rejected_passage_and_a_missing_verdict_carry_no_stance(reference_set):
    supports = evidence("a", "We support it.", stance=Stance.SUPPORTS, commitment=Commitment.INTENDS)
    opposes = evidence("b", "We oppose it.", stance=Stance.OPPOSES, commitment=Commitment.DESCRIBES)
    item = reference_set.items[0]
    assert coverage(item, Status.COVERED, (supports, opposes)).stance is Stance.MIXED
    rejected = evidence("b", "We oppose it.", stance=Stance.OPPOSES, commitment=Commitment.COMMITS,
                        review=EvidenceDecision.REJECTED)
    kept = coverage(item, Status.COVERED, (supports, rejected))
    assert kept.stance is Stance.SUPPORTS and kept.commitment is Commitment.INTENDS
    assert coverage(item, Status.MISSING, (supports,)).stance is None


# ---- the model file, the labelled set, the figures ----------------------------------------------------------


def test_a_saved_model_reads_back_the_same_and_a_stale_one_is_refused(stance_model, tmp_path):
    texts = [case.values[0] for case in GUIDE_CASES]
    path = tmp_path / "stance.npz"
    save_stance_model(stance_model, path, training="abc")
    loaded = load_stance_model(path, training="abc")
    assert [r.stance for r in loaded.predict(texts)] == [r.stance for r in stance_model.predict(texts)]
    assert np.allclose(loaded.probabilities(texts)[1], stance_model.probabilities(texts)[1], atol=1e-5)
    assert load_stance_model(path, training="other") is None
    assert load_stance_model(tmp_path / "absent.npz") is None


def test_a_model_file_for_other_classes_or_not_a_model_is_refused(stance_model, tmp_path):
    arrays, meta = stance_model.to_state()
    other = tmp_path / "other.npz"
    write_model_file(other, arrays, {**meta, "stances": ["for", "against"], "version": "x"})
    assert load_stance_model(other) is None
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a zip at all")
    with pytest.raises(ModelFileError):
        load_stance_model(garbage)


def test_the_model_is_retrained_when_its_training_changes(tmp_path):
    path = tmp_path / "stance.npz"
    messages = []
    ensure_stance_model(path, say=messages.append)
    assert len(messages) == 1 and path.exists()
    ensure_stance_model(path, say=messages.append)
    assert len(messages) == 1
    save_stance_model(fit_model(stance_passages()[:200]), path, training="stale")
    ensure_stance_model(path, say=messages.append)
    assert len(messages) == 2 and load_stance_model(path, training=training_sha256()) is not None


def test_every_labelled_passage_has_a_stance_and_commitment_for_each_item():
    passages = stance_passages()
    assert len(passages) >= 1000
    for passage in passages:
        assert set(passage.stance) == set(passage.labels) == set(passage.commitment), passage.id
    opposing = sum("opposes" in p.stance.values() for p in passages)
    assert opposing >= 100


def test_a_gold_file_with_a_stance_outside_the_guide_is_refused(tmp_path):
    gold = tmp_path / "gold.jsonl"
    gold.write_text(json.dumps({"text": "We oppose it.", "labels": ["CARE-3"], "stance": {"CARE-3": "against"}})
                    + "\n", encoding="utf-8")
    with pytest.raises(GoldFileError, match="against"):
        load_labelled(gold, {"CARE-3"})
    gold.write_text(json.dumps({"text": "We oppose it.", "labels": ["CARE-3"], "stance": {"CARE-4": "opposes"}})
                    + "\n", encoding="utf-8")
    with pytest.raises(GoldFileError, match="CARE-4"):
        load_labelled(gold, {"CARE-3", "CARE-4"})


def test_class_figures_count_each_class():
    figures = class_figures(["supports", "opposes", "opposes", "mixed"], ["supports", "opposes", "supports", "mixed"],
                            ("supports", "opposes", "mixed", "neutral"))
    assert figures["accuracy"] == 0.75
    opposes = figures["per_class"]["opposes"]
    assert (opposes["precision"], opposes["recall"], opposes["support"]) == (1.0, 0.5, 2)
    assert opposes["f1"] == pytest.approx(2 / 3)
    assert figures["per_class"]["supports"]["precision"] == 0.5
    assert figures["confusion"]["opposes"]["supports"] == 1
    assert figures["macro_f1"] == pytest.approx((2 / 3 + 2 / 3 + 1.0) / 3)


def test_the_second_coders_agreement_is_measured_on_the_shared_passages():
    agreement = stance_agreement()
    assert agreement["stance"]["pairs"] >= 150
    assert 0.6 < agreement["stance"]["kappa"] <= 1.0 and 0.6 < agreement["commitment"]["kappa"] <= 1.0


def test_the_written_passages_second_coding_matches_the_set_it_checked():
    """Every passage the blind second coder of the written batches read is in the set, with the same items."""
    second = DEFAULT_STANCE_SET.with_name("stance-written-second-coder.jsonl")
    labelled = {passage.id: passage for passage in stance_passages()}
    coded = [json.loads(line) for line in second.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(coded) >= 800
    for record in coded:
        assert set(record["stance"]) == set(record["commitment"]) == set(labelled[record["id"]].labels), record["id"]
    agreement = stance_agreement(second=second)
    assert agreement["stance"]["pairs"] == sum(len(record["stance"]) for record in coded)
    assert agreement["stance"]["agreement"] > 0.95 and agreement["commitment"]["agreement"] > 0.95


def test_eval_scores_a_gold_files_stance_labels(tmp_path):
    gold = tmp_path / "gold.jsonl"
    lines = [{"text": case.values[0], "labels": ["CARE-3"], "stance": {"CARE-3": case.values[1]},
              **({"commitment": {"CARE-3": case.values[2]}} if case.values[2] else {})} for case in GUIDE_CASES]
    gold.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    result = CliRunner().invoke(app, ["eval", "--gold", str(gold), "--stance-model", str(tmp_path / "s.npz"),
                                      "--json", str(tmp_path / "report.json")])
    assert result.exit_code == 0, result.output
    assert "stance_accuracy=1.000" in result.output
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert report["stance_reading"]["stance"]["decisions"] == len(GUIDE_CASES)
    assert report["stance_reading"]["commitment"]["decisions"] == 4


def test_eval_stance_cross_validates_the_models(tmp_path):
    result = CliRunner().invoke(app, ["eval", "--stance", "--json", str(tmp_path / "stance.json")])
    assert result.exit_code == 0, result.output
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("stance_accuracy=") and "commitment_macro_f1=" in last
    figures = json.loads((tmp_path / "stance.json").read_text(encoding="utf-8"))
    assert figures["cross_validation"]["groups"] > 50
    assert figures["stance"]["decisions"] == sum(len(p.stance) for p in stance_passages())
    assert figures["stance"]["accuracy"] > 0.7


@pytest.mark.slow
def test_eval_of_the_held_back_documents_scores_the_stance_of_each_evidence_passage(tmp_path):
    """corpora/heldback/stance-gold.jsonl: every evidence passage a map offers is scored, left out or counted apart."""
    result = CliRunner().invoke(app, ["eval", "--documents", str(REPO / "corpora" / "heldback"),
                                      "--json", str(tmp_path / "heldback.json")])
    assert result.exit_code == 0, result.output
    assert "stance on evidence:" in result.output and "stance_accuracy=" in result.output
    reading = json.loads((tmp_path / "heldback.json").read_text(encoding="utf-8"))["stance_reading"]
    scored = reading["stance"]["decisions"]
    assert scored + reading["not_in_gold"] + reading["not_about_item"] == reading["evidence_passages"]
    assert scored == reading["commitment"]["decisions"] > 0


# ---- through the map: every output ----------------------------------------------------------------------------


def map_responses(tmp_path_factory):
    """The run folder of the two responses (response.txt opposes two items; second.txt opposes none)."""
    corpus = tmp_path_factory.mktemp("responses")
    (corpus / "response.txt").write_text(CONSULTATION_RESPONSE, encoding="utf-8")
    (corpus / "second.txt").write_text(SUPPORTING_RESPONSE, encoding="utf-8")
    out = tmp_path_factory.mktemp("response-run")
    result = CliRunner().invoke(app, ["map", str(corpus), "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def response_run(tmp_path_factory):
    return map_responses(tmp_path_factory)


@pytest.mark.slow
def test_a_response_that_opposes_two_items_and_supports_three_gets_those_stances(response_run):
    rows = [row for row in csv.DictReader((response_run / "gap_table.csv").open(encoding="utf-8"))
            if row["document"] == "response.txt"]
    found = {row["item_id"]: row for row in rows}
    for item_id, stance in RESPONSE_STANCES.items():
        assert found[item_id]["status"] == "covered", item_id
        assert found[item_id]["stance"] == stance, item_id
    opposed = {row["item_id"] for row in rows if row["status"] == "covered" and row["stance"] == "opposes"}
    assert opposed == {"CARE-19", "CARE-3"}
    assert all(row["stance"] == "" for row in rows if row["status"] == "missing")


@pytest.mark.slow
def test_stance_and_commitment_appear_in_every_output(response_run):
    with (response_run / "gap_table.csv").open(encoding="utf-8") as stream:
        header = next(csv.reader(stream))
    assert {"stance", "commitment", "evidence_stances"} <= set(header)
    markdown = (response_run / "gap_table.md").read_text(encoding="utf-8")
    assert "| stance | commitment |" in markdown and "| opposes |" in markdown
    verdicts = [json.loads(line) for line in (response_run / "coverage.jsonl").open(encoding="utf-8")]
    care3 = next(v for v in verdicts if v["document"] == "response.txt" and v["item_id"] == "CARE-3")
    assert care3["stance"] == "opposes" and care3["commitment"] in {c.value for c in Commitment}
    assert care3["evidence"][0]["stance"] == "opposes"
    workbook = openpyxl.load_workbook(response_run / "gap_table.xlsx", read_only=True)
    gap_header = next(workbook["gap_table"].iter_rows(values_only=True))
    assert "stance" in gap_header and "commitment" in gap_header
    evidence_header = next(workbook["evidence"].iter_rows(values_only=True))
    assert "stance" in evidence_header
    items = list(workbook["items"].iter_rows(values_only=True))
    opposed_in = items[0].index("opposed_in")
    assert {row[0]: row[opposed_in] for row in items[1:]}["CARE-3"] == 1
    index = (response_run / "report.html").read_text(encoding="utf-8")
    assert "st-opposes" in index and "data-heatmap-filter=\"opposes\"" in index
    pages = list((response_run / "report").glob("*.html"))
    assert any('data-stance="opposes"' in page.read_text(encoding="utf-8") for page in pages)


@pytest.mark.slow
def test_compare_lists_the_items_two_responses_take_different_sides_on(response_run):
    comparison = compare_documents(read_verdicts(response_run), "response", "second")
    differing = {item.item_id: (item.stance_a, item.stance_b) for item in comparison.stance_differs}
    assert differing["CARE-3"] == ("opposes", "supports")
    assert "CARE-14" not in differing
    care3 = next(item for item in comparison.stance_differs if item.item_id == "CARE-3")
    assert care3.difference == "opposes in A, supports in B" and "disagree" in care3.evidence_a
    result = CliRunner().invoke(app, ["compare", "response", "second", "--run", str(response_run)])
    assert result.exit_code == 0, result.output
    table = list(csv.DictReader(next(response_run.glob("compare_*.csv")).open(encoding="utf-8")))
    assert {"opposes in A, supports in B"} <= {row["difference"] for row in table}
    page = next(response_run.glob("compare_*.html")).read_text(encoding="utf-8")
    assert 'id="stance-differs"' in page and 'data-stance-a="opposes"' in page


# ---- helpers ---------------------------------------------------------------------------------------------------


def evidence(passage_id, text, **fields):
    return Evidence(passage_id=passage_id, page=1, heading="", text=text, score=0.9, signal=Signal.MODEL, matched="",
                    **fields)


def coverage(item, status, passages, near_miss=None):
    return Coverage(doc="d", item=item, status=status, score=0.9 if passages else 0.1, evidence=tuple(passages),
                    threshold=0.5, partial_threshold=0.3, near_miss=near_miss)
