"""Training and cross-validating the learned classifier from the labelled data in the repository.

`make train` builds the model from corpora/labelled/ (development set + synthetic
paraphrases), the glossary's terms (reference/lexicon/glossary.yaml) and the
reference texts; `make eval` cross-validates it on the
development set with folds grouped by source document, so no passage is ever
scored by a model trained on its own document. Synthetic passages and glossary
examples are used for training only, never scored.
"""

from __future__ import annotations

import hashlib
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from pipeline import __version__
from pipeline.classify import PromiseClassifier, load_lexicon
from pipeline.evaluate import LabelledPassage, evaluate, load_labelled
from pipeline.files import write_atomic
from pipeline.types import ReferenceSet

REPO = Path(__file__).resolve().parent.parent
DEFAULT_LABELLED_DIR = REPO / "corpora" / "labelled"
DEFAULT_LEXICON = REPO / "reference" / "lexicon" / "domain.yaml"
DEFAULT_GLOSSARY = REPO / "reference" / "lexicon" / "glossary.yaml"
GLOSSARY_DOC = "glossary"
DEFAULT_MODEL_PATH = REPO / "outputs" / "model" / "promise-classifier.pkl"
DEV_SET = "dev.jsonl"
SYNTHETIC_SET = "synthetic.jsonl"
MODEL_FORMAT = 1


@dataclass(frozen=True)
class TrainingData:
    """The labelled passages a model learns from, and a hash of them, the lexicon, the reference and the code."""

    dev: list[LabelledPassage]
    synthetic: list[LabelledPassage]
    glossary: list[LabelledPassage]
    sha256: str

    @property
    def written(self) -> list[LabelledPassage]:
        """Every example that is not a real passage (synthetic and glossary): trained on, never scored."""
        return self.synthetic + self.glossary


def load_training_data(labelled_dir: Path, reference_set: ReferenceSet, lexicon_path: Path, *,
                       glossary_path: Path = DEFAULT_GLOSSARY) -> TrainingData:
    known = {item.id for item in reference_set.items}
    dev = load_labelled(labelled_dir / DEV_SET, known)
    synthetic = load_labelled(labelled_dir / SYNTHETIC_SET, known)
    if any(p.synthetic for p in dev) or not all(p.synthetic for p in synthetic):
        raise ValueError(f"{labelled_dir}: {DEV_SET} must hold real passages and {SYNTHETIC_SET} synthetic ones only")
    glossary = glossary_examples(glossary_path, known)
    digest = hashlib.sha256()
    for path in (labelled_dir / DEV_SET, labelled_dir / SYNTHETIC_SET, lexicon_path, glossary_path):
        digest.update(path.read_bytes())
    digest.update(reference_set.sha256.encode())
    digest.update(f"{__version__}/{MODEL_FORMAT}".encode())
    # a change to the classifier's code, or to how training data is made, retrains the model
    for source in [*sorted((REPO / "pipeline" / "classify").glob("*.py")), REPO / "pipeline" / "training.py"]:
        digest.update(source.read_bytes())
    return TrainingData(dev=dev, synthetic=synthetic, glossary=glossary, sha256=digest.hexdigest())


def glossary_examples(path: Path, known_ids: set[str]) -> list[LabelledPassage]:
    """Short labelled examples from the glossary: each entry's terms together, then each term alone.

    The glossary says which words real documents use for an item; as examples they let the model
    meet that vocabulary where no labelled passage does (+0.03 transfer micro-F1, docs/accuracy.md).
    A term listed under several entries becomes one example carrying all their items.
    """
    entries = read_glossary(path, known_ids)
    examples, term_items = [], {}
    for number, entry in enumerate(entries, start=1):
        examples.append(glossary_example(f"glossary-{number}", "; ".join(entry["terms"]) + ".", entry["items"]))
        for term in entry["terms"]:
            term_items.setdefault(term, set()).update(entry["items"])
    for number, (term, items) in enumerate(term_items.items(), start=1):
        examples.append(glossary_example(f"glossary-term-{number}", term, items))
    return examples


def glossary_example(example_id: str, text: str, items) -> LabelledPassage:
    return LabelledPassage(id=example_id, text=text, labels=frozenset(items), doc=GLOSSARY_DOC, synthetic=True)


