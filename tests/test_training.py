"""The learned classifier: folds grouped by document, deterministic training, and the labelled data itself."""

import numpy as np
import pytest

import pipeline.training as training
from pipeline.evaluate import LabelledPassage, coder_agreement, load_labelled
from pipeline.training import DEFAULT_LABELLED_DIR, DEFAULT_LEXICON, group_of, load_training_data


@pytest.fixture(scope="module")
def data(reference_set):
    return load_training_data(DEFAULT_LABELLED_DIR, reference_set, DEFAULT_LEXICON)


def test_labelled_data_meets_the_brief(data, reference_set):
    assert len(data.dev) >= 400 and len(data.synthetic) >= 544
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
    seen = []

    class Silent:
        def decide(self, texts):
            seen[-1]["tested"] = set(texts)
            shape = (len(texts), len(reference_set.items))
            return np.zeros(shape, dtype=bool), np.zeros(shape)

    def fake_train(reference, passages, lexicon_path, *, seed=0, semantic=False):
        seen.append({"trained": {p.text for p in passages},
                     "trained_docs": {p.doc for p in passages if not p.synthetic}})
        return Silent()

    monkeypatch.setattr(training, "train", fake_train)
    return seen


def test_cross_validation_never_trains_on_the_test_document(recorded_training, data, reference_set):
    seen = recorded_training
    report = training.cross_validate(reference_set, data, DEFAULT_LEXICON)
    assert len(seen) == 4
    for fold, record in zip(report["cross_validation"]["folds"], seen, strict=True):
        assert fold["test_document"] not in record["trained_docs"]
        assert not record["tested"] & record["trained"]
        assert {p.text for p in data.synthetic} <= record["trained"]
    tested = set().union(*(record["tested"] for record in seen))
    assert tested == {p.text for p in data.dev}


def test_transfer_trains_on_synthetic_passages_only(recorded_training, data, reference_set):
    report = training.transfer_validate(reference_set, data, DEFAULT_LEXICON)
    (record,) = recorded_training
    assert record["trained"] == {p.text for p in data.synthetic} and not record["trained_docs"]
    assert record["tested"] == {p.text for p in data.dev}
    assert report["passages"] == len(data.dev)


@pytest.mark.slow
def test_training_twice_gives_identical_predictions(data, reference_set):
    subset = data.synthetic + data.dev[:150]
    texts = [p.text for p in data.dev[150:260]]
    first = training.train(reference_set, subset, DEFAULT_LEXICON).decide(texts)
    second = training.train(reference_set, subset, DEFAULT_LEXICON).decide(texts)
    assert np.array_equal(first[0], second[0]) and np.array_equal(first[1], second[1])


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
