"""Training, cross-validating and keeping the stance and commitment models.

The labelled set is corpora/labelled/stance.jsonl (docs/stance-labelling.md): passages of the seed documents,
of the real-register pages and written ones, each with a stance and a commitment per item it covers. A passage
trains once, with the label most of its items carry (stance differs in 14 passages of 2,364); it is scored once
per item, as `eval` counts. Folds are grouped by `group` (a seed document, a real-register page, a written
set), so no passage is scored by a model that saw its own document.

The model file (outputs/model/stance.npz) records the sha256 of the labelled set and of this package's code:
a model trained from anything else is stale, and is retrained (in seconds) before a run uses it.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sklearn.metrics import cohen_kappa_score
from sklearn.model_selection import GroupKFold

from pipeline import __version__
from pipeline.classify.persist import read_model_file, write_model_file
from pipeline.evaluate import LabelledPassage, load_labelled, prf
from pipeline.stance.model import COMMITMENTS, STANCES, StanceModel

REPO = Path(__file__).resolve().parent.parent.parent
DEFAULT_STANCE_SET = REPO / "corpora" / "labelled" / "stance.jsonl"
DEFAULT_STANCE_MODEL = REPO / "outputs" / "model" / "stance.npz"
DEFAULT_FOLDS = 5
#: A second coder's blind labels of a sample of the set (docs/stance-labelling.md, "Second coding").
DEFAULT_SECOND_CODING = DEFAULT_STANCE_SET.with_name("stance-second-coder.jsonl")


def stance_passages(path: Path = DEFAULT_STANCE_SET) -> list[LabelledPassage]:
    """The labelled passages that carry a stance and a commitment for at least one item."""
    return [p for p in load_labelled(path) if p.stance and p.commitment]


def passage_label(labels: dict[str, str]) -> str:
    """The label a passage trains with: the one most of its items carry (ties: the first item's)."""
    counts = Counter(labels.values())
    best = max(counts.values())
    return next(value for value in labels.values() if counts[value] == best)


def fit_model(passages: list[LabelledPassage], **settings) -> StanceModel:
    return StanceModel(**settings).fit([p.text for p in passages], [passage_label(p.stance) for p in passages],
                                       [passage_label(p.commitment) for p in passages])


def training_sha256(path: Path = DEFAULT_STANCE_SET) -> str:
    """What a stance model is trained from: the labelled set, this package's code and the version."""
    digest = hashlib.sha256(path.read_bytes())
    for source in sorted(Path(__file__).resolve().parent.glob("*.py")):
        digest.update(source.name.encode() + b"\0" + source.read_bytes())
    digest.update(__version__.encode())
    return digest.hexdigest()


def save_stance_model(model: StanceModel, path: Path, *, training: str) -> None:
    arrays, meta = model.to_state()
    write_model_file(path, arrays, {**meta, "version": __version__, "training_sha256": training})


def load_stance_model(path: Path, *, training: str | None = None) -> StanceModel | None:
    """The saved model, or None when missing or trained from other data or code; ModelFileError if not a model."""
    if not path.exists():
        return None
    arrays, meta = read_model_file(path)
    if meta.get("version") != __version__ or (training is not None and meta.get("training_sha256") != training):
        return None
    try:
        return StanceModel.from_state(arrays, meta)
    except (KeyError, TypeError, ValueError):
        return None


def ensure_stance_model(path: Path = DEFAULT_STANCE_MODEL, *, say: Callable[[str], None] = print) -> StanceModel:
    """The model at `path`, trained from the labelled set and saved first when it is missing or stale."""
    current = training_sha256()
    saved = load_stance_model(path, training=current)
    if saved is not None:
        return saved
    passages = stance_passages()
    say(f"training the stance and commitment models on {len(passages)} labelled passages (no current model at "
        f"{path}); a few seconds")
    model = fit_model(passages)
    save_stance_model(model, path, training=current)
    return model


# ---- figures ----------------------------------------------------------------------------------------------


def cross_validate(passages: list[LabelledPassage], *, folds: int = DEFAULT_FOLDS, **settings) -> dict:
    """Stance and commitment figures by cross-validation grouped by source document, per passage x item."""
    groups = [p.doc or p.id for p in passages]
    predicted: list[tuple[str, str]] = [("", "")] * len(passages)
    splitter = GroupKFold(n_splits=min(folds, len(set(groups))))
    for train_rows, test_rows in splitter.split(passages, groups=groups):
        model = fit_model([passages[row] for row in train_rows], **settings)
        for row, reading in zip(test_rows, model.predict([passages[row].text for row in test_rows]), strict=True):
            predicted[row] = (reading.stance.value, reading.commitment.value)
    report = reading_figures(passages, predicted)
    report["cross_validation"] = {"scheme": f"{splitter.get_n_splits()} folds grouped by source document",
                                  "passages": len(passages), "groups": len(set(groups))}
    by_origin: dict[str, list[int]] = {}
    for row, passage in enumerate(passages):
        by_origin.setdefault("written" if passage.synthetic else "real", []).append(row)
    report["by_origin"] = {origin: reading_figures([passages[r] for r in rows], [predicted[r] for r in rows])
                           for origin, rows in sorted(by_origin.items())}
    return report


def reading_figures(passages: list[LabelledPassage], predicted: list[tuple[str, str]]) -> dict:
    """Accuracy, per-class P/R/F1 and macro-F1 of stance and commitment, one decision per passage x item."""
    return {"stance": class_figures(*gold_and_guess(passages, predicted, "stance"), STANCES),
            "commitment": class_figures(*gold_and_guess(passages, predicted, "commitment"), COMMITMENTS)}


def class_figures(gold: list[str], predicted: list[str], classes: tuple[str, ...]) -> dict:
    """Accuracy, per-class P/R/F1 with support, macro-F1 over the classes present in gold, and the confusion."""
    gold_array, predicted_array = np.array(gold), np.array(predicted)
    per_class = {}
    for label in classes:
        tp = int(((gold_array == label) & (predicted_array == label)).sum())
        fp = int(((gold_array != label) & (predicted_array == label)).sum())
        fn = int(((gold_array == label) & (predicted_array != label)).sum())
        per_class[label] = {**prf(tp, fp, fn), "support": int((gold_array == label).sum())}
    present = [label for label in classes if per_class[label]["support"]]
    confusion = {g: {p: int(((gold_array == g) & (predicted_array == p)).sum()) for p in classes} for g in classes}
    return {"decisions": len(gold), "accuracy": float((gold_array == predicted_array).mean()) if gold else 0.0,
            "macro_f1": float(np.mean([per_class[label]["f1"] for label in present])) if present else 0.0,
            "per_class": per_class, "confusion": confusion}


def gold_figures(passages: list[LabelledPassage], model: StanceModel) -> dict:
    """The model's stance and commitment figures on gold passages that carry them (`eval --gold`)."""
    labelled = [p for p in passages if p.stance or p.commitment]
    readings = model.predict([p.text for p in labelled])
    figures = reading_figures(labelled, [(reading.stance.value, reading.commitment.value) for reading in readings])
    seen = {p.text for p in stance_passages()}
    return {"passages": len(labelled), **figures, "in_training_set": sum(p.text in seen for p in labelled)}


def gold_and_guess(passages: list[LabelledPassage], predicted: list[tuple[str, str]],
                   task: str) -> tuple[list[str], list[str]]:
    """Gold and predicted labels of one task, one pair per passage x item that the gold labels."""
    gold, guess = [], []
    for passage, reading in zip(passages, predicted, strict=True):
        for value in getattr(passage, task).values():
            gold.append(value)
            guess.append(reading[0 if task == "stance" else 1])
    return gold, guess


def format_stance_figures(figures: dict) -> str:
    """Per-class lines for stance and commitment; the last line is `stance_accuracy=… commitment_macro_f1=…`."""
    lines = []
    for task in ("stance", "commitment"):
        task_figures = figures[task]
        lines += [f"{task} ({task_figures['decisions']} passage x item decisions): accuracy "
                  f"{task_figures['accuracy']:.3f}, macro-F1 {task_figures['macro_f1']:.3f}",
                  "  class        support     P      R     F1"]
        for label, row in task_figures["per_class"].items():
            lines.append(f"  {label:12s} {row['support']:7d}  {row['precision']:.3f}  {row['recall']:.3f}  "
                         f"{row['f1']:.3f}")
        lines.append("")
    for task, agreement in figures.get("second_coder", {}).items():
        lines.append(f"second coder, {task}: {agreement['agreement']:.3f} agreement, kappa {agreement['kappa']:.3f} "
                     f"on {agreement['pairs']} passage x item pairs")
    opposes = figures["stance"]["per_class"]["opposes"]
    lines.append(f"stance_accuracy={figures['stance']['accuracy']:.3f} opposes_precision={opposes['precision']:.3f} "
                 f"opposes_recall={opposes['recall']:.3f} "
                 f"commitment_macro_f1={figures['commitment']['macro_f1']:.3f}")
    return "\n".join(lines)


def stance_agreement(first: Path = DEFAULT_STANCE_SET, second: Path = DEFAULT_SECOND_CODING) -> dict:
    """How far a second coder's stance and commitment labels agree with the first's (the models' ceiling).

    Per passage x item both labelled (passages matched by id): raw agreement and Cohen's kappa, overall and by
    the passage's origin.
    """
    def records(path: Path) -> dict[str, dict]:
        with path.open(encoding="utf-8") as stream:
            return {record["id"]: record for record in map(json.loads, filter(str.strip, stream))}

    reference, other = records(first), records(second)
    report = {}
    for task in ("stance", "commitment"):
        pairs: dict[str, list[tuple[str, str]]] = {}
        for passage_id, coded in other.items():
            original = reference.get(passage_id)
            if original is None:
                continue
            for item_id, value in (coded.get(task) or {}).items():
                if item_id in (original.get(task) or {}):
                    pairs.setdefault(original.get("origin", ""), []).append((original[task][item_id], value))
        everything = [pair for origin in sorted(pairs) for pair in pairs[origin]]
        report[task] = {**agreement_of(everything),
                        "by_origin": {origin: agreement_of(found) for origin, found in sorted(pairs.items())}}
    return report


def agreement_of(pairs: list[tuple[str, str]]) -> dict:
    if not pairs:
        return {"pairs": 0, "agreement": 0.0, "kappa": 0.0}
    first, second = zip(*pairs, strict=True)
    same = sum(a == b for a, b in pairs) / len(pairs)
    kappa = 1.0 if same == 1.0 else float(cohen_kappa_score(first, second))
    return {"pairs": len(pairs), "agreement": round(same, 3), "kappa": round(kappa, 3)}
