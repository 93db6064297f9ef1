"""The decision rule (pipeline/decide.py): from passage scores to verdicts, for `map` and `eval` alike."""

import dataclasses

import numpy as np
import pytest

from pipeline.config import StatusThresholds
from pipeline.decide import DecisionRule, PassageScores
from pipeline.types import Coverage, Status

ITEMS = 3


def scores(probabilities, *, quotes=None, relevance=None, words=None):
    probabilities = np.array(probabilities, dtype=float)
    rows = probabilities.shape[0]
    return PassageScores(probabilities=probabilities,
                         quotes=np.zeros_like(probabilities) if quotes is None else np.array(quotes, dtype=float),
                         relevance=np.ones(rows) if relevance is None else np.array(relevance, dtype=float),
                         words=np.full(rows, 20) if words is None else np.array(words))


def rule(**options):
    defaults = {"covered_at": np.full(ITEMS, 0.5), "partial_at": np.full(ITEMS, 0.3), "relevance_at": 0.7,
                "min_relevant_passages": 2, "min_words": 8}
    return DecisionRule(**{**defaults, **options})


def statuses(verdicts):
    return [verdict.status for verdict in verdicts]


def test_one_verdict_per_item_strongest_passage_first_and_a_near_miss_for_missing():
    verdicts = rule().item_verdicts(scores([[0.6, 0.35, 0.1], [0.9, 0.2, 0.05], [0.55, 0.1, 0.2]]))
    assert statuses(verdicts) == [Status.COVERED, Status.PARTIAL, Status.MISSING]
    assert verdicts[0].evidence == (1, 0, 2) and verdicts[0].score == pytest.approx(0.9)
    assert verdicts[1].evidence == (0,)
    assert verdicts[2].evidence == () and verdicts[2].near_miss == 2 and verdicts[2].score == pytest.approx(0.2)


def test_a_document_with_no_passages_misses_every_item():
    empty = scores(np.zeros((0, ITEMS)))
    assert statuses(rule().item_verdicts(empty)) == [Status.MISSING] * ITEMS


def test_a_passage_that_is_not_about_childrens_care_is_never_evidence():
    high = [[0.95, 0.0, 0.0], [0.1, 0.0, 0.0], [0.1, 0.0, 0.0]]
    assert statuses(rule().item_verdicts(scores(high, relevance=[0.2, 0.9, 0.9])))[0] is Status.MISSING
    assert not rule().passage_decisions(scores(high, relevance=[0.2, 0.9, 0.9]))[0, 0]


def test_a_short_fragment_is_context_not_evidence():
    high = [[0.95, 0.0, 0.0], [0.1, 0.0, 0.0], [0.1, 0.0, 0.0]]
    assert statuses(rule().item_verdicts(scores(high, words=[3, 20, 20])))[0] is Status.MISSING


def test_the_document_gate_needs_enough_relevant_passages_but_a_quotation_passes_it():
    one_relevant = scores([[0.95, 0.0, 0.0], [0.1, 0.0, 0.0]], relevance=[0.9, 0.1],
                          quotes=[[0.0, 0.0, 0.0], [0.0, 0.97, 0.0]])
    verdicts = rule().item_verdicts(one_relevant)
    assert verdicts[0].status is Status.MISSING  # one relevant passage: the document is not about children's care
    assert verdicts[1].status is Status.COVERED and verdicts[1].quoted  # a quotation of the item is explicit
    assert rule(min_relevant_passages=1).item_verdicts(one_relevant)[0].status is Status.COVERED


def test_evidence_is_capped_best_first():
    many = scores(np.tile([[0.8, 0.0, 0.0]], (6, 1)) + np.arange(6)[:, None] * [0.01, 0, 0])
    verdict = rule(max_evidence=3).item_verdicts(many)[0]
    assert verdict.evidence == (5, 4, 3)


def test_passage_and_document_decisions_agree_for_a_one_passage_document():
    one = scores([[0.7, 0.4, 0.1]])
    assert rule(min_relevant_passages=1).passage_decisions(one).tolist() == [[True, False, False]]
    assert statuses(rule(min_relevant_passages=1).item_verdicts(one))[0] is Status.COVERED


def test_rules_and_verdicts_validate_themselves(reference_set):
    with pytest.raises(ValueError):
        rule(covered_at=np.full(ITEMS, 0.2), partial_at=np.full(ITEMS, 0.5))
    with pytest.raises(ValueError):
        PassageScores(np.zeros((2, 3)), np.zeros((2, 3)), np.zeros(1), np.zeros(2))
    with pytest.raises(ValueError):
        StatusThresholds(covered=0.2, partial=0.5)
    with pytest.raises(ValueError, match="needs evidence"):
        Coverage(doc="a", item=reference_set.items[0], status=Status.COVERED, score=1.0)


