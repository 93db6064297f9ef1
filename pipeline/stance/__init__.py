"""Stage 5, stance: where each evidence passage stands on its item's aim, and what it commits to.

Runs after coverage (pipeline/coverage.py) on the evidence of covered and partial items only, each passage
read once however many items it is evidence for, so it costs a small fraction of classification. The
document's stance and commitment on an item follow from its evidence (`Coverage.stance`, `.commitment`:
a document that supports and opposes an item is `mixed`, with both passages shown). A near miss is not
evidence, so it gets no stance.

The models (pipeline/stance/model.py) learn from corpora/labelled/stance.jsonl by the guide in
docs/stance-labelling.md; pipeline/stance/training.py trains, cross-validates and keeps them.
"""

from __future__ import annotations

from pipeline.stance.model import Reading, StanceModel
from pipeline.types import WITH_STANCE, Coverage

__all__ = ["Reading", "StanceModel", "read_stances"]


def read_stances(coverages: list[Coverage], model: StanceModel | None) -> list[Coverage]:
    """The verdicts with each evidence passage's stance and commitment filled in (unchanged without a model)."""
    if model is None:
        return coverages
    texts: dict[str, str] = {}
    for coverage in coverages:
        if coverage.status in WITH_STANCE:
            for evidence in coverage.evidence:
                texts.setdefault(evidence.passage_id, evidence.text)
    if not texts:
        return coverages
    readings = dict(zip(texts, model.labels(list(texts.values())), strict=True))
    return [coverage.with_readings(tuple(evidence.read_as(*readings[evidence.passage_id])
                                         for evidence in coverage.evidence))
            if coverage.status in WITH_STANCE and coverage.evidence else coverage
            for coverage in coverages]
