"""Labelled passages -> accuracy figures: passage level, document level, calibration.

Definitions (so a figure can be recomputed by hand):
- passage level: every gold line x every reference item is one decision. Micro
  P/R/F1 pool the true/false positives and false negatives over all items;
  macro averages the per-item F1 over the items that occur in the gold labels
  or the predictions (an item predicted but never in gold counts with F1 = 0).
  P (or R) with nothing predicted (or nothing to find) is 0.
- document level: lines with the same `doc` form a document; in gold, an item is
  covered by a document if any of its lines has it; in predictions, the document's
  verdict is the decision rule's (pipeline/decide.py: the same relevance and
  document gates `map` applies, see `document_verdicts`); P/R/F1 are micro
  figures over document x item pairs.
- calibration: the Brier score is the mean of (confidence - truth)^2 over all
  line x item pairs; the reliability table bins those pairs by confidence and
  reports, per bin, the mean confidence and the share that were truly labelled.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pipeline.types import REF_ID_PATTERN, Commitment, ReferenceItem, Stance

RELIABILITY_BINS = 10
STANCE_VALUES = frozenset(stance.value for stance in Stance)
COMMITMENT_VALUES = frozenset(kind.value for kind in Commitment)


class GoldFileError(ValueError):
    """A gold file cannot be scored; the message names the file and line."""


@dataclass(frozen=True)
class LabelledPassage:
    """One labelled line: its text, the items it covers, and where it came from."""

    id: str
    text: str
    labels: frozenset[str]
    doc: str | None = None
    synthetic: bool = False
    strength: dict = field(default_factory=dict, compare=False, hash=False)
    #: gold stance and commitment per item (docs/stance-labelling.md), when the file carries them
    stance: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    commitment: dict[str, str] = field(default_factory=dict, compare=False, hash=False)


def load_labelled(path: Path | str, known_ids: set[str] | None = None) -> list[LabelledPassage]:
    """Read a JSONL file of labelled passages; any fault is an error naming the line."""
    path = Path(path)
    try:
        # -sig: files saved by Windows tools start with a BOM. Split at newlines only: JSON strings may hold
        # U+2028 or U+0085 unescaped, which str.splitlines() would also break at.
        lines = path.read_text(encoding="utf-8-sig").split("\n")
    except (OSError, UnicodeDecodeError) as error:
        raise GoldFileError(f"{path}: cannot be read ({error})") from error
    passages = []
    for number, line in enumerate(lines, start=1):
        if line.strip():
            passages.append(parse_line(line, path, number, known_ids))
    if not passages:
        raise GoldFileError(f"{path}: no labelled passages (the file is empty)")
    return passages


def parse_line(line: str, path: Path, number: int, known_ids: set[str] | None) -> LabelledPassage:
    where = f"{path}:{number}"
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise GoldFileError(f"{where}: not valid JSON ({error.msg})") from error
    if not isinstance(record, dict):
        raise GoldFileError(f"{where}: expected a JSON object with 'text' and 'labels'")
    text, labels = record.get("text"), record.get("labels")
    if not isinstance(text, str) or not text.strip():
        raise GoldFileError(f"{where}: 'text' must be a non-empty string")
    if not isinstance(labels, list) or not all(isinstance(label, str) for label in labels):
        raise GoldFileError(f"{where}: 'labels' must be a list of reference ids")
    unknown = sorted(label for label in labels
                     if not REF_ID_PATTERN.fullmatch(label) or (known_ids is not None and label not in known_ids))
    if unknown:
        raise GoldFileError(f"{where}: unknown reference id(s) {unknown}")
    if not isinstance(record.get("synthetic", False), bool):
        raise GoldFileError(f"{where}: 'synthetic' must be true or false")
    # the real-register set names a passage's page `source`, the stance set its document's `group`
    doc = record.get("doc", record.get("source", record.get("group")))
    stance = reading_labels(record, "stance", STANCE_VALUES, set(labels), where)
    commitment = reading_labels(record, "commitment", COMMITMENT_VALUES, set(labels), where)
    return LabelledPassage(id=str(record.get("id", f"line-{number}")), text=text, labels=frozenset(labels),
                           doc=str(doc) if doc is not None else None, synthetic=bool(record.get("synthetic", False)),
                           strength=record.get("strength") or {}, stance=stance, commitment=commitment)


def reading_labels(record: dict, key: str, values: frozenset[str], labels: set[str], where: str) -> dict[str, str]:
    """A line's gold stance or commitment per item: only for items it is labelled with, only known values."""
    found = record.get(key) or {}
    if not isinstance(found, dict):
        raise GoldFileError(f"{where}: '{key}' must map item ids to values ({', '.join(sorted(values))})")
    for item_id, value in found.items():
        if item_id not in labels:
            raise GoldFileError(f"{where}: '{key}' names {item_id!r}, which is not in the line's 'labels'")
        if value not in values:
            raise GoldFileError(f"{where}: {key} {value!r} for {item_id}; one of {', '.join(sorted(values))}")
    return dict(found)


