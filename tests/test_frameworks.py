"""Frameworks as data: file checks with file and line, Plan 21-24, user frameworks end to end, zero-shot scoring."""

import csv
import json
import re
import shutil
from pathlib import Path

import pytest
import yaml
from openpyxl import load_workbook
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.reference import ReferenceError, load_framework, load_frameworks, reference_for_run
from pipeline.types import check_ref_id
from tests.conftest import REFERENCE_DIR, SAMPLE_CORPUS

EXAMPLES = REFERENCE_DIR / "examples"
SEED = Path(__file__).resolve().parents[2] / "shared" / "seeds" / "003_491c0dde5aa65afd.txt"
PLAN_SEED_DOCUMENT = "003_491c0dde5aa65afd.txt"


def write_framework(folder: Path, text: str, name: str = "local.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


GOOD = """framework: local_plan
name: A council's local commitments
version: "2026"
source: written for the test
id_pattern: LOCAL-[0-9]+
groups:
- {name: Homes, count: 2}
- name: Schools
items:
- id: LOCAL-1
  group: Homes
  title: Brothers and sisters
  text: Brothers and sisters will live together wherever it is safe.
  source: commitment 1
- id: LOCAL-2
  group: Homes
  title: Moving on
  text: Young people leaving care will have a home of their own and someone to call.
  source: commitment 2
- id: LOCAL-3
  group: Schools
  title: Attendance
  text: Schools will track the attendance of care experienced pupils and act early.
  source: commitment 3
"""


# ---- the file format ---------------------------------------------------------------------------------------

def test_a_well_formed_framework_loads_with_what_it_declares(tmp_path):
    framework = load_framework(write_framework(tmp_path, GOOD))
    assert framework.id == "local_plan" and framework.groups == ("Homes", "Schools")
    assert [item.id for item in framework.items] == ["LOCAL-1", "LOCAL-2", "LOCAL-3"]
    assert framework.short_name == framework.name and not framework.default and len(framework.sha256) == 64


@pytest.mark.parametrize("change, message", [
    (lambda t: t.replace("- id: LOCAL-2", "- id: LOCAL-1"),
     r"local\.yaml:15: duplicate id LOCAL-1 \(first at line 10\)"),
    (lambda t: t.replace("  text: Young people leaving care will have a home of their own and someone to call.\n",
                         ""),
     r"local\.yaml:15: item 2 \(LOCAL-2\): missing or empty \['text'\]"),
    (lambda t: t.replace("  text: Schools will track", "  text: ''\n  note: Schools will track"),
     r"local\.yaml:20: item 3 \(LOCAL-3\): unknown field\(s\) \['note'\]"),
    (lambda t: t.replace("{name: Homes, count: 2}", "{name: Homes, count: 3}"),
     r"local\.yaml:6: wrong item count in group 'Homes': the file declares 3, its items give 2"),
    (lambda t: t.replace("- id: LOCAL-3", "- id: PLAN-3"),
     r"local\.yaml:20: PLAN-3 does not match the framework's id pattern 'LOCAL-\[0-9\]\+'"),
    (lambda t: t.replace("- id: LOCAL-3", "- id: 'LOCAL 3'"), r"local\.yaml:20: 'LOCAL 3' is not a reference id"),
    (lambda t: t.replace("  group: Schools", "  group: Roads"), r"local\.yaml:21: LOCAL-3 is in group 'Roads'"),
    (lambda t: t.replace("framework: local_plan", "framework: Local Plan"), r"local\.yaml:1: framework id"),
    (lambda t: t.replace('version: "2026"\n', ""), r"local\.yaml:1: missing or empty \['version'\]"),
])
def test_a_broken_framework_file_is_refused_naming_file_and_line(tmp_path, change, message):
    path = write_framework(tmp_path, change(GOOD))
    with pytest.raises(ReferenceError, match=message):
        load_framework(path)


def test_ids_are_checked_for_form_not_against_a_fixed_list():
    for ok in ("VOICE-1", "IP-01", "PLAN-25", "UNCRC-12", "LC1", "Outcome_3.2"):
        assert check_ref_id(ok) == ok
    for bad in ("", "1-VOICE", "VOICE 1", "VOICE-", "A" * 41, "=cmd()"):
        with pytest.raises(ValueError):
            check_ref_id(bad)


def test_the_shipped_ids_are_held_by_their_files(tmp_path):
    """A shipped file that renumbers an item fails its own id pattern."""
    text = (REFERENCE_DIR / "calls_to_action.yaml").read_text(encoding="utf-8").replace("id: VOICE-6", "id: VOICE-7")
    with pytest.raises(ReferenceError, match="VOICE-7 does not match the framework's id pattern"):
        load_framework(write_framework(tmp_path, text, "calls_to_action.yaml"))


def test_one_framework_alone_is_a_reference_set(tmp_path):
    shutil.copy(REFERENCE_DIR / "inspection_principles.yaml", tmp_path)
    assert [fw.id for fw in load_frameworks(tmp_path)] == ["inspection_principles"]


# ---- choosing frameworks -----------------------------------------------------------------------------------

def test_defaults_user_folders_and_the_framework_option(tmp_path):
    write_framework(tmp_path / "mine", GOOD)
    assert [fw.id for fw in reference_for_run().frameworks] == ["calls_to_action", "inspection_principles"]
    assert [fw.id for fw in reference_for_run([tmp_path / "mine"]).frameworks] == [
        "calls_to_action", "inspection_principles", "local_plan"]
    chosen = reference_for_run([tmp_path / "mine"], ["local_plan", "plan_21_24"])
    assert [fw.id for fw in chosen.frameworks] == ["local_plan", "plan_21_24"]
    with pytest.raises(ReferenceError, match=r"unknown framework\(s\) \['nope'\]; known: .*plan_21_24"):
        reference_for_run(names=["nope"])


def test_a_user_framework_cannot_take_a_shipped_id(tmp_path):
    write_framework(tmp_path, GOOD.replace("framework: local_plan", "framework: plan_21_24"))
    with pytest.raises(ReferenceError, match="framework 'plan_21_24' is defined twice"):
        reference_for_run([tmp_path])
    write_framework(tmp_path, GOOD.replace("id_pattern: LOCAL-[0-9]+\n", "").replace("LOCAL-3", "IP-01"))
    with pytest.raises(ReferenceError, match="item id IP-01 is also in"):
        reference_for_run([tmp_path])


# ---- Plan 21-24 --------------------------------------------------------------------------------------------

PLAN_ACTIONS = ["Support", "Right to Education", "Relationships", "Brothers and Sisters", "Youth Justice", "Advocacy",
                "Moving On", "Physical Intervention", "Family Support", "Peer and Community Support",
                "Service Integration", "Family Therapies", "Workforce Values", "Trauma Informed",
                "Ongoing Relationships", "Workforce Support", "Planning", "Investment", "Information Sharing",
                "Legislation", "Children's Hearing System", "Inspection and Regulation", "Policy Coherence",
                "Data Mapping and Collection", "Governance Structures"]


@pytest.fixture(scope="module")
def plan():
    return load_framework(REFERENCE_DIR / "plan_21_24.yaml")


def test_plan_21_24_has_25_actions_in_five_areas_in_the_seed_order(plan):
    assert [item.id for item in plan.items] == [f"PLAN-{n:02d}" for n in range(1, 26)]
    assert [item.title for item in plan.items] == PLAN_ACTIONS
    assert plan.groups == ("A Good Childhood", "Whole Family Support", "Supporting the Workforce", "Planning",
                           "Building Capacity")
    assert [sum(item.group == group for item in plan.items) for group in plan.groups] == [8, 4, 4, 3, 6]
    assessments = {dict(item.attributes)["progress_assessment"] for item in plan.items}
    assert assessments <= {"Work is underway.", "Work is underway but does not yet appear sufficient.",
                           "This work is underway.", "There is little work underway."}
    assert plan.items[0].text.startswith("Every child that is 'in care' in Scotland will have access to intensive")
    assert dict(plan.items[24].attributes)["progress_assessment"] == "There is little work underway."
    assert "5. Underpinned by children's rights" in plan.items[8].text
    assert plan.version and "Change Programme ONE" in plan.source and not plan.default


def seed_sections(text: str) -> list[tuple[str, str]]:
    """(what is required, assessment) per action, read from the seed independently of the transcription script."""
    pattern = re.compile(r"### What is required (?:by )?Plan 21-24\?\n(.*?)\n###", re.S)
    assessment = re.compile(r"### Links, Next Steps and Assessment:?\s*\n\s*\n(.*?)\n")
    sections = []
    for match in pattern.finditer(text):
        required = match.group(1)
        found = assessment.search(text, match.end())
        sections.append((required, found.group(1)))
    return sections


def comparable(text: str) -> str:
    text = re.sub(r"\[([^\]]+)\]\(#\)", r"\1", text).replace("**", "").replace("’", "'").replace("#", "")
    return " ".join(text.split()).rstrip(".").replace("underway, but", "underway but")


@pytest.mark.skipif(not SEED.exists(), reason="../shared/seeds is not here")
def test_plan_21_24_texts_and_assessments_are_the_seeds(plan):
    sections = seed_sections(SEED.read_text(encoding="utf-8"))
    assert len(sections) == 25
    for item, (required, assessment) in zip(plan.items, sections, strict=True):
        first_paragraph = comparable(required.strip().split("\n\n")[0])
        assert comparable(item.text).startswith(first_paragraph), item.id
        assert comparable(dict(item.attributes)["progress_assessment"]) == comparable(assessment), item.id


# ---- zero-shot scoring -------------------------------------------------------------------------------------

def test_zero_shot_calibration_learns_what_a_similarity_means_and_survives_a_model_file():
    import numpy as np

    from pipeline.classify.zeroshot import ZeroShotCalibration

    generator = np.random.default_rng(0)
    targets = generator.random((400, 5)) < 0.1
    similarity = np.clip(np.where(targets, 0.45, 0.1) + generator.normal(0, 0.08, targets.shape), 0, 1)
    groups = [f"doc:{row // 20}" for row in range(400)]
    calibration = ZeroShotCalibration().fit(similarity, targets, groups, np.ones(400, dtype=bool))
    assert calibration.slope_ > 0
    probabilities = calibration.transform(np.array([0.05, 0.25, 0.6]))
    assert probabilities[0] < calibration.covered_at_ < probabilities[2] and np.all(np.diff(probabilities) > 0)
    assert calibration.partial_at < calibration.covered_at_ <= calibration.document_covered_at_
    assert ZeroShotCalibration.from_arrays(calibration.to_arrays()) == calibration


def test_zero_shot_calibration_weighs_meaning_beside_words_and_survives_a_model_file():
    import numpy as np

    from pipeline.classify.zeroshot import ZeroShotCalibration

    generator = np.random.default_rng(1)
    targets = generator.random((400, 5)) < 0.1
    words = np.clip(np.where(targets, 0.25, 0.1) + generator.normal(0, 0.1, targets.shape), 0, 1)
    meaning = np.clip(np.where(targets, 0.6, 0.2) + generator.normal(0, 0.08, targets.shape), -1, 1)
    groups = [f"doc:{row // 20}" for row in range(400)]
    calibration = ZeroShotCalibration().fit(words, targets, groups, np.ones(400, dtype=bool), meaning)
    assert calibration.uses_semantic and calibration.semantic_[1] > calibration.semantic_[0] > 0
    same_words = np.array([[0.2], [0.2]])
    close, far = calibration.transform(same_words, np.array([[0.7], [0.1]]))[:, 0]
    assert close > calibration.covered_at_ > far
    # a passage the embedding model did not read gets the probability of its words alone
    unread = calibration.transform(same_words, np.array([[0.7], [0.1]]), np.array([False, True]))
    assert unread[0, 0] == calibration.transform(same_words)[0, 0]
    assert ZeroShotCalibration.from_arrays(calibration.to_arrays()) == calibration
    assert "sentence-embedding" in calibration.describe()["scores"]


def test_semantic_similarity_finds_meaning_without_shared_words():
    from pipeline.classify.semantic import SentenceEncoder

    similarity = SentenceEncoder().similarity(
        ["Brothers and sisters should be able to grow up living together.",
         "Gully cleaning will move to a risk-based schedule on steep roads."],
        ["Siblings must not be separated when they are looked after away from home."])
    assert similarity[0, 0] > 0.4 > 0.1 > similarity[1, 0]


def test_a_run_of_learned_frameworks_never_loads_torch():
    """spaCy's thinc imports torch when it is installed; a worker that segments must not pay for it."""
    import subprocess
    import sys

    code = ("import sys; import pipeline.cli, pipeline.run.executors; from pipeline.segment import Segmenter; "
            "Segmenter(); import thinc.compat; print('torch' in sys.modules, thinc.compat.has_torch)")
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert shown == ["False", "False"]


def test_the_run_classifier_scores_known_items_by_their_models_and_the_rest_zero_shot(trained_classifier):
    import numpy as np

    from pipeline.classify.frameworks import FrameworkClassifier

    run = reference_for_run([EXAMPLES], ["uncrc_example", "inspection_principles"])
    classifier = FrameworkClassifier(trained_classifier, run.items)
    texts = ["Children have the right to say what they think in all matters affecting them and to have their views "
             "listened to and taken seriously in the plans that decide their care.",
             "The bridge on the A77 will be resurfaced in spring, with a diversion through the town centre."]
    scored = classifier.score(texts)
    columns = {item.id: column for column, item in enumerate(run.items)}
    learned = trained_classifier.score(texts).scores
    source = [item.id for item in trained_classifier.items_].index("IP-01")
    assert scored.scores.probabilities[0, columns["IP-01"]] == learned.probabilities[0, source]
    assert scored.signal(1, columns["UNCRC-12"], classifier.rule).value == "zero-shot"
    assert scored.signal(1, columns["IP-01"], classifier.rule).value == "model"
    decisions = classifier.rule.passage_decisions(scored.scores)
    assert decisions[0, columns["UNCRC-12"]] and not decisions[1].any()
    assert scored.explain(0, columns["UNCRC-12"])  # the words that drove it
    assert trained_classifier.zero_shot_.uses_semantic
    # only passages that can be evidence are read for meaning: the road passage gets its words' probability
    words_only = classifier.zero_shot_.calibration.transform(
        classifier.zero_shot_.lexical_.similarity(texts[1:])[0][:, :7])
    assert np.allclose(scored.scores.probabilities[1, [columns[i] for i in UNCRC_IDS]], words_only[0])
    assert classifier.framework_methods() == {"uncrc_example": "zero-shot: no labelled examples for this framework",
                                              "inspection_principles": "learned: item models trained on labelled "
                                                                       "passages"}


# ---- mapping with user frameworks and zero-shot scoring ------------------------------------------------------

def map_cli(*arguments):
    return CliRunner().invoke(app, ["map", *map(str, arguments), "--quiet"])


@pytest.fixture(scope="module")
def example_run(tmp_path_factory):
    corpus = tmp_path_factory.mktemp("corpus")
    for name in ("001_6364ec61e7c35946.txt", "004_371aa332c2b99622.txt"):
        shutil.copy(SAMPLE_CORPUS / name, corpus)
    (corpus / "fostering.txt").write_text(
        "Every child placed away from home will have their placement reviewed regularly, with their own views "
        "listened to and taken seriously at every review. Children who live apart from a parent will keep in "
        "regular contact with them unless it is unsafe.\n", encoding="utf-8")
    out = tmp_path_factory.mktemp("out") / "run"
    result = map_cli(corpus, "--out", out, "--reference", EXAMPLES)
    assert result.exit_code == 0, result.output
    return out


UNCRC_IDS = ["UNCRC-3", "UNCRC-12", "UNCRC-9", "UNCRC-20", "UNCRC-25", "UNCRC-19", "UNCRC-28"]


@pytest.mark.slow
def test_a_user_framework_appears_in_every_output(example_run):
    out = example_run
    rows = list(csv.DictReader((out / "gap_table.csv").open(encoding="utf-8")))
    assert len(rows) == 3 * (68 + 7)
    assert [row["item_id"] for row in rows if row["document"] == "fostering.txt"][-7:] == UNCRC_IDS
    assert {row["group"] for row in rows if row["framework"] == "uncrc_example"} == {
        "Best interests and voice", "Family and alternative care", "Protection and education"}
    verdicts = [json.loads(line) for line in (out / "coverage.jsonl").read_text(encoding="utf-8").splitlines()]
    assert sum(v["item_id"].startswith("UNCRC-") for v in verdicts) == 21
    workbook = load_workbook(out / "gap_table.xlsx", read_only=True)
    for sheet in ("gap_table", "items"):
        cells = {str(cell) for row in workbook[sheet].iter_rows(values_only=True) for cell in row}
        assert set(UNCRC_IDS) <= cells, sheet
    assert all(item_id in (out / "gap_table.md").read_text(encoding="utf-8") for item_id in UNCRC_IDS)
    index = (out / "report.html").read_text(encoding="utf-8")
    assert all(f">{item_id}<" in index for item_id in UNCRC_IDS) and "UNCRC (example)" in index
    for page in (out / "report").glob("*.html"):
        assert all(f">{item_id}<" in page.read_text(encoding="utf-8") for item_id in UNCRC_IDS)
    assert (out / "coverage_heatmap.png").stat().st_size and (out / "coverage_by_item.png").stat().st_size


@pytest.mark.slow
def test_a_framework_without_examples_is_scored_zero_shot_and_the_report_says_so(example_run):
    record = json.loads((example_run / "run.json").read_text(encoding="utf-8"))
    methods = {fw["id"]: fw["method"] for fw in record["reference"]["frameworks"]}
    assert methods["uncrc_example"] == "zero-shot: no labelled examples for this framework"
    assert methods["calls_to_action"].startswith("learned")
    assert record["classifier"]["frameworks"] == methods
    zero = record["classifier"]["rule"]["zero_shot"]
    assert 0 < zero["covered_at"] <= zero["document_covered_at"] < 1
    assert "all-MiniLM-L6-v2" in zero["semantic_model"] and len(zero["logistic"]) == 3
    assert "zero-shot" in record["classifier"]["signals"]
    assert record["classifier"]["rule"]["covered_at"]["UNCRC-12"] == zero["covered_at"]
    assert "zero-shot: no labelled examples for this framework" in (example_run / "report.html").read_text("utf-8")
    rows = list(csv.DictReader((example_run / "gap_table.csv").open(encoding="utf-8")))
    fostering = {row["item_id"]: row for row in rows if row["document"] == "fostering.txt"}
    assert fostering["UNCRC-25"]["status"] in ("covered", "partial")
    assert fostering["UNCRC-25"]["signal"] == "zero-shot"
    assert fostering["UNCRC-28"]["status"] == "missing"


@pytest.mark.slow
def test_plan_21_24_alone_maps_its_own_source_by_quotation(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(SAMPLE_CORPUS / PLAN_SEED_DOCUMENT, corpus)
    out = tmp_path / "out"
    result = map_cli(corpus, "--out", out, "--framework", "plan_21_24")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader((out / "gap_table.csv").open(encoding="utf-8")))
    assert [row["item_id"] for row in rows] == [f"PLAN-{n:02d}" for n in range(1, 26)]
    quoted = [row for row in rows if row["status"] == "covered" and row["signal"] == "quote"]
    assert len(quoted) >= 20, [(row["item_id"], row["status"], row["signal"]) for row in rows]
    page = next((out / "report").glob("*.html")).read_text(encoding="utf-8")
    assert "progress assessment:" in page and "Work is underway but does not yet appear sufficient." in page
    workbook = load_workbook(out / "gap_table.xlsx", read_only=True)
    header, *values = list(workbook["items"].iter_rows(values_only=True))
    assert "progress assessment: There is little work underway." in values[24][header.index("item_attributes")]


def test_unknown_framework_and_broken_user_file_exit_2_before_anything_runs(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("Brothers and sisters stay together.", encoding="utf-8")
    result = map_cli(corpus, "--out", tmp_path / "out", "--framework", "calls_to_action,nope")
    assert result.exit_code == 2 and "unknown framework(s) ['nope']" in result.stderr
    broken = tmp_path / "mine"
    write_framework(broken, yaml.safe_dump({"framework": "mine", "name": "x", "version": "1", "source": "y",
                                            "items": [{"id": "M-1", "group": "g", "title": "t", "text": "",
                                                       "source": "s"}]}))
    result = map_cli(corpus, "--out", tmp_path / "out", "--reference", broken)
    assert result.exit_code == 2 and "local.yaml:6: item 1 (M-1): empty text" in " ".join(result.stderr.split())
    assert not (tmp_path / "out").exists()