def test_a_short_document_needs_only_a_share_of_its_passages_to_be_relevant():
    """A three-paragraph consultation answer about siblings is not shut out by the gate for being short."""
    short = scores([[0.9, 0.0, 0.0], [0.1, 0.0, 0.0], [0.1, 0.0, 0.0]], relevance=[0.9, 0.1, 0.1])
    gated = rule(min_relevant_passages=3, min_relevant_share=0.25)
    assert gated.relevant_passages_needed(short) == 1 and gated.item_verdicts(short)[0].status is Status.COVERED
    long = scores(np.vstack([[[0.9, 0.0, 0.0]], np.tile([[0.1, 0.0, 0.0]], (39, 1))]),
                  relevance=[0.9] + [0.1] * 39)
    assert gated.relevant_passages_needed(long) == 3 and gated.item_verdicts(long)[0].status is Status.MISSING


def test_a_long_document_needs_relevant_passages_well_above_the_chance_rate():
    """A book of hundreds of passages with a few that look relevant by chance covers nothing."""
    book = scores(np.vstack([np.tile([[0.9, 0.0, 0.0]], (5, 1)), np.tile([[0.1, 0.0, 0.0]], (495, 1))]),
                  relevance=[0.9] * 5 + [0.1] * 495)
    gated = rule(min_relevant_passages=3, min_relevant_share=0.25, min_relevant_rate=0.02)
    assert gated.relevant_passages_needed(book) == 10 and gated.item_verdicts(book)[0].status is Status.MISSING


def test_a_document_needs_its_document_threshold_while_a_passage_needs_the_passage_threshold():
    """0.6 reaches the passage threshold (0.5) but not the document's (0.7): the passage is partial evidence."""
    document_rule = rule(document_covered_at=np.full(ITEMS, 0.7))
    passages = scores([[0.6, 0.8, 0.1], [0.55, 0.2, 0.1]])
    assert document_rule.passage_decisions(passages)[:, 0].tolist() == [True, True]
    assert statuses(document_rule.item_verdicts(passages)) == [Status.PARTIAL, Status.COVERED, Status.MISSING]


def test_a_passage_outside_the_domain_is_never_evidence():
    in_and_out = PassageScores(probabilities=np.array([[0.9, 0.0, 0.0], [0.9, 0.0, 0.0], [0.9, 0.0, 0.0]]),
                               quotes=np.zeros((3, ITEMS)), relevance=np.ones(3), words=np.full(3, 20),
                               domain=np.array([0.9, 0.2, 0.8]))
    assert rule(domain_at=0.5).relevant(in_and_out).tolist() == [True, False, True]
    assert rule(domain_at=0.5, min_relevant_passages=3).item_verdicts(in_and_out)[0].status is Status.MISSING


def domain_scores(domain, *, words=None, relevance=None):
    """Passages that all reach item 0 strongly, with the given domain probabilities."""
    rows = len(domain)
    return PassageScores(probabilities=np.tile([[0.9, 0.0, 0.0]], (rows, 1)), quotes=np.zeros((rows, ITEMS)),
                         relevance=np.ones(rows) if relevance is None else np.array(relevance, dtype=float),
                         words=np.full(rows, 20) if words is None else np.array(words),
                         domain=np.array(domain, dtype=float))


def test_a_passage_counts_in_a_document_only_where_the_stretch_around_it_is_about_care():
    """A paragraph that reads like a care document's, among paragraphs that do not, is not evidence."""
    book = domain_scores([0.1, 0.1, 0.1, 0.9, 0.1, 0.1, 0.1, 0.95, 0.9, 0.8, 0.9, 0.1])
    windowed = rule(domain_at=0.5, domain_window=2, min_relevant_passages=1)
    assert windowed.relevant(book)[3]  # alone, the lone paragraph is in the domain
    # the last passage's stretch (0.8, 0.9, 0.1) is about care; the passage itself is not
    assert windowed.in_domain_stretch(book).tolist() == [False] * 7 + [True] * 5
    assert windowed.relevant_in_document(book).tolist() == [False] * 7 + [True] * 4 + [False]
    assert windowed.item_verdicts(book)[0].evidence == (7, 8, 9)
    assert rule(domain_at=0.5, min_relevant_passages=1).item_verdicts(book)[0].evidence == (3, 7, 8)  # no window


def test_the_stretch_skips_passages_too_short_to_be_evidence_and_a_lone_care_passage_is_all_its_stretch():
    table_between = domain_scores([0.9, 0.0, 0.0, 0.0, 0.8, 0.1], words=[20, 3, 3, 3, 20, 20])
    windowed = rule(domain_at=0.5, domain_window=1, min_relevant_passages=1)
    # the table's cells are not in any stretch and do not drag the two paragraphs around them out of it
    assert windowed.in_domain_stretch(table_between).tolist() == [True, False, False, False, True, False]
    assert windowed.in_domain_stretch(domain_scores([0.7])).tolist() == [True]
    assert rule(domain_at=0.5, domain_window=2).in_domain_stretch(
        PassageScores(np.zeros((2, ITEMS)), np.zeros((2, ITEMS)), np.ones(2), np.full(2, 20))).all()  # no model


