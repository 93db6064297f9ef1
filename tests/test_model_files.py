"""Model files cannot run code: arrays and JSON only; pickles and damaged files are refused with exit 2."""

import io
import pickle
import zipfile

import numpy as np
import pytest
from typer.testing import CliRunner

import pipeline.training as training
from pipeline.classify.persist import ModelFileError, read_model_file, write_model_file
from pipeline.cli import app
from pipeline.training import DEFAULT_LABELLED_DIR, DEFAULT_LEXICON, load_model, load_training_data, save_model


class Planted:
    """What a crafted model file carries: unpickling it runs `__reduce__`, which writes a marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def crafted_pickle(tmp_path):
    marker = tmp_path / "ran.txt"
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps({"format": 1, "classifier": Planted(marker)}))
    return path, marker


def crafted_npz(tmp_path):
    """An .npz whose array is a pickled object: np.load would unpickle it if allowed to."""
    marker = tmp_path / "ran-npz.txt"
    path = tmp_path / "model.npz"
    buffer = io.BytesIO()
    np.savez(buffer, __meta__=np.array([Planted(marker)], dtype=object))
    path.write_bytes(buffer.getvalue())
    return path, marker


@pytest.fixture
def corpus(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "plan.txt").write_text("Brothers and sisters will stay together wherever it is safe.\n",
                                     encoding="utf-8")
    return folder


@pytest.mark.parametrize("make", [crafted_pickle, crafted_npz])
def test_a_crafted_model_file_writes_nothing_and_is_refused(tmp_path, corpus, make, reference_set):
    path, marker = make(tmp_path)
    with pytest.raises(ModelFileError):
        load_model(path, reference_set, DEFAULT_LEXICON)
    result = CliRunner().invoke(app, ["map", str(corpus), "--out", str(tmp_path / "out"), "--model", str(path), "-q"])
    assert result.exit_code == 2, result.output
    assert "not a promise-map model file" in result.stderr or "damaged" in result.stderr
    gold = tmp_path / "gold.jsonl"
    gold.write_text('{"text": "Siblings stay together.", "labels": ["CARE-3"]}\n', encoding="utf-8")
    result = CliRunner().invoke(app, ["eval", "--gold", str(gold), "--model", str(path)])
    assert result.exit_code == 2, result.output
    assert not marker.exists()
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("content", [b"", b"not a zip at all", b"PK\x03\x04 truncated archive"])
def test_a_corrupt_model_file_is_a_clear_error_with_exit_2(tmp_path, corpus, content):
    path = tmp_path / "model.npz"
    path.write_bytes(content)
    result = CliRunner().invoke(app, ["map", str(corpus), "--out", str(tmp_path / "out"), "--model", str(path), "-q"])
    assert result.exit_code == 2, result.output
    assert "model" in result.stderr and "Traceback" not in result.output


def test_model_files_refuse_object_arrays_and_other_kinds(tmp_path):
    with pytest.raises(ValueError, match="Python objects"):
        write_model_file(tmp_path / "m.npz", {"x": np.array([object()], dtype=object)}, {})
    other = tmp_path / "other.npz"
    np.savez(other, values=np.arange(3))
    with pytest.raises(ModelFileError, match="no description"):
        read_model_file(other)
    bomb = tmp_path / "bomb.npz"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("huge.npy", b"\0" * (1 << 20))
    with pytest.raises(ModelFileError):
        read_model_file(bomb)


@pytest.fixture(scope="module")
def small_model(reference_set):
    data = load_training_data(DEFAULT_LABELLED_DIR, reference_set, DEFAULT_LEXICON)
    passages = data.synthetic[:400] + data.dev[:100] + data.off_topic[:100]
    return data, training.train(reference_set, passages, DEFAULT_LEXICON,
                                off_topic_documents=data.off_topic_texts[:200])


def test_a_saved_model_scores_exactly_as_the_trained_one(tmp_path, small_model, reference_set):
    data, classifier = small_model
    path = tmp_path / "model.npz"
    save_model(classifier, path, training_sha256="abc", reference_set=reference_set)
    loaded = load_model(path, reference_set, DEFAULT_LEXICON, training_sha256="abc")
    texts = [p.text for p in data.dev[100:200]]
    before, after = classifier.score(texts).scores, loaded.score(texts).scores
    for name in ("probabilities", "quotes", "relevance", "words"):
        assert np.array_equal(getattr(before, name), getattr(after, name)), name
    assert np.array_equal(classifier.rule.covered_at, loaded.rule.covered_at)
    assert load_model(path, reference_set, DEFAULT_LEXICON, training_sha256="other data") is None  # stale