def prf(tp: int, fp: int, fn: int) -> dict:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "tp": tp, "fp": fp, "fn": fn}


def coder_agreement(first: list[LabelledPassage], second: list[LabelledPassage]) -> dict:
    """How far a second coder's labels agree with the first's, on the passages both labelled (matched by id).

    Scored like the classifier (micro P/R/F1 over passage x item labels, the first coder as reference), so the
    figure is the ceiling a classifier trained and scored on these labels can be expected to reach.
    """
    for coder in (first, second):
        repeated = sorted(identifier for identifier, count in Counter(p.id for p in coder).items() if count > 1)
        if repeated:
            raise GoldFileError("passage ids must be unique to match coders' labels: repeated "
                                f"{', '.join(repeated[:5])}")
    reference = {passage.id: passage.labels for passage in first}
    missing = [passage.id for passage in second if passage.id not in reference]
    if missing:
        raise GoldFileError(f"second coder's passages not in the first coder's set: {', '.join(missing[:5])}")
    tp = sum(len(reference[p.id] & p.labels) for p in second)
    fp = sum(len(p.labels - reference[p.id]) for p in second)
    fn = sum(len(reference[p.id] - p.labels) for p in second)
    same_any = sum(bool(reference[p.id]) == bool(p.labels) for p in second)
    return {"passages": len(second), **prf(tp, fp, fn), "covers_anything_agreement": same_any / len(second)}


def label_matrix(label_sets: list[frozenset[str]] | list[set[str]], item_ids: list[str]) -> np.ndarray:
    column = {item_id: index for index, item_id in enumerate(item_ids)}
    matrix = np.zeros((len(label_sets), len(item_ids)), dtype=bool)
    for row, labels in enumerate(label_sets):
        for label in labels:
            matrix[row, column[label]] = True
    return matrix


def per_item_scores(gold: np.ndarray, predicted: np.ndarray, item_ids: list[str]) -> dict[str, dict]:
    tp = (gold & predicted).sum(axis=0)
    fp = (~gold & predicted).sum(axis=0)
    fn = (gold & ~predicted).sum(axis=0)
    return {item_id: {**prf(int(tp[i]), int(fp[i]), int(fn[i])), "support": int(gold[:, i].sum())}
            for i, item_id in enumerate(item_ids)}


def summarise(scores: dict[str, dict]) -> dict:
    """Micro and macro figures over the given per-item scores."""
    tp = sum(s["tp"] for s in scores.values())
    fp = sum(s["fp"] for s in scores.values())
    fn = sum(s["fn"] for s in scores.values())
    micro = prf(tp, fp, fn)
    active = [s["f1"] for s in scores.values() if s["support"] or s["fp"]]
    return {"micro_precision": micro["precision"], "micro_recall": micro["recall"], "micro_f1": micro["f1"],
            "macro_f1": float(np.mean(active)) if active else 0.0, "items_scored": len(active),
            "tp": tp, "fp": fp, "fn": fn}


