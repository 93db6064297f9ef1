"""How far reviewers agree with the machine, from a run's reviewed verdicts: "proportion audited" and more.

Counted over the verdicts whose review is in force ("reviewed"; a note alone or a decision to review again
says nothing about the verdict). A verdict is positive when it is covered or partial. The machine's
precision is the share of its positives a reviewer kept positive; its recall the share of the reviewers'
positives the machine found. An item a reviewer says does not apply is counted as reviewed and left out of
precision and recall (it is neither a hit nor a miss).
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.types import ReferenceSet, Status

POSITIVE = frozenset({Status.COVERED.value, Status.PARTIAL.value})
IN_FORCE = "reviewed"


@dataclass
class Tally:
    """Reviewed verdicts of one scope (the run, a foundation, an item) against the machine's."""

    label: str
    verdicts: int = 0
    reviewed: int = 0
    same: int = 0
    true_positive: int = 0
    false_positive: int = 0
    false_negative: int = 0
    not_applicable: int = 0
    review_again: int = 0

    def add(self, status: str, machine_status: str) -> None:
        self.reviewed += 1
        self.same += status == machine_status
        if status == Status.NOT_APPLICABLE.value:
            self.not_applicable += 1
            return
        machine, reviewer = machine_status in POSITIVE, status in POSITIVE
        self.true_positive += machine and reviewer
        self.false_positive += machine and not reviewer
        self.false_negative += reviewer and not machine

    @property
    def share_reviewed(self) -> float | None:
        return ratio(self.reviewed, self.verdicts)

    @property
    def agreement(self) -> float | None:
        return ratio(self.same, self.reviewed)

    @property
    def precision(self) -> float | None:
        return ratio(self.true_positive, self.true_positive + self.false_positive)

    @property
    def recall(self) -> float | None:
        return ratio(self.true_positive, self.true_positive + self.false_negative)

    def figures(self) -> dict:
        return {"label": self.label, "verdicts": self.verdicts, "reviewed": self.reviewed,
                "share_reviewed": self.share_reviewed, "agreement": self.agreement, "precision": self.precision,
                "recall": self.recall, "true_positive": self.true_positive, "false_positive": self.false_positive,
                "false_negative": self.false_negative, "not_applicable": self.not_applicable,
                "review_again": self.review_again}


def ratio(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(part / whole, 3)


def agreement(store, reference: ReferenceSet) -> dict | None:
    """The run's, each foundation's and each reviewed item's figures; None when nothing was reviewed."""
    reviewed = store.reviewed_verdicts()
    if not reviewed:
        return None
    documents = len(store.documents())
    whole = Tally("all items", verdicts=store.verdict_count())
    groups: dict[str, Tally] = {}
    items: dict[str, Tally] = {}
    for item in reference.items:
        group = groups.setdefault(f"{item.framework}:{item.group}", Tally(item.group))
        group.verdicts += documents
        items[item.id] = Tally(item.id, verdicts=documents)
    for item_id, status, machine_status, state in reviewed:
        item = reference.item(item_id)
        scopes = (whole, groups[f"{item.framework}:{item.group}"], items[item_id])
        for scope in scopes:
            if state == IN_FORCE:
                scope.add(status, machine_status)
            elif state == "review again":
                scope.review_again += 1
    return {"overall": whole.figures(),
            "by_group": [tally.figures() for tally in groups.values() if tally.reviewed or tally.review_again],
            "by_item": [tally.figures() for tally in items.values() if tally.reviewed or tally.review_again]}
