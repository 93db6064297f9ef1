import pytest

from pipeline.config import Settings, StatusThresholds
from pipeline.coverage import compute_coverage
from pipeline.types import Coverage, Match, Passage, Signal, Status


def passage(n, doc="a.txt"):
    return Passage(id=f"{doc}#{n:04d}", doc=doc, page=n, start=0, end=10, heading="H", text=f"passage {n}")


class FakeDoc:
    def __init__(self, name):
        self.name = name


def run(matches, passages, reference_set, docs=("a.txt",)):
    return compute_coverage([FakeDoc(d) for d in docs], reference_set.items, passages, matches, Settings())


def by_item(coverages, doc="a.txt"):
    return {c.item.id: c for c in coverages if c.doc == doc}


def test_one_row_per_document_and_item_in_reference_order(reference_set):
    coverages = run([], [], reference_set, docs=("a.txt", "b.txt"))
    assert len(coverages) == 2 * 68
    assert [c.item.id for c in coverages[:68]] == [item.id for item in reference_set.items]
    assert all(c.status is Status.MISSING and not c.evidence for c in coverages)


def test_quote_covers_tfidf_grades_and_evidence_is_best_first(reference_set):
    passages = [passage(1), passage(2), passage(3)]
    matches = [
        Match("a.txt#0001", "CARE-3", 0.30, Signal.TFIDF, "siblings"),
        Match("a.txt#0002", "CARE-3", 0.97, Signal.QUOTE, "brothers and sisters"),
        Match("a.txt#0003", "CARE-6", 0.45, Signal.TFIDF, "moves"),
        Match("a.txt#0001", "CARE-8", 0.27, Signal.TFIDF, "language"),
        Match("a.txt#0002", "CARE-9", 0.20, Signal.TFIDF, "stories"),
    ]
    rows = by_item(run(matches, passages, reference_set))
    assert rows["CARE-3"].status is Status.COVERED
    assert [e.passage_id for e in rows["CARE-3"].evidence] == ["a.txt#0002", "a.txt#0001"]
    assert rows["CARE-3"].evidence[0].signal is Signal.QUOTE and rows["CARE-3"].evidence[0].page == 2
    assert rows["CARE-6"].status is Status.COVERED
    assert rows["CARE-8"].status is Status.PARTIAL
    assert rows["CARE-9"].status is Status.MISSING and rows["CARE-9"].evidence == ()


def test_corroboration_two_passages_make_covered_one_does_not(reference_set):
    passages = [passage(1), passage(2)]
    two = [Match("a.txt#0001", "CARE-21", 0.33, Signal.TFIDF, "secure"),
           Match("a.txt#0002", "CARE-21", 0.31, Signal.TFIDF, "secure care")]
    assert by_item(run(two, passages, reference_set))["CARE-21"].status is Status.COVERED
    one = two[:1]
    assert by_item(run(one, passages, reference_set))["CARE-21"].status is Status.PARTIAL


def test_evidence_is_capped_and_documents_are_kept_apart(reference_set):
    passages = [passage(n) for n in range(1, 6)] + [passage(1, doc="b.txt")]
    matches = [Match(p.id, "FAMILY-2", 0.5, Signal.TFIDF, "poverty") for p in passages]
    coverages = run(matches, passages, reference_set, docs=("a.txt", "b.txt"))
    assert len(by_item(coverages)["FAMILY-2"].evidence) == Settings().max_evidence
    assert [e.passage_id for e in by_item(coverages, "b.txt")["FAMILY-2"].evidence] == ["b.txt#0001"]


def test_thresholds_and_verdicts_validate_themselves(reference_set):
    with pytest.raises(ValueError):
        StatusThresholds(covered=0.2, partial=0.5)
    with pytest.raises(ValueError, match="needs evidence"):
        Coverage(doc="a", item=reference_set.items[0], status=Status.COVERED, score=1.0)