def reliability_table(confidence: np.ndarray, gold: np.ndarray, bins: int = RELIABILITY_BINS) -> list[dict]:
    edges = np.round(np.linspace(0.0, 1.0, bins + 1), 10)
    flat_conf, flat_gold = confidence.ravel(), gold.ravel()
    bin_index = np.clip(np.digitize(flat_conf, edges[1:-1], right=False), 0, bins - 1)
    table = []
    for b in range(bins):
        members = bin_index == b
        count = int(members.sum())
        table.append({"bin": f"{edges[b]:.1f}-{edges[b + 1]:.1f}", "count": count,
                      "mean_confidence": float(flat_conf[members].mean()) if count else None,
                      "observed_rate": float(flat_gold[members].mean()) if count else None})
    return table


def document_verdicts(passages: list[LabelledPassage], scores, rule) -> dict[str, np.ndarray]:
    """Which items each gold document covers by the decision rule, from its lines' scores (`PassageScores`)."""
    from pipeline.types import Status

    rows: dict[str, list[int]] = defaultdict(list)
    for row, passage in enumerate(passages):
        if passage.doc is not None:
            rows[passage.doc].append(row)
    return {doc: np.array([verdict.status is Status.COVERED for verdict in rule.item_verdicts(scores.rows(doc_rows))])
            for doc, doc_rows in rows.items()}


def evaluate(gold_passages: list[LabelledPassage], items: tuple[ReferenceItem, ...] | list[ReferenceItem],
             predicted: np.ndarray, confidence: np.ndarray, *, documents: dict[str, np.ndarray] | None = None) -> dict:
    """Every figure for predictions (bool) and confidences (0-1), both shaped [passages, items].

    `documents` maps each gold document to the items the decision rule says it covers; without it a
    document covers an item when any of its predicted lines does.
    """
    item_ids = [item.id for item in items]
    gold = label_matrix([p.labels for p in gold_passages], item_ids)
    scores = per_item_scores(gold, predicted, item_ids)
    report = {"passages": len(gold_passages), "items": len(item_ids),
              "passage": {**summarise(scores), "per_item": scores}}
    report["passage"]["per_framework"] = grouped(scores, {item.id: item.framework for item in items})
    report["passage"]["per_group"] = grouped(scores, {item.id: item.group for item in items})
    without_doc = sum(p.doc is None for p in gold_passages)
    if not without_doc:
        report["document"] = document_scores(gold_passages, gold, predicted, item_ids, documents)
    elif without_doc < len(gold_passages):  # said, not silently dropped: the file meant to have documents
        report["document_not_scored"] = (f"{without_doc} of {len(gold_passages)} passages have no 'doc' field, "
                                         "so document-level coverage is not scored")
    report["calibration"] = {"brier": float(np.mean((confidence - gold) ** 2)),
                             "reliability": reliability_table(confidence, gold)}
    return report


def grouped(scores: dict[str, dict], group_of: dict[str, str]) -> dict[str, dict]:
    groups: dict[str, dict[str, dict]] = defaultdict(dict)
    for item_id, score in scores.items():
        groups[group_of[item_id]][item_id] = score
    return {name: summarise(members) for name, members in groups.items()}