def test_a_short_section_about_care_in_a_document_about_other_things_still_counts():
    """A council plan's three paragraphs on children among twenty on roads and housing: each paragraph's
    stretch (two either side) is mostly care, so the section is evidence; three passages either side would not."""
    plan = domain_scores([0.1] * 10 + [0.9] * 3 + [0.1] * 10)
    windowed = rule(domain_at=0.5, domain_window=2, min_relevant_passages=3)
    assert windowed.in_domain_stretch(plan).tolist() == [False] * 10 + [True] * 3 + [False] * 10
    verdict = windowed.item_verdicts(plan)[0]
    assert verdict.status is Status.COVERED and verdict.evidence == (10, 11, 12)
    assert not rule(domain_at=0.5, domain_window=3).in_domain_stretch(plan)[10:13].any()


def test_the_document_gate_counts_only_passages_in_a_stretch_about_care():
    scattered = domain_scores([0.9, 0.1, 0.1, 0.1, 0.9, 0.1, 0.1, 0.1, 0.9, 0.1, 0.1, 0.1])
    assert rule(domain_at=0.5, min_relevant_passages=3).document_passes_gate(scattered)
    windowed = rule(domain_at=0.5, domain_window=1, min_relevant_passages=3)
    assert not windowed.document_passes_gate(scattered)
    assert windowed.item_verdicts(scattered)[0].status is Status.MISSING


@pytest.mark.parametrize(("words", "relevance", "domain", "reason"), [
    ([3, 20, 20], [0.9, 0.9, 0.9], [0.9, 0.9, 0.9], "too short to be evidence (3 words"),
    ([20, 20, 20], [0.4, 0.9, 0.9], [0.9, 0.9, 0.9], "does not read as covering an item's aim (relevance 0.40"),
    ([20, 20, 20], [0.9, 0.9, 0.9], [0.3, 0.9, 0.9], "not about children's care (domain 0.30, needs 0.50)"),
])
def test_a_missing_items_near_miss_says_which_gate_keeps_it_from_being_evidence(words, relevance, domain, reason):
    """A near miss scoring 0.95 against a threshold of 0.5 is not left unexplained."""
    gated = PassageScores(probabilities=np.array([[0.95, 0.0, 0.0], [0.1, 0.0, 0.0], [0.1, 0.0, 0.0]]),
                          quotes=np.zeros((3, ITEMS)), relevance=np.array(relevance), words=np.array(words),
                          domain=np.array(domain))
    verdict = rule(domain_at=0.5, min_relevant_passages=1).item_verdicts(gated)[0]
    assert verdict.status is Status.MISSING and verdict.near_miss == 0
    assert verdict.near_miss_reason.startswith(reason)


def test_a_near_miss_outside_a_stretch_about_care_or_in_a_gated_document_says_so():
    weak, strong = [[0.2, 0.0, 0.0]] * 2, [[0.95, 0.0, 0.0]]
    book = dataclasses.replace(domain_scores([0.1, 0.1, 0.9, 0.1, 0.1]), probabilities=np.array(weak + strong + weak))
    windowed = rule(domain_at=0.5, domain_window=2, min_relevant_passages=1)
    assert windowed.item_verdicts(book)[0].near_miss_reason == "the passages around it are not about children's care"
    one_relevant = scores([[0.95, 0.0, 0.0], [0.1, 0.0, 0.0]], relevance=[0.9, 0.1])
    assert rule(min_relevant_passages=2).item_verdicts(one_relevant)[0].near_miss_reason == (
        "the document says too little about children's care for any passage to count")
    low = rule().item_verdicts(scores([[0.1, 0.0, 0.0], [0.2, 0.0, 0.0]]))[0]
    assert low.status is Status.MISSING and low.near_miss_reason == ""  # its score is the reason
    short_and_low = rule().item_verdicts(scores([[0.25, 0.0, 0.0], [0.1, 0.0, 0.0]], words=[3, 20]))[0]
    assert short_and_low.near_miss == 0 and short_and_low.near_miss_reason == ""  # below partial: the score is


def test_the_document_threshold_is_chosen_for_precision_and_never_below_the_passage_threshold():
    from pipeline.classify.calibrate import choose_document_threshold

    # two documents x one item: a true one at 0.8, a false one at 0.5; passages of 20 words
    probabilities = np.array([[0.8], [0.1], [0.5], [0.2]])
    targets = np.array([[1], [0], [0], [0]])
    groups = ["doc:a", "doc:a", "doc:b", "doc:b"]
    chosen = choose_document_threshold(probabilities, targets, groups, np.ones(4, dtype=bool), floor=0.3)
    assert 0.5 < chosen <= 0.8
    assert choose_document_threshold(probabilities, targets, groups, np.ones(4, dtype=bool), floor=0.9) == 0.9