def read_glossary(path: Path, known_ids: set[str]) -> list[dict]:
    """The glossary's entries, each `{items: [...], terms: [...]}`; a fault is an error naming the entry."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise ValueError(f"{path}: cannot be read as YAML ({error})") from error
    entries = data.get("entries") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise ValueError(f"{path}: expected a mapping with a non-empty list 'entries'")
    for number, entry in enumerate(entries, start=1):
        where = f"{path}: entry {number}"
        if not isinstance(entry, dict) or not entry.get("items") or not entry.get("terms"):
            raise ValueError(f"{where}: needs non-empty 'items' and 'terms'")
        if not all(isinstance(term, str) and term.strip() for term in entry["terms"]):
            raise ValueError(f"{where}: every term must be a non-empty string")
        unknown = sorted(set(map(str, entry["items"])) - known_ids)
        if unknown:
            raise ValueError(f"{where}: unknown reference id(s) {unknown}")
    return entries


def group_of(passage: LabelledPassage) -> str:
    """Cross-validation group: the source document for real passages, the example itself for written ones.

    (Keeping a glossary entry's examples in one fold was tried: 0.016 lower cross-validated micro-F1.)
    """
    return f"synthetic:{passage.id}" if passage.synthetic else f"doc:{passage.doc}"


def train(reference_set: ReferenceSet, passages: list[LabelledPassage], lexicon_path: Path, *,
          seed: int = 0, semantic: bool = False) -> PromiseClassifier:
    lexicon = load_lexicon(lexicon_path)
    return PromiseClassifier(lexicon=lexicon, seed=seed, semantic=semantic).fit(
        reference_set.items, [p.text for p in passages], [p.labels for p in passages], [group_of(p) for p in passages])


def cross_validate(reference_set: ReferenceSet, data: TrainingData, lexicon_path: Path, *, seed: int = 0,
                   semantic: bool = False) -> dict:
    """Leave-one-document-out over the development set; synthetic passages always train, never test."""
    documents = sorted({p.doc for p in data.dev})
    decisions = np.zeros((len(data.dev), len(reference_set.items)), dtype=bool)
    confidences = np.zeros(decisions.shape)
    folds = []
    for document in documents:
        test_rows = [i for i, p in enumerate(data.dev) if p.doc == document]
        training = [p for p in data.dev if p.doc != document] + data.written
        assert not {p.doc for p in training if not p.synthetic} & {document}, "fold leak"
        classifier = train(reference_set, training, lexicon_path, seed=seed, semantic=semantic)
        fold_decisions, fold_confidences = classifier.decide([data.dev[i].text for i in test_rows])
        decisions[test_rows], confidences[test_rows] = fold_decisions, fold_confidences
        folds.append({"test_document": document, "test_passages": len(test_rows), "train_passages": len(training)})
    report = evaluate(data.dev, reference_set.items, decisions, confidences)
    report["cross_validation"] = {"scheme": "leave-one-document-out", "folds": folds}
    return report


def transfer_validate(reference_set: ReferenceSet, data: TrainingData, lexicon_path: Path, *, seed: int = 0,
                      semantic: bool = False) -> dict:
    """Train on the synthetic passages, glossary and item texts only, score every development passage.

    No real document's wording is seen in training, so this measures what the held-out set asks about:
    how well the model carries over to documents that say things in their own words.
    """
    classifier = train(reference_set, data.written, lexicon_path, seed=seed, semantic=semantic)
    decisions, confidences = classifier.decide([p.text for p in data.dev])
    report = evaluate(data.dev, reference_set.items, decisions, confidences)
    report["cross_validation"] = {"scheme": "transfer: written examples only",
                                  "folds": [{"test_document": "all", "test_passages": len(data.dev),
                                             "train_passages": len(data.written)}]}
    return report


def save_model(classifier: PromiseClassifier, path: Path, *, training_sha256: str) -> None:
    payload = {"format": MODEL_FORMAT, "version": __version__, "training_sha256": training_sha256,
               "classifier": classifier}
    write_atomic(path, pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL))


def saved_model_semantic(path: Path) -> bool:
    """Whether the model saved at `path`, current or stale, was trained with sentence embeddings.

    A stale model is retrained when a run needs it; this keeps the kind the user chose with
    `promise-map train --semantic` instead of silently replacing it with a lexical one.
    """
    try:
        payload = pickle.loads(path.read_bytes())
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError):
        return False
    return isinstance(payload, dict) and bool(getattr(payload.get("classifier"), "semantic", False))


def load_model(path: Path, *, training_sha256: str | None = None) -> PromiseClassifier | None:
    """The saved model, or None when it is missing or was trained on other data or code.

    The file is one this project wrote with `make train` (pickle is only safe for such files).
    """
    if not path.exists():
        return None
    payload = pickle.loads(path.read_bytes())
    if payload.get("format") != MODEL_FORMAT or payload.get("version") != __version__:
        return None
    if training_sha256 is not None and payload.get("training_sha256") != training_sha256:
        return None
    return payload["classifier"]
