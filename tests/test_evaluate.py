"""Evaluation figures checked against hand computation, and the gold-file errors a user can meet."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.evaluate import GoldFileError, LabelledPassage, evaluate, load_labelled


def write_gold(path, records):
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    return path


def hand_gold(reference_set):
    """Verbatim quotations (certain predictions) and unrelated text, with labels chosen to give known errors."""
    text = {item_id: reference_set.item(item_id).text for item_id in ("CARE-6", "IP-07", "FAMILY-8")}
    return [
        {"id": "1", "doc": "a", "text": text["CARE-6"], "labels": ["CARE-6"]},                # TP CARE-6
        {"id": "2", "doc": "a", "text": text["IP-07"], "labels": ["IP-07", "IP-06"]},         # TP IP-07, FN IP-06
        {"id": "3", "doc": "b", "text": "Gritting routes are unchanged this winter.", "labels": ["FAMILY-2"]},  # FN
        {"id": "4", "doc": "b", "text": text["FAMILY-8"], "labels": []},                      # FP FAMILY-8
    ]


def test_eval_command_figures_match_hand_computation(tmp_path, reference_set):
    gold = write_gold(tmp_path / "gold.jsonl", hand_gold(reference_set))
    result = CliRunner().invoke(app, ["eval", "--gold", str(gold), "--classifier", "lexical",
                                      "--json", str(tmp_path / "out.json")])
    assert result.exit_code == 0, result.output
    # micro: tp=2 fp=1 fn=2 -> P=2/3, R=1/2, F1=4/7; macro over {CARE-6, IP-07, IP-06, FAMILY-2, FAMILY-8} = 2/5
    assert result.output.strip().splitlines()[-1] == "micro_f1=0.571 macro_f1=0.400"
    report = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    assert report["passage"]["micro_precision"] == pytest.approx(2 / 3)
    assert report["passage"]["micro_recall"] == pytest.approx(1 / 2)
    assert report["passage"]["micro_f1"] == pytest.approx(4 / 7)
    assert report["passage"]["macro_f1"] == pytest.approx(2 / 5)
    # document a: gold {CARE-6, IP-07, IP-06} vs {CARE-6, IP-07}; b: gold {FAMILY-2} vs {FAMILY-8}
    assert report["document"]["f1"] == pytest.approx(4 / 7)
    assert report["passage"]["per_item"]["IP-06"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "tp": 0, "fp": 0,
                                                      "fn": 1, "support": 1}
    assert report["passage"]["per_framework"]["inspection_principles"]["micro_f1"] == pytest.approx(2 / 3)


def test_evaluate_by_hand_with_calibration():
    items_file = [LabelledPassage(id="x", text="t", labels=frozenset({"VOICE-1"}), doc=None),
                  LabelledPassage(id="y", text="u", labels=frozenset(), doc=None)]

    class Item:
        def __init__(self, item_id, framework, group):
            self.id, self.framework, self.group = item_id, framework, group

    items = [Item("VOICE-1", "calls_to_action", "Voice"), Item("VOICE-2", "calls_to_action", "Voice")]
    predicted = np.array([[True, False], [True, False]])
    confidence = np.array([[0.9, 0.1], [0.6, 0.0]])
    report = evaluate(items_file, items, predicted, confidence)
    assert report["passage"]["micro_precision"] == pytest.approx(0.5)
    assert report["passage"]["micro_recall"] == pytest.approx(1.0)
    assert "document" not in report
    # Brier: ((0.9-1)^2 + 0.1^2 + 0.6^2 + 0) / 4
    assert report["calibration"]["brier"] == pytest.approx((0.01 + 0.01 + 0.36) / 4)
    table = {row["bin"]: row for row in report["calibration"]["reliability"]}
    assert table["0.9-1.0"]["count"] == 1 and table["0.9-1.0"]["observed_rate"] == 1.0
    assert table["0.6-0.7"]["observed_rate"] == 0.0 and table["0.0-0.1"]["count"] == 1


@pytest.mark.parametrize(("content", "message"), [
    ("", "empty"),
    ('{"text": "ok", "labels": ["CARE-3"]}\n{"text": "bad", "labels": ["CARE-99"]}\n',
     r"gold.jsonl:2: unknown.*CARE-99"),
    ('{"text": "ok", "labels": []}\n{not json\n', r"gold.jsonl:2: not valid JSON"),
    ('{"text": "", "labels": []}\n', r"gold.jsonl:1: 'text' must be a non-empty string"),
    ('{"text": "x", "labels": "CARE-3"}\n', r"gold.jsonl:1: 'labels' must be a list"),
    ('{"text": "x", "labels": ["CARE-3\\n"]}\n', r"gold.jsonl:1: unknown"),
    ('{"text": "x", "labels": [], "synthetic": "false"}\n', r"gold.jsonl:1: 'synthetic' must be true or false"),
])
def test_gold_file_errors_name_the_line(tmp_path, reference_set, content, message):
    gold = tmp_path / "gold.jsonl"
    gold.write_text(content, encoding="utf-8")
    with pytest.raises(GoldFileError, match=message):
        load_labelled(gold, {item.id for item in reference_set.items})
    result = CliRunner().invoke(app, ["eval", "--gold", str(gold), "--classifier", "lexical"])
    assert result.exit_code == 2
    assert "error" in result.output


def test_a_gold_file_with_doc_on_some_lines_says_why_document_level_is_missing(tmp_path):
    gold = write_gold(tmp_path / "g.jsonl", [{"text": "Gritting routes.", "labels": [], "doc": "a"},
                                             {"text": "Street lighting.", "labels": ["IP-01"]}])
    result = CliRunner().invoke(app, ["eval", "--gold", str(gold), "--classifier", "lexical",
                                      "--json", str(tmp_path / "out.json")])
    assert result.exit_code == 0, result.output
    assert "1 of 2 passages have no 'doc' field" in result.output
    report = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    assert "document" not in report and report["document_not_scored"].startswith("1 of 2")


def test_extra_fields_are_ignored(tmp_path):
    gold = write_gold(tmp_path / "g.jsonl", [{"text": "x", "labels": ["IP-01"], "strength": {"IP-01": "explicit"},
                                             "whatever": 1}])
    [passage] = load_labelled(gold)
    assert passage.labels == {"IP-01"} and passage.doc is None


def test_a_gold_file_saved_with_a_byte_order_mark_reads(tmp_path):
    gold = tmp_path / "g.jsonl"
    gold.write_bytes(b"\xef\xbb\xbf" + b'{"text": "x", "labels": ["IP-01"]}\r\n{"text": "y", "labels": []}\r\n')
    assert [p.labels for p in load_labelled(gold)] == [{"IP-01"}, set()]


def test_a_text_holding_a_unicode_line_separator_reads(tmp_path):
    gold = write_gold(tmp_path / "g.jsonl", [{"text": "Siblings.\u2028Together\u0085always.", "labels": ["CARE-3"]}])
    gold.write_text(gold.read_text(encoding="utf-8").replace("\\u2028", "\u2028").replace("\\u0085", "\u0085"),
                    encoding="utf-8")
    assert "\u2028" in gold.read_text(encoding="utf-8")
    [passage] = load_labelled(gold)
    assert passage.text == "Siblings.\u2028Together\u0085always."


@pytest.mark.parametrize("flags, message", [
    (["--cross-validate", "--transfer"],
     "choose one of --gold FILE, --cross-validate, --transfer, --documents DIR, --reviews FILE and --stance"),
    (["--gold", "GOLD", "--transfer"], "choose one of --gold FILE"),
    ([], "choose one of --gold FILE"),
    (["--cross-validate", "--classifier", "lexical"], "cannot be used with --classifier lexical"),
    (["--gold", "GOLD", "--off-topic"], "--off-topic goes with --documents DIR"),
])
def test_eval_schemes_are_chosen_one_at_a_time(tmp_path, flags, message):
    gold = write_gold(tmp_path / "g.jsonl", [{"text": "x", "labels": ["IP-01"]}])
    result = CliRunner().invoke(app, ["eval", *[str(gold) if flag == "GOLD" else flag for flag in flags]])
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())


def test_train_reports_a_faulty_labelled_file_without_a_traceback(tmp_path, monkeypatch):
    import pipeline.cli

    (tmp_path / "dev.jsonl").write_text('{"text": "ok", "labels": []}\n{not json\n', encoding="utf-8")
    (tmp_path / "synthetic.jsonl").write_text('{"text": "ok", "labels": [], "synthetic": true}\n', encoding="utf-8")
    monkeypatch.setattr(pipeline.cli, "DEFAULT_LABELLED_DIR", tmp_path)
    result = CliRunner().invoke(app, ["train", "--out", str(tmp_path / "model.pkl")])
    assert result.exit_code == 2  # an uncaught error would exit 1 with a traceback
    assert "dev.jsonl:2: not valid JSON" in " ".join(result.output.split())


def read_evidence(text: str, stance, commitment):
    from pipeline.types import Evidence, Signal

    return Evidence(passage_id=f"d:{len(text)}", page=1, heading="", text=text, score=0.9, signal=Signal.TFIDF,
                    matched="", stance=stance, commitment=commitment)


def test_stance_on_evidence_scores_each_evidence_passage_the_gold_has_read(tmp_path, reference_set):
    from pipeline.evaluate import read_stance_gold, stance_on_evidence
    from pipeline.types import Commitment, Coverage, Stance, Status

    agreed = read_evidence("We  support keeping\nbrothers and sisters together.", Stance.SUPPORTS, Commitment.DESCRIBES)
    wrong = read_evidence("We do not support the presumption.", Stance.SUPPORTS, Commitment.DESCRIBES)
    aside = read_evidence("Siblings are named in passing.", Stance.NEUTRAL, Commitment.DESCRIBES)
    unread = read_evidence("A passage nobody labelled.", Stance.SUPPORTS, Commitment.INTENDS)
    care_3 = reference_set.item("CARE-3")
    verdicts = {"response.md": [
        Coverage(doc="d", item=care_3, status=Status.COVERED, score=0.9, evidence=(agreed, wrong)),
        Coverage(doc="d", item=reference_set.item("CARE-4"), status=Status.PARTIAL, score=0.3,
                 evidence=(aside, unread)),
        Coverage(doc="d", item=reference_set.item("CARE-5"), status=Status.MISSING, score=0.0)]}
    gold = write_gold(tmp_path / "stance-gold.jsonl", [
        # the gold's text may be spaced differently from the evidence's: spaces are collapsed on both sides
        {"doc": "response.md", "item_id": "CARE-3", "text": "We support keeping brothers and sisters together.",
         "stance": "supports", "commitment": "describes"},
        {"doc": "response.md", "item_id": "CARE-3", "text": wrong.text, "stance": "opposes", "commitment": "describes"},
        {"doc": "response.md", "item_id": "CARE-4", "text": aside.text, "about_item": False}])
    reading = stance_on_evidence(verdicts, read_stance_gold(gold, {item.id for item in reference_set.items}))
    assert (reading["evidence_passages"], reading["not_in_gold"], reading["not_about_item"]) == (4, 1, 1)
    assert reading["stance"]["decisions"] == 2 and reading["stance"]["accuracy"] == pytest.approx(0.5)
    assert reading["stance"]["per_class"]["opposes"]["recall"] == 0.0
    assert reading["stance"]["confusion"]["opposes"]["supports"] == 1
    assert reading["commitment"]["accuracy"] == 1.0


@pytest.mark.parametrize(("line", "message"), [
    ({"doc": "a.md", "item_id": "CARE-99", "text": "t", "stance": "supports", "commitment": "describes"},
     "unknown reference id"),
    ({"doc": "a.md", "item_id": "CARE-3", "text": "t", "stance": "agrees", "commitment": "describes"}, "'stance' must"),
    ({"doc": "a.md", "text": "t"}, "expected an object"),
])
def test_stance_gold_errors_name_the_line(tmp_path, reference_set, line, message):
    from pipeline.evaluate import read_stance_gold

    gold = write_gold(tmp_path / "stance-gold.jsonl", [line])
    with pytest.raises(GoldFileError, match=f"stance-gold.jsonl:1: .*{message}"):
        read_stance_gold(gold, {item.id for item in reference_set.items})
