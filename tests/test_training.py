"""The learned classifier: folds grouped by document, deterministic training, and the labelled data itself."""

import re

import numpy as np
import pytest

import pipeline.training as training
from pipeline.evaluate import GoldFileError, LabelledPassage, coder_agreement, load_labelled
from pipeline.training import (
    DEFAULT_GLOSSARY,
    DEFAULT_LABELLED_DIR,
    DEFAULT_LEXICON,
    glossary_examples,
    group_of,
    load_training_data,
)

SHARED_GLOSSARY = DEFAULT_LABELLED_DIR.parents[2] / "shared" / "GLOSSARY.md"


@pytest.fixture(scope="module")
def data(reference_set):
    return load_training_data(DEFAULT_LABELLED_DIR, reference_set, DEFAULT_LEXICON)


def test_labelled_data_meets_the_brief(data, reference_set):
    assert len(data.dev) >= 400 and len(data.synthetic) >= 544 and len(data.real_register) == 1630
    assert len(data.off_topic) == 1400 and not any(p.labels for p in data.off_topic)
    assert len(data.off_topic_documents) == 44 and len(data.off_topic_texts) > 1000  # written off-topic documents
    assert all(p.doc for p in data.real_register)  # each names the page it re-tells, which groups the folds
    assert all(not p.synthetic for p in data.dev) and all(p.synthetic for p in data.synthetic)
    for item in reference_set.items:
        assert sum(item.id in p.labels for p in data.synthetic) >= 8, item.id
    assert not {p.text for p in data.dev} & {p.text for p in data.synthetic}
    assert {p.doc for p in data.dev} == {"000_c62ad4983681b1c2.txt", "001_6364ec61e7c35946.txt",
                                        "003_491c0dde5aa65afd.txt", "004_371aa332c2b99622.txt"}


def test_groups_keep_documents_together():
    real = LabelledPassage(id="r", text="t", labels=frozenset(), doc="plan.pdf")
    synthetic = LabelledPassage(id="s1", text="t", labels=frozenset(), doc="synthetic", synthetic=True)
    assert group_of(real) == "doc:plan.pdf"
    assert group_of(synthetic) == "synthetic:s1"


@pytest.fixture
def recorded_training(monkeypatch, reference_set):
    """Replace training with a recorder: what each model was trained on, and what it was asked to score."""
    from pipeline.classify import Scored
    from pipeline.classify.zeroshot import ZeroShotCalibration
    from pipeline.decide import DecisionRule, PassageScores

    seen = []
    n_items = len(reference_set.items)

    class Silent:
        rule = DecisionRule(covered_at=np.full(n_items, 0.5), partial_at=np.full(n_items, 0.3))
        items_ = reference_set.items
        zero_shot_ = ZeroShotCalibration()
        lexicon = None

        def score(self, texts):
            seen[-1].setdefault("tested", set()).update(texts)
            zeros = np.zeros((len(texts), n_items))
            return Scored(PassageScores(zeros, zeros, np.ones(len(texts)), np.full(len(texts), 20)),
                          explain=lambda row, column: "")

    def fake_train(reference, passages, lexicon_path, **options):
        seen.append({"trained": {p.text for p in passages},
                     "trained_groups": {training.group_of(p) for p in passages if not p.synthetic}})
        return Silent()

    monkeypatch.setattr(training, "train", fake_train)
    return seen


def test_cross_validation_never_puts_a_source_on_both_sides(recorded_training, data, reference_set):
    seen = recorded_training
    report = training.cross_validate(reference_set, data, DEFAULT_LEXICON)
    assert len(seen) == training.DEFAULT_FOLDS == len(report["cross_validation"]["folds"])
    groups_of = {}
    for passage in data.real:
        groups_of.setdefault(passage.text, set()).add(training.group_of(passage))
    off_topic = set(data.off_topic_texts)
    for record in seen:
        assert record["tested"] - set(groups_of) <= off_topic  # real passages, and the held-out off-topic documents
        tested_groups = set().union(*(groups_of[text] for text in record["tested"] if text in groups_of))
        assert not tested_groups & record["trained_groups"]  # no seed document or page on both sides
        assert {p.text for p in data.written} <= record["trained"]
    tested = set().union(*(record["tested"] for record in seen))
    assert tested - off_topic == {p.text for p in data.real}
    assert report["off_topic_documents"]["documents"] == 44
    assert report["document"]["documents"] == len({p.doc for p in data.real})
    zero = report["zero_shot"]  # the same folds, every item scored zero-shot
    assert zero["document"]["documents"] == report["document"]["documents"]
    assert zero["off_topic_documents"]["documents"] == 44


