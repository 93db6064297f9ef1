"""Training and cross-validating the classifier from the labelled data in the repository.

`make train` builds the model from corpora/labelled/: real passages (the seed documents' development set,
and the real-register set re-told from 953 public pages), written ones (synthetic paraphrases, the
glossary's terms, text far from children's care), the passages of the written off-topic documents in
corpora/offtopic-written/ (relevance negatives), and the reference texts. `make eval` cross-validates it
with folds grouped by source (a seed document, or a real-register page), so no passage is ever scored by
a model that saw its own document. Written examples always train and are never scored.

The model file holds arrays and JSON only (pipeline/classify/persist.py) and records the sha256 of
everything it was trained from (data, lexicon, glossary, reference texts, the classifier's code): a
model trained from anything else is stale and is retrained before a run uses it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import yaml
from sklearn.model_selection import GroupKFold

from pipeline import __version__
from pipeline.classify import PromiseClassifier, load_lexicon
from pipeline.classify.frameworks import FrameworkClassifier
from pipeline.classify.persist import ModelFileError, read_model_file, write_model_file
from pipeline.evaluate import LabelledPassage, document_verdicts, evaluate, load_labelled
from pipeline.reference import SHIPPED_DIR, load_frameworks, reference_set
from pipeline.types import ReferenceSet, Status
from pipeline.yamlfiles import load_yaml

REPO = Path(__file__).resolve().parent.parent
DEFAULT_LABELLED_DIR = REPO / "corpora" / "labelled"
DEFAULT_OFF_TOPIC_DOCUMENTS = REPO / "corpora" / "offtopic-written"
DEFAULT_LEXICON = REPO / "reference" / "lexicon" / "domain.yaml"
DEFAULT_GLOSSARY = REPO / "reference" / "lexicon" / "glossary.yaml"
GLOSSARY_DOC = "glossary"
DEFAULT_MODEL_PATH = REPO / "outputs" / "model" / "promise-classifier.npz"
DEV_SET = "dev.jsonl"
REAL_REGISTER_SET = "real-register.jsonl"
SYNTHETIC_SET = "synthetic.jsonl"
OFF_TOPIC_SETS = ("offtopic-A.jsonl", "offtopic-B.jsonl")
#: The `doc` of every written off-topic passage: text far from children's care, the domain model's negatives.
OFF_TOPIC_DOC = "offtopic"
#: Written passages in the shapes real documents name items without covering them (definitions, table rows,
#: lists, contents lines), and the same shapes where they do cover (action-plan rows): training only.
STRUCTURAL_SET = "structural.jsonl"
#: Files in the off-topic documents folder that are about it, not documents of it.
NOT_DOCUMENTS = frozenset({"README.md"})
#: Classifier code that runs only at map time, so a change to it does not make the model stale.
RUN_TIME_ONLY = frozenset({"frameworks.py", "highlight.py"})
#: Cross-validation folds over the real passages' sources.
DEFAULT_FOLDS = 5
Progress = Callable[[str], None]


@dataclass(frozen=True)
class TrainingData:
    """The labelled passages a model learns from, and a hash of them, the lexicon, the reference and the code."""

    dev: list[LabelledPassage]
    real_register: list[LabelledPassage]
    synthetic: list[LabelledPassage]
    structural: list[LabelledPassage]
    glossary: list[LabelledPassage]
    off_topic: list[LabelledPassage]
    #: The written off-topic documents' passages, by file name (corpora/offtopic-written/).
    off_topic_documents: dict[str, list[str]]
    sha256: str
    #: Passages reviewers accepted or rejected as evidence (`train --reviews`): trained on, never scored.
    reviewed: tuple[LabelledPassage, ...] = ()
    #: The hash of the data without the reviews, which `map` checks a model against (see `with_reviews`).
    base_sha256: str = ""

    @property
    def real(self) -> list[LabelledPassage]:
        """Passages from real documents (re-told, for the real-register set): trained on and scored."""
        return self.dev + self.real_register

    @property
    def off_topic_texts(self) -> list[str]:
        """Every passage of the written off-topic documents, in file order."""
        return [text for texts in self.off_topic_documents.values() for text in texts]

    @property
    def written(self) -> list[LabelledPassage]:
        """Every example that is not a real passage (synthetic, glossary, off-topic): trained on, never scored."""
        return self.synthetic + self.structural + self.glossary + self.off_topic


def load_training_data(labelled_dir: Path, reference_set: ReferenceSet, lexicon_path: Path, *,
                       glossary_path: Path = DEFAULT_GLOSSARY,
                       off_topic_documents: Path = DEFAULT_OFF_TOPIC_DOCUMENTS) -> TrainingData:
    known = {item.id for item in reference_set.items}
    dev = load_labelled(labelled_dir / DEV_SET, known)
    real_register = load_labelled(labelled_dir / REAL_REGISTER_SET, known)
    synthetic = load_labelled(labelled_dir / SYNTHETIC_SET, known)
    structural = load_labelled(labelled_dir / STRUCTURAL_SET, known)
    off_topic = [passage for name in OFF_TOPIC_SETS for passage in load_labelled(labelled_dir / name, known)]
    written = synthetic + structural + off_topic
    if any(p.synthetic for p in dev + real_register) or not all(p.synthetic for p in written):
        raise ValueError(f"{labelled_dir}: {DEV_SET} and {REAL_REGISTER_SET} must hold real passages, "
                         f"{SYNTHETIC_SET}, {STRUCTURAL_SET} and {', '.join(OFF_TOPIC_SETS)} written ones only")
    if any(p.labels for p in off_topic):
        raise ValueError(f"{labelled_dir}: off-topic passages cover nothing, so they carry no labels")
    glossary = glossary_examples(glossary_path, known)
    document_files = off_topic_document_files(off_topic_documents)
    from pipeline.segment import Segmenter

    segmenter = Segmenter()  # one spaCy pipeline for every document, not one each
    return TrainingData(dev=dev, real_register=real_register, synthetic=synthetic, structural=structural,
                        glossary=glossary, off_topic=off_topic,
                        off_topic_documents={path.name: off_topic_passages([path], segmenter)
                                             for path in document_files},
                        sha256=training_sha256(labelled_dir, reference_set, lexicon_path, glossary_path=glossary_path,
                                               off_topic_documents=off_topic_documents))


def with_reviews(data: TrainingData, store, reference_set: ReferenceSet) -> TrainingData:
    """`data` plus the review store's accepted and rejected evidence passages, its hash joined to the data's.

    The model's training hash then pins the reviews it learned from; `base_sha256` stays the repository's,
    so `map` still takes the model as current (it was trained from today's data, and more).
    """
    from pipeline.review.passages import reviewed_passages

    passages = tuple(reviewed_passages(store, {item.id for item in reference_set.items}))
    joined = hashlib.sha256(f"{data.sha256}\0reviews\0{store.sha256()}".encode()).hexdigest()
    return replace(data, reviewed=passages, sha256=joined, base_sha256=data.sha256)


def training_sha256(labelled_dir: Path, reference_set: ReferenceSet, lexicon_path: Path, *,
                    glossary_path: Path = DEFAULT_GLOSSARY,
                    off_topic_documents: Path = DEFAULT_OFF_TOPIC_DOCUMENTS) -> str:
    """What a model is trained from, hashed: the labelled files, lexicon, glossary, off-topic documents, code.

    Rationale: `map` asks whether the saved model is current on every run; that must cost a read of the
    files' bytes, not the segmentation of every off-topic document (which is what loading the data costs).
    """
    digest = hashlib.sha256()
    sources = [labelled_dir / DEV_SET, labelled_dir / REAL_REGISTER_SET, labelled_dir / SYNTHETIC_SET,
               labelled_dir / STRUCTURAL_SET, *(labelled_dir / name for name in OFF_TOPIC_SETS), lexicon_path,
               glossary_path, *off_topic_document_files(off_topic_documents)]
    for path in sources:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    digest.update(reference_set.sha256.encode())
    digest.update(__version__.encode())
    # a change to the classifier's code, or to how training data is made, retrains the model
    package = REPO / "pipeline"
    # (frameworks.py only puts trained models together for a run's frameworks, highlight.py finds the matched words
    # in a passage for its report: they change no trained value; the result cache's key holds them instead)
    classify_code = [path for path in sorted((package / "classify").glob("*.py")) if path.name not in RUN_TIME_ONLY]
    for source in [*classify_code, package / "training.py", package / "decide.py", package / "segment.py"]:
        digest.update(source.read_bytes())
    return digest.hexdigest()


def off_topic_document_files(folder: Path) -> list[Path]:
    return sorted(path for path in folder.glob("*")
                  if path.suffix in (".md", ".txt") and path.name not in NOT_DOCUMENTS)


def off_topic_passages(files: list[Path], segmenter=None) -> list[str]:
    """The passages of the written off-topic documents, segmented as a map segments any document.

    A segmenter builds a spaCy pipeline (a third of a second): pass one to reuse it across calls.
    """
    from pipeline.extract import extract_file
    from pipeline.segment import Segmenter

    segmenter = segmenter or Segmenter()
    return [passage.text for path in files for passage in segmenter.segment(extract_file(path))]


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
        data = load_yaml(path)
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
    """Cross-validation group: the source document (or page) for real passages, the example itself for written ones.

    (Keeping a glossary entry's examples in one fold was tried: 0.016 lower cross-validated micro-F1.)
    """
    return f"synthetic:{passage.id}" if passage.synthetic else f"doc:{passage.doc}"


def train(reference_set: ReferenceSet, passages: list[LabelledPassage], lexicon_path: Path, *,
          off_topic_documents: list[str] = (), seed: int = 0, progress: Progress | None = None) -> PromiseClassifier:
    """A classifier trained on `passages`, with `off_topic_documents`' passages as further relevance negatives."""
    lexicon = load_lexicon(lexicon_path)
    return PromiseClassifier(lexicon=lexicon, seed=seed).fit(
        reference_set.items, [p.text for p in passages], [p.labels for p in passages],
        [group_of(p) for p in passages], off_topic_texts=list(off_topic_documents),
        off_domain=[p.doc == OFF_TOPIC_DOC for p in passages], progress=progress)


def train_all(reference_set: ReferenceSet, data: TrainingData, lexicon_path: Path, *,
              seed: int = 0, progress: Progress | None = None) -> PromiseClassifier:
    """The classifier `map` uses: trained on every passage and off-topic document in the repository."""
    classifier = train(reference_set, data.real + list(data.reviewed) + data.written, lexicon_path,
                       off_topic_documents=data.off_topic_texts, seed=seed, progress=progress)
    classifier.training_sha256_ = data.sha256
    return classifier


def fold_sources(real: list[LabelledPassage], folds: int) -> list[tuple[list[int], list[int]]]:
    """(train rows, test rows) of `real`, grouped by source, so no document or page is on both sides."""
    groups = [group_of(passage) for passage in real]
    splitter = GroupKFold(n_splits=min(folds, len(set(groups))))
    return [(list(train_rows), list(test_rows))
            for train_rows, test_rows in splitter.split(np.zeros(len(real)), groups=groups)]


def cross_validate(reference_set: ReferenceSet, data: TrainingData, lexicon_path: Path, *, seed: int = 0,
                   folds: int = DEFAULT_FOLDS, progress: Progress | None = None) -> dict:
    """Grouped k-fold over the real passages (seed documents and real-register pages); written ones always train.

    Passage decisions and document verdicts come from the fold's classifier and its decision rule, exactly
    as `map` would make them.
    """
    real = data.real
    items = reference_set.items
    decisions = np.zeros((len(real), len(items)), dtype=bool)
    confidences = np.zeros(decisions.shape)
    documents: dict[str, np.ndarray] = {}
    off_topic_covered: dict[str, list[int]] = {}
    zero_shot = ZeroShotFigures(len(real), len(items))
    report_folds = []
    for number, (train_rows, test_rows) in enumerate(fold_sources(real, folds), start=1):
        if progress:
            progress(f"fold {number}/{folds}")
        training = [real[i] for i in train_rows] + data.written
        assert not {group_of(real[i]) for i in test_rows} & {group_of(p) for p in training}, "fold leak"
        held_out, kept = off_topic_halves(data.off_topic_documents, number)
        classifier = train(reference_set, training, lexicon_path, seed=seed,
                           off_topic_documents=[text for texts in kept.values() for text in texts])
        tested = [real[i] for i in test_rows]
        scores = classifier.score([p.text for p in tested]).scores
        decisions[test_rows] = classifier.rule.passage_decisions(scores)
        confidences[test_rows] = np.clip(scores.scores, 0.0, 1.0)
        documents.update(document_verdicts(tested, scores, classifier.rule))
        for name, texts in held_out.items():
            verdicts = classifier.rule.item_verdicts(classifier.score(texts).scores)
            off_topic_covered.setdefault(name, []).append(sum(v.status is Status.COVERED for v in verdicts))
        zero_shot.add_fold(FrameworkClassifier(classifier, items, learned_items=False), tested, test_rows, held_out)
        report_folds.append({"fold": number, "test_passages": len(test_rows), "train_passages": len(training),
                             "test_sources": len({group_of(p) for p in tested}),
                             "off_topic_documents_held_out": len(held_out)})
    report = evaluate(real, items, decisions, confidences, documents=documents)
    report["document_by_set"] = document_figures_by_set(data, documents, items)
    report["off_topic_documents"] = off_topic_summary(off_topic_covered)
    report["zero_shot"] = zero_shot.report(real, items, data)
    report["cross_validation"] = {"scheme": f"{len(report_folds)}-fold, grouped by source document or page; the "
                                            "written off-topic documents cross-fitted in two halves",
                                  "folds": report_folds}
    return report


class ZeroShotFigures:
    """The cross-validated figures of zero-shot scoring: the same folds, every item scored as if unlabelled.

    Each fold's zero-shot calibration is fitted on that fold's training passages only, and its gates are
    the fold classifier's, so a test passage is never scored by anything that saw it.
    """

    def __init__(self, n_passages: int, n_items: int) -> None:
        self.decisions = np.zeros((n_passages, n_items), dtype=bool)
        self.confidences = np.zeros((n_passages, n_items))
        self.documents: dict[str, np.ndarray] = {}
        self.off_topic_covered: dict[str, list[int]] = {}

    def add_fold(self, classifier, tested: list[LabelledPassage], test_rows: list[int],
                 held_out: dict[str, list[str]]) -> None:
        scores = classifier.score([p.text for p in tested]).scores
        self.decisions[test_rows] = classifier.rule.passage_decisions(scores)
        self.confidences[test_rows] = np.clip(scores.scores, 0.0, 1.0)
        self.documents.update(document_verdicts(tested, scores, classifier.rule))
        for name, texts in held_out.items():
            verdicts = classifier.rule.item_verdicts(classifier.score(texts).scores)
            self.off_topic_covered.setdefault(name, []).append(sum(v.status is Status.COVERED for v in verdicts))

    def report(self, real: list[LabelledPassage], items, data: TrainingData) -> dict:
        report = evaluate(real, items, self.decisions, self.confidences, documents=self.documents)
        return {"passage": {key: report["passage"][key] for key in ("micro_precision", "micro_recall", "micro_f1",
                                                                    "macro_f1", "per_framework")},
                "document": report.get("document"),
                "document_by_set": document_figures_by_set(data, self.documents, items),
                "off_topic_documents": off_topic_summary(self.off_topic_covered)}


def off_topic_halves(documents: dict[str, list[str]], fold: int) -> tuple[dict, dict]:
    """(held out, kept) off-topic documents for a fold, in alternate halves.

    Each document is scored only by fold models whose relevance model never saw it.
    """
    half = fold % 2
    names = sorted(documents)
    held_out = {name: documents[name] for position, name in enumerate(names) if position % 2 == half}
    kept = {name: documents[name] for name in names if name not in held_out}
    return held_out, kept


def off_topic_summary(covered: dict[str, list[int]]) -> dict:
    """Covered verdicts per written off-topic document, averaged over the folds that held it out."""
    per_document = {name: float(np.mean(counts)) for name, counts in sorted(covered.items())}
    total = sum(per_document.values())
    return {"documents": len(per_document), "covered_per_document": total / len(per_document) if per_document else 0,
            "documents_with_any_covered": sum(value > 0 for value in per_document.values()),
            "per_document": per_document}


def document_figures_by_set(data: TrainingData, documents: dict[str, np.ndarray], items) -> dict:
    """Document-level P/R/F1 for the seed documents (whole, long) and the real-register pages (a few passages).

    The two differ in kind: a seed document is a whole document of hundreds of passages, a real-register
    "document" is one web page's few re-told passages, on which the document gate (enough relevant
    passages) may rightly find too little to go on.
    """
    from pipeline.evaluate import document_scores, label_matrix

    item_ids = [item.id for item in items]
    figures = {}
    for name, chosen in (("seed documents", data.dev), ("real-register pages", data.real_register)):
        if not chosen:
            continue
        gold = label_matrix([p.labels for p in chosen], item_ids)
        figures[name] = document_scores(chosen, gold, gold, item_ids, {p.doc: documents[p.doc] for p in chosen})
        figures[name].pop("per_document", None)
    return figures


def transfer_validate(reference_set: ReferenceSet, data: TrainingData, lexicon_path: Path, *, seed: int = 0,
                      progress: Progress | None = None) -> dict:
    """Train on written examples, glossary, off-topic text and item texts only; score every real passage.

    No real document's wording is seen in training, so this measures how well the model carries over to
    documents that say things in their own words.
    """
    if progress:
        progress("training on written examples")
    classifier = train(reference_set, data.written, lexicon_path, off_topic_documents=data.off_topic_texts,
                       seed=seed)
    scores = classifier.score([p.text for p in data.real]).scores
    report = evaluate(data.real, reference_set.items, classifier.rule.passage_decisions(scores),
                      np.clip(scores.scores, 0.0, 1.0), documents=document_verdicts(data.real, scores, classifier.rule))
    report["cross_validation"] = {"scheme": "transfer: written examples only",
                                  "folds": [{"fold": 1, "test_passages": len(data.real),
                                             "train_passages": len(data.written)}]}
    return report


# ---- model files ----------------------------------------------------------------------------------------


def save_model(classifier: PromiseClassifier, path: Path, *, training_sha256: str,
               reference_set: ReferenceSet, base_training_sha256: str = "", reviewed_passages: int = 0) -> None:
    """Write the model as arrays and JSON (never pickle), with what it was trained from.

    A model trained with reviews also records the hash of the repository's data alone
    (`base_training_sha256`), by which `map` knows it is current, and how many reviewed passages it learned.
    """
    arrays, meta = classifier.to_state()
    reviews = ({"base_training_sha256": base_training_sha256, "reviewed_passages": reviewed_passages}
               if base_training_sha256 else {})
    write_model_file(path, arrays, {**meta, "version": __version__, "training_sha256": training_sha256,
                                    "reference_sha256": reference_set.sha256, **reviews})


def load_model(path: Path, reference_set: ReferenceSet, lexicon_path: Path, *,
               training_sha256: str | None = None) -> PromiseClassifier | None:
    """The saved model, or None when it is missing or was trained from other data, reference texts or code.

    Raises ModelFileError for a file that is not a promise-map model file (a pickle, a damaged archive):
    such a file is refused, never loaded, because loading a pickle runs its code.
    """
    if not path.exists():
        return None
    arrays, meta = read_model_file(path)
    if meta.get("version") != __version__ or meta.get("reference_sha256") != reference_set.sha256:
        return None
    if training_sha256 is not None and training_sha256 not in (meta.get("training_sha256"),
                                                                meta.get("base_training_sha256")):
        return None
    try:
        classifier = PromiseClassifier.from_state(arrays, meta, items=reference_set.items,
                                                  lexicon=load_lexicon(lexicon_path))
    except (KeyError, TypeError, ValueError) as error:
        raise ModelFileError(f"{path}: not a usable promise-map model ({error}); rebuild it with `make train`") \
            from error
    classifier.training_sha256_ = meta.get("training_sha256")
    return classifier


def labelled_item_ids(labelled_dir: Path = DEFAULT_LABELLED_DIR) -> set[str]:
    """Every item id some labelled passage in `labelled_dir` carries."""
    return {label for name in (DEV_SET, REAL_REGISTER_SET, SYNTHETIC_SET, STRUCTURAL_SET)
            for passage in load_labelled(labelled_dir / name) for label in passage.labels}


def training_reference(shipped_dir: Path = SHIPPED_DIR, labelled_dir: Path = DEFAULT_LABELLED_DIR) -> ReferenceSet:
    """The frameworks the model learns: the shipped ones with labelled passages (the rest are scored zero-shot).

    Rationale: the model depends on these frameworks' texts only, so adding or editing a framework without
    labels (Plan 21-24, a user's own) never retrains it.
    """
    labelled = labelled_item_ids(labelled_dir)
    return reference_set(framework for framework in load_frameworks(shipped_dir)
                         if any(item.id in labelled for item in framework.items))


def run_classifier(model_path: Path, run_reference: ReferenceSet, **options):
    """The classifier a run over `run_reference` uses: the learned model for its items, zero-shot for the rest."""
    from pipeline.classify.frameworks import FrameworkClassifier

    return FrameworkClassifier(ensure_model(model_path, **options), run_reference.items)


def ensure_model(model_path: Path, reference_set: ReferenceSet | None = None, *, progress_bar: bool = True,
                 say: Callable[[str], None] = print) -> PromiseClassifier:
    """The model at `model_path`, trained and saved first when it is missing or stale (with a progress bar).

    `reference_set` is what the model learns (default: `training_reference()`). Raises ModelFileError when
    `model_path` holds something that is not a promise-map model file.
    """
    from tqdm import tqdm

    reference_set = reference_set if reference_set is not None else training_reference()

    current = training_sha256(DEFAULT_LABELLED_DIR, reference_set, DEFAULT_LEXICON)
    saved = load_model(model_path, reference_set, DEFAULT_LEXICON, training_sha256=current)
    if saved is not None:
        return saved
    data = load_training_data(DEFAULT_LABELLED_DIR, reference_set, DEFAULT_LEXICON)
    say(f"training the classifier on {len(data.real) + len(data.written)} labelled examples and "
        f"{len(data.off_topic_texts)} off-topic document passages (no current model at {model_path}); "
        "this takes a few minutes, once")
    with tqdm(total=PromiseClassifier.training_steps(), desc="train", unit="step", disable=not progress_bar) as bar:
        def step(name: str) -> None:
            bar.set_postfix_str(name)
            bar.update()

        trained = train_all(reference_set, data, DEFAULT_LEXICON, progress=step)
    save_model(trained, model_path, training_sha256=data.sha256, reference_set=reference_set)
    return trained
