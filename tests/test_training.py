"""The learned classifier: folds grouped by document, deterministic training, and the labelled data itself."""

import re

import numpy as np
import pytest
from typer.testing import CliRunner

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
        assert {p.text for p in data.written} <= record["trained"]
    tested = set().union(*(record["tested"] for record in seen))
    assert tested == {p.text for p in data.dev}


def test_transfer_trains_on_written_examples_only(recorded_training, data, reference_set):
    report = training.transfer_validate(reference_set, data, DEFAULT_LEXICON)
    (record,) = recorded_training
    assert record["trained"] == {p.text for p in data.written} and not record["trained_docs"]
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
    assert data.written == data.synthetic + data.glossary


@pytest.mark.skipif(not SHARED_GLOSSARY.exists(), reason="../shared/GLOSSARY.md is not beside the repository")
def test_every_glossary_item_link_is_in_the_shared_glossary():
    """The data file transcribes ../shared/GLOSSARY.md: every item it links a term to, the glossary names."""
    import yaml

    source = SHARED_GLOSSARY.read_text(encoding="utf-8")
    for entry in yaml.safe_load(DEFAULT_GLOSSARY.read_text(encoding="utf-8"))["entries"]:
        for item in entry["items"]:
            assert re.search(rf"\b{re.escape(item)}\b", source), item


def test_a_stale_semantic_model_is_retrained_with_embeddings(tmp_path, monkeypatch):
    """`promise-map train --semantic`, then new labelled data: the map retrains, and must keep the embeddings."""
    import pickle

    import pipeline.cli
    from pipeline.classify import PromiseClassifier

    model_path = tmp_path / "model.pkl"
    model_path.write_bytes(pickle.dumps({"format": training.MODEL_FORMAT, "version": "old", "training_sha256": "old",
                                         "classifier": PromiseClassifier(semantic=True)}))
    assert training.saved_model_semantic(model_path) and not training.saved_model_semantic(tmp_path / "none.pkl")
    asked = {}

    def record_training(*args, semantic=False, **kwargs):
        asked["semantic"] = semantic
        raise ValueError("stopped after recording")

    monkeypatch.setattr(pipeline.cli, "train", record_training)
    corpus = tmp_path / "corpus"  # a supported file, or the map would stop before it needs a model
    corpus.mkdir()
    (corpus / "plan.txt").write_text("Siblings stay together.", encoding="utf-8")
    result = CliRunner().invoke(pipeline.cli.app, ["map", str(corpus), "--model", str(model_path), "-q"])
    assert result.exit_code == 2 and asked == {"semantic": True}