def test_transfer_trains_on_written_examples_only(recorded_training, data, reference_set):
    report = training.transfer_validate(reference_set, data, DEFAULT_LEXICON)
    (record,) = recorded_training
    assert record["trained"] == {p.text for p in data.written} and not record["trained_groups"]
    assert record["tested"] == {p.text for p in data.real}
    assert report["passages"] == len(data.real)


@pytest.mark.slow
def test_training_twice_gives_identical_predictions(data, reference_set):
    subset = data.synthetic[:800] + data.dev[:150] + data.off_topic[:200]
    texts = [p.text for p in data.dev[150:260]]
    first = training.train(reference_set, subset, DEFAULT_LEXICON, off_topic_documents=data.off_topic_texts[:300])
    second = training.train(reference_set, subset, DEFAULT_LEXICON, off_topic_documents=data.off_topic_texts[:300])
    for one, other in zip(first.decide(texts), second.decide(texts), strict=True):
        assert np.array_equal(one, other)
    assert np.array_equal(first.score(texts).scores.relevance, second.score(texts).scores.relevance)


def test_second_coder_agreement_is_the_documented_figure(data, reference_set):
    second = load_labelled(DEFAULT_LABELLED_DIR / "dev-second-coder.jsonl", {item.id for item in reference_set.items})
    agreement = coder_agreement(data.dev, second)
    assert agreement["passages"] == 300
    guide = (DEFAULT_LABELLED_DIR.parents[1] / "docs" / "labelling.md").read_text(encoding="utf-8")
    assert f"micro-F1 **{agreement['f1']:.3f}**" in guide


def test_coder_agreement_by_hand():
    first = [LabelledPassage(id="a", text="t", labels=frozenset({"CARE-3", "IP-01"})),
             LabelledPassage(id="b", text="t", labels=frozenset())]
    second = [LabelledPassage(id="a", text="t", labels=frozenset({"CARE-3"})),
              LabelledPassage(id="b", text="t", labels=frozenset({"VOICE-1"}))]
    agreement = coder_agreement(first, second)
    assert (agreement["tp"], agreement["fp"], agreement["fn"]) == (1, 1, 1)
    assert agreement["f1"] == pytest.approx(0.5) and agreement["covers_anything_agreement"] == 0.5
    with pytest.raises(GoldFileError, match="repeated a"):  # a repeated id would silently replace the first labels
        coder_agreement(first + [LabelledPassage(id="a", text="t", labels=frozenset())], second)


def test_glossary_examples_join_an_entry_and_list_each_term_once(tmp_path):
    path = tmp_path / "glossary.yaml"
    path.write_text("entries:\n"
                    "- {items: [CARE-4], terms: [family time, contact]}\n"
                    "- {items: [CARE-8], terms: [contact, LAC]}\n", encoding="utf-8")
    examples = {p.text: p.labels for p in glossary_examples(path, {"CARE-4", "CARE-8"})}
    assert examples == {"family time; contact.": {"CARE-4"}, "contact; LAC.": {"CARE-8"},
                        "family time": {"CARE-4"}, "contact": {"CARE-4", "CARE-8"}, "LAC": {"CARE-8"}}


@pytest.mark.parametrize("body, message", [
    ("entries:\n- {items: [CARE-99], terms: [respite]}\n", "entry 1: unknown reference id(s) ['CARE-99']"),
    ("entries:\n- {items: [CARE-18], terms: [respite]}\n- {items: [CARE-18]}\n", "entry 2: needs non-empty"),
    ("entries: []\n", "non-empty list 'entries'"),
    ("entries: [\n", "cannot be read as YAML"),
])
def test_a_faulty_glossary_is_an_error_naming_the_entry(tmp_path, body, message):
    path = tmp_path / "glossary.yaml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ValueError, match=re.escape(message)):
        glossary_examples(path, {"CARE-18"})


def test_glossary_examples_train_but_are_never_real_passages(data):
    assert data.glossary and all(p.synthetic for p in data.glossary)
    assert not {p.text for p in data.dev} & {p.text for p in data.glossary}
    assert data.written == data.synthetic + data.structural + data.glossary + data.off_topic


@pytest.mark.skipif(not SHARED_GLOSSARY.exists(), reason="../shared/GLOSSARY.md is not beside the repository")
def test_every_glossary_item_link_is_in_the_shared_glossary():
    """The data file transcribes ../shared/GLOSSARY.md: every item it links a term to, the glossary names."""
    import yaml

    source = SHARED_GLOSSARY.read_text(encoding="utf-8")
    for entry in yaml.safe_load(DEFAULT_GLOSSARY.read_text(encoding="utf-8"))["entries"]:
        for item in entry["items"]:
            assert re.search(rf"\b{re.escape(item)}\b", source), item