def document_scores(gold_passages: list[LabelledPassage], gold: np.ndarray, predicted: np.ndarray,
                    item_ids: list[str], documents: dict[str, np.ndarray] | None = None) -> dict:
    docs = sorted({p.doc for p in gold_passages})
    rows: dict[str, list[int]] = defaultdict(list)
    for index, passage in enumerate(gold_passages):
        rows[passage.doc].append(index)
    doc_gold = np.array([gold[rows[doc]].any(axis=0) for doc in docs])
    doc_predicted = np.array([documents[doc] if documents is not None else predicted[rows[doc]].any(axis=0)
                              for doc in docs])
    scores = per_item_scores(doc_gold, doc_predicted, item_ids)
    summary = summarise(scores)
    per_document = {doc: prf(int((doc_gold[d] & doc_predicted[d]).sum()),
                             int((~doc_gold[d] & doc_predicted[d]).sum()),
                             int((doc_gold[d] & ~doc_predicted[d]).sum())) for d, doc in enumerate(docs)}
    return {"documents": len(docs), "precision": summary["micro_precision"], "recall": summary["micro_recall"],
            "f1": summary["micro_f1"], "per_document": per_document}


def format_report(report: dict) -> str:
    """A plain-text report; its last line is exactly `micro_f1=0.XXX macro_f1=0.XXX`."""
    passage = report["passage"]
    lines = [f"passages: {report['passages']}  items: {report['items']}",
             "", "passage level",
             f"  micro  P={passage['micro_precision']:.3f} R={passage['micro_recall']:.3f} "
             f"F1={passage['micro_f1']:.3f}",
             f"  macro  F1={passage['macro_f1']:.3f} over {passage['items_scored']} items", "", "  per framework"]
    for name, figures in passage["per_framework"].items():
        lines.append(f"    {name:24s} P={figures['micro_precision']:.3f} R={figures['micro_recall']:.3f} "
                     f"F1={figures['micro_f1']:.3f} macro-F1={figures['macro_f1']:.3f}")
    lines += ["", "  per foundation / group"]
    for name, figures in passage["per_group"].items():
        lines.append(f"    {name:24s} P={figures['micro_precision']:.3f} R={figures['micro_recall']:.3f} "
                     f"F1={figures['micro_f1']:.3f} macro-F1={figures['macro_f1']:.3f}")
    lines += ["", "  per item            support     P      R     F1"]
    for item_id, s in passage["per_item"].items():
        lines.append(f"    {item_id:16s} {s['support']:7d}  {s['precision']:.3f}  {s['recall']:.3f}  {s['f1']:.3f}")
    if "document_not_scored" in report:
        lines += ["", f"document level: {report['document_not_scored']}"]
    if "document" in report:
        d = report["document"]
        lines += ["", f"document level ({d['documents']} documents)",
                  f"  P={d['precision']:.3f} R={d['recall']:.3f} F1={d['f1']:.3f}"]
        for name, figures in report.get("document_by_set", {}).items():
            lines.append(f"  {name:24s} ({figures['documents']}) P={figures['precision']:.3f} "
                         f"R={figures['recall']:.3f} F1={figures['f1']:.3f}")
    if "off_topic_documents" in report:
        off = report["off_topic_documents"]
        lines += ["", f"written off-topic documents ({off['documents']}, each scored by models that never saw it): "
                      f"{off['covered_per_document']:.3f} covered verdicts per document, "
                      f"{off['documents_with_any_covered']} with any"]
    if "zero_shot" in report:
        lines += ["", *format_zero_shot(report["zero_shot"])]
    calibration = report["calibration"]
    lines += ["", f"calibration: Brier={calibration['brier']:.4f}", "  confidence   count   mean conf   observed"]
    for row in calibration["reliability"]:
        if row["count"]:
            lines.append(f"    {row['bin']}  {row['count']:7d}     {row['mean_confidence']:.3f}      "
                         f"{row['observed_rate']:.3f}")
    lines += ["", f"micro_f1={passage['micro_f1']:.3f} macro_f1={passage['macro_f1']:.3f}"]
    return "\n".join(lines)


