"""Reviewers' decisions on evidence passages as labelled passages, for `train --reviews` and `eval --reviews`.

A passage accepted as evidence for an item is a positive example of it; one rejected is a negative. A
reviewed passage becomes one labelled passage whose labels are the items it was accepted for; a passage
only ever rejected has none, as every unlabelled training passage has (the label set of a training passage
is all the model knows of it). Each is grouped by its document, so cross-validation keeps a document's
passages together. The text is the passage as the run read it, recorded with the decision.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.evaluate import LabelledPassage
from pipeline.review.store import ReviewStore
from pipeline.types import EvidenceDecision

REVIEW_DOC_PREFIX = "review:"


@dataclass(frozen=True)
class Judgement:
    """One reviewer decision on one passage as evidence for one item."""

    text: str
    item_id: str
    accepted: bool
    doc: str


def judgements(store: ReviewStore, known_items: set[str] | None = None) -> list[Judgement]:
    """Every accept / reject decision in force, on items of `known_items` (all when None), oldest first."""
    found = []
    for decision in store.latest():
        if not decision.on_passage or not decision.passage_text.strip():
            continue
        if known_items is not None and decision.item_id not in known_items:
            continue
        found.append(Judgement(text=decision.passage_text, item_id=decision.item_id,
                               accepted=decision.decision == EvidenceDecision.ACCEPTED.value,
                               doc=f"{REVIEW_DOC_PREFIX}{decision.doc_id}"))
    return found


def reviewed_passages(store: ReviewStore, known_items: set[str] | None = None) -> list[LabelledPassage]:
    """One labelled passage per reviewed passage text of a document: labelled with the items it was accepted for."""
    labels: dict[tuple[str, str], set[str]] = {}
    for judgement in judgements(store, known_items):
        accepted = labels.setdefault((judgement.doc, judgement.text), set())
        if judgement.accepted:
            accepted.add(judgement.item_id)
    return [LabelledPassage(id=f"review-{number:05d}", text=text, labels=frozenset(items), doc=doc)
            for number, ((doc, text), items) in enumerate(labels.items(), start=1)]


def review_figures(classifier, found: list[Judgement], item_ids: list[str]) -> dict:
    """How the classifier's passage decisions stand against the reviewers': agreement, on accepted and rejected."""
    if not found:
        return {"judgements": 0}
    column = {item_id: index for index, item_id in enumerate(item_ids)}
    texts = list(dict.fromkeys(judgement.text for judgement in found))
    row = {text: index for index, text in enumerate(texts)}
    scores = classifier.score(texts).scores
    covers = classifier.rule.passage_decisions(scores)
    probabilities = np.clip(scores.probabilities, 0.0, 1.0)
    said = [(bool(covers[row[j.text], column[j.item_id]]), j.accepted,
             float(probabilities[row[j.text], column[j.item_id]])) for j in found]
    accepted = [covered for covered, kept, _ in said if kept]
    rejected = [covered for covered, kept, _ in said if not kept]
    return {"judgements": len(said), "accepted": len(accepted), "rejected": len(rejected),
            "agreement": round(sum(covered == kept for covered, kept, _ in said) / len(said), 3),
            "accepted_found": round(sum(accepted) / len(accepted), 3) if accepted else None,
            "rejected_still_covered": round(sum(rejected) / len(rejected), 3) if rejected else None,
            "mean_score_accepted": round(float(np.mean([p for _, kept, p in said if kept])), 3) if accepted else None,
            "mean_score_rejected": round(float(np.mean([p for _, kept, p in said if not kept])), 3)
            if rejected else None}


def format_review_figures(figures: dict) -> str:
    if not figures.get("judgements"):
        return "no accepted or rejected evidence passages in the review store: nothing to score"
    lines = [f"{figures['judgements']} reviewed evidence decisions ({figures['accepted']} accepted, "
             f"{figures['rejected']} rejected)",
             f"the model agrees with {figures['agreement']:.3f} of them"]
    if figures["accepted_found"] is not None:
        lines.append(f"accepted passages the model covers: {figures['accepted_found']:.3f} "
                     f"(mean score {figures['mean_score_accepted']:.3f})")
    if figures["rejected_still_covered"] is not None:
        lines.append(f"rejected passages the model still covers: {figures['rejected_still_covered']:.3f} "
                     f"(mean score {figures['mean_score_rejected']:.3f})")
    return "\n".join(lines + [f"review_agreement={figures['agreement']:.3f}"])