def format_zero_shot(zero: dict) -> list[str]:
    """The zero-shot figures beside the learned ones: the same passages, every item scored as if unlabelled."""
    passage = zero["passage"]
    lines = ["zero-shot (the same folds; every item scored by quotation and calibrated similarity to its text, "
             "as if it had no labelled examples)",
             f"  passage micro  P={passage['micro_precision']:.3f} R={passage['micro_recall']:.3f} "
             f"F1={passage['micro_f1']:.3f}  macro F1={passage['macro_f1']:.3f}"]
    if zero.get("document"):
        d = zero["document"]
        lines.append(f"  document level ({d['documents']} documents) P={d['precision']:.3f} R={d['recall']:.3f} "
                     f"F1={d['f1']:.3f}")
        for name, figures in zero.get("document_by_set", {}).items():
            lines.append(f"    {name:22s} ({figures['documents']}) P={figures['precision']:.3f} "
                         f"R={figures['recall']:.3f} F1={figures['f1']:.3f}")
    off = zero.get("off_topic_documents")
    if off:
        lines.append(f"  written off-topic documents: {off['covered_per_document']:.3f} covered verdicts per document")
    return lines


# ---- whole documents: mapping a folder and scoring its verdicts ------------------------------------------

#: The gold file a folder of held-back documents carries: one line per document (`doc`, `covered`, ...).
DOCUMENT_GOLD_FILE = "gold.jsonl"
#: Gold stance and commitment of the evidence passages a map of the folder offered (docs/stance-labelling.md).
STANCE_GOLD_FILE = "stance-gold.jsonl"
#: Files of such folders that describe the folder rather than being documents of it.
NOT_DOCUMENTS = frozenset({"README.md"})


def gold_records(path: Path) -> Iterator[tuple[int, object]]:
    """Each non-blank line of a JSON-lines gold file, parsed, with its line number (a byte order mark is fine)."""
    for number, line in enumerate(path.read_text(encoding="utf-8-sig").split("\n"), start=1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as error:
            raise GoldFileError(f"{path}:{number}: not valid JSON ({error.msg})") from error


def read_document_gold(path: Path, known_ids: set[str]) -> dict[str, dict]:
    """Per document name, its gold: `covered` (items it covers) and `mentioned_only` (items it only names)."""
    gold: dict[str, dict] = {}
    for number, record in gold_records(path):
        if not isinstance(record, dict) or not isinstance(record.get("doc"), str):
            raise GoldFileError(f"{path}:{number}: expected an object with 'doc' and 'covered'")
        covered = set(record.get("covered") or [])
        mentioned = set(record.get("mentioned_only") or [])
        unknown = sorted((covered | mentioned) - known_ids)
        if unknown:
            raise GoldFileError(f"{path}:{number}: unknown reference id(s) {unknown}")
        gold[record["doc"]] = {"covered": covered, "mentioned_only": mentioned}
    if not gold:
        raise GoldFileError(f"{path}: no documents")
    return gold


def passage_key(doc: str, item_id: str, text: str) -> tuple[str, str, str]:
    """How an evidence passage is found in the stance gold: its document, item and text with spaces collapsed."""
    return doc, item_id, " ".join(text.split())


def read_stance_gold(path: Path, known_ids: set[str]) -> dict[tuple[str, str, str], dict]:
    """Per (document, item, passage text), the gold stance and commitment; `about_item: false` lines are kept.

    A line the coders judged not to discuss the item (`"about_item": false`) has no stance to score: it is
    counted apart, so that a map's evidence the gold has read is never silently left out.
    """
    gold: dict[tuple[str, str, str], dict] = {}
    for number, record in gold_records(path):
        where = f"{path}:{number}"
        if not isinstance(record, dict) or not all(isinstance(record.get(key), str)
                                                   for key in ("doc", "item_id", "text")):
            raise GoldFileError(f"{where}: expected an object with 'doc', 'item_id' and 'text'")
        if record["item_id"] not in known_ids:
            raise GoldFileError(f"{where}: unknown reference id {record['item_id']!r}")
        about = record.get("about_item", True)
        if about and (record.get("stance") not in STANCE_VALUES or record.get("commitment") not in COMMITMENT_VALUES):
            raise GoldFileError(f"{where}: 'stance' must be one of {sorted(STANCE_VALUES)} and 'commitment' one of "
                                f"{sorted(COMMITMENT_VALUES)}")
        gold[passage_key(record["doc"], record["item_id"], record["text"])] = {
            "about_item": bool(about), "stance": record.get("stance"), "commitment": record.get("commitment")}
    return gold


def stance_on_evidence(verdicts: dict[str, list], gold: dict[tuple[str, str, str], dict]) -> dict:
    """The stance model's reading of every evidence passage a map offered, scored against the gold's.

    One decision per covered or partial verdict x evidence passage, as the report shows them: accuracy and
    per-class figures of stance and commitment, and how many evidence passages the gold has not read
    (a model that picks other evidence than the one labelled) or judged not to discuss the item.
    """
    from pipeline.stance.model import COMMITMENTS, STANCES
    from pipeline.stance.training import class_figures
    from pipeline.types import WITH_STANCE

    pairs: dict[str, tuple[list[str], list[str]]] = {"stance": ([], []), "commitment": ([], [])}
    unread = not_about = evidence_count = 0
    for name, coverages in verdicts.items():
        for coverage in coverages:
            if coverage.status not in WITH_STANCE:
                continue
            for evidence in coverage.evidence:
                if evidence.stance is None or evidence.commitment is None:
                    continue
                evidence_count += 1
                found = gold.get(passage_key(name, coverage.item.id, evidence.text))
                if found is None:
                    unread += 1
                elif not found["about_item"]:
                    not_about += 1
                else:
                    for task, value in (("stance", evidence.stance.value), ("commitment", evidence.commitment.value)):
                        pairs[task][0].append(found[task])
                        pairs[task][1].append(value)
    return {"evidence_passages": evidence_count, "not_in_gold": unread, "not_about_item": not_about,
            "stance": class_figures(*pairs["stance"], STANCES),
            "commitment": class_figures(*pairs["commitment"], COMMITMENTS)}


def map_folder(folder: Path, names: list[str] | None, classifier, reference, stance=None) -> dict[str, list]:
    """Map the documents of `folder` (only `names`, when given) in this process, as `map` maps each; {name: coverages}.

    Each file goes through the run's own per-document function (pipeline/run/document.py), so what is scored
    here is what a map would report; with a `stance` model, evidence is read for stance as a map reads it.
    """
    from pipeline.config import Settings
    from pipeline.extract import list_inputs
    from pipeline.run.document import MapContext, map_document
    from pipeline.types import SourceFile

    paths = [path for path in list_inputs(folder) if path.name not in NOT_DOCUMENTS
             and (names is None or path.name in names)]
    context = MapContext(reference=reference, classifier=classifier, settings=Settings(), fingerprint="eval",
                         stance=stance)
    verdicts = {}
    for index, path in enumerate(paths):
        result = map_document(SourceFile(index=index, path=str(path), name=path.name), context)
        if result.document is not None:
            verdicts[path.name] = list(result.coverages)
    return verdicts


def evaluate_folder(folder: Path, classifier, reference, *, off_topic: bool = False, stance=None) -> dict:
    """Map a folder of whole documents and score the verdicts, as a user would meet them.

    With a gold file (`gold.jsonl` in the folder), "covered" is scored against the items each document
    covers: precision, recall and F1 over document x item pairs, and how many covered verdicts fall on
    items the document only mentions. With `off_topic` every item of every document should be missing:
    the report counts covered (and partial) verdicts per document. With a `stance` model and a stance gold
    file (`stance-gold.jsonl`) in the folder, the stance read on each evidence passage is scored too.
    """
    from pipeline.types import Status

    folder = Path(folder)
    known = {item.id for item in reference.items}
    gold = None if off_topic else read_document_gold(folder / DOCUMENT_GOLD_FILE, known)
    verdicts = map_folder(folder, sorted(gold) if gold else None, classifier, reference, stance)
    per_document = {}
    for name, coverages in sorted(verdicts.items()):
        covered = {c.item.id for c in coverages if c.status is Status.COVERED}
        partial = {c.item.id for c in coverages if c.status is Status.PARTIAL}
        entry = {"covered": sorted(covered), "partial": sorted(partial)}
        if gold is not None:
            truth = gold[name]
            entry.update(prf(len(covered & truth["covered"]), len(covered - truth["covered"]),
                             len(truth["covered"] - covered)))
            entry["covered_but_only_mentioned"] = sorted(covered & truth["mentioned_only"])
            entry["missed"] = sorted(truth["covered"] - covered)
            entry["false_covered"] = sorted(covered - truth["covered"])
        per_document[name] = entry
    report = {"folder": str(folder), "documents": len(per_document), "per_document": per_document}
    if gold is not None:
        missing = sorted(set(gold) - set(verdicts))
        totals = prf(*(sum(entry[key] for entry in per_document.values()) for key in ("tp", "fp", "fn")))
        report.update({"scheme": "held-back documents", "not_mapped": missing, **totals,
                       "covered_but_only_mentioned": sum(len(e["covered_but_only_mentioned"])
                                                         for e in per_document.values())})
        stance_gold = folder / STANCE_GOLD_FILE
        if stance is not None and stance_gold.is_file():
            report["stance_reading"] = stance_on_evidence(verdicts, read_stance_gold(stance_gold, known))
    else:
        covered_total = sum(len(entry["covered"]) for entry in per_document.values())
        report.update({"scheme": "off-topic documents", "covered": covered_total,
                       "partial": sum(len(entry["partial"]) for entry in per_document.values()),
                       "covered_per_document": covered_total / len(per_document) if per_document else 0.0,
                       "documents_with_any_covered": sum(bool(entry["covered"]) for entry in per_document.values())})
    return report


def format_documents_report(report: dict) -> str:
    """A plain-text report of `evaluate_folder`; its last line holds the figure the scheme is judged by."""
    lines = [f"{report['scheme']}: {report['documents']} documents in {report['folder']}", ""]
    for name, entry in report["per_document"].items():
        if "precision" in entry:
            lines.append(f"  {name:48s} P={entry['precision']:.3f} R={entry['recall']:.3f} "
                         f"covered {len(entry['covered'])}; false {', '.join(entry['false_covered']) or '-'}; "
                         f"missed {', '.join(entry['missed']) or '-'}")
        else:
            lines.append(f"  {name:48s} covered {len(entry['covered'])} {', '.join(entry['covered'])}"
                         f"  partial {len(entry['partial'])}")
    lines.append("")
    if "stance_reading" in report:
        lines += stance_reading_lines(report["stance_reading"])
    if "precision" in report:
        lines.append(f"covered: precision={report['precision']:.3f} recall={report['recall']:.3f} "
                     f"f1={report['f1']:.3f} (tp {report['tp']}, fp {report['fp']}, fn {report['fn']}; "
                     f"{report['covered_but_only_mentioned']} covered verdicts on items only mentioned)")
    else:
        lines.append(f"covered verdicts={report['covered']} per_document={report['covered_per_document']:.3f} "
                     f"documents_with_any={report['documents_with_any_covered']}")
    return "\n".join(lines)


def stance_reading_lines(reading: dict) -> list[str]:
    """The stance gold's part of a held-back report: what was scored, then the per-class figures."""
    from pipeline.stance.training import format_stance_figures

    return [f"stance on evidence: {reading['evidence_passages']} evidence passages of covered or partial verdicts; "
            f"{reading['not_in_gold']} not in the stance gold, {reading['not_about_item']} judged by the coders "
            "not to discuss the item", "", format_stance_figures(reading), ""]
