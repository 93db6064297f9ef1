"""DocumentResults as plain JSON values and back, for the result cache (never pickle: a planted file runs no code).

Items are stored by id and looked up in the run's reference set when read back, so a cached result can
only ever carry the reference texts of the run that reads it; the cache key pins the reference's hash.
"""

from __future__ import annotations

from pipeline.types import (
    Commitment,
    Coverage,
    DocumentInfo,
    DocumentResult,
    Evidence,
    Match,
    Passage,
    ReferenceSet,
    Signal,
    Skipped,
    SourceFile,
    Stance,
    Status,
)

#: Layout of a serialised result; bumped when the JSON shape changes.
RESULT_FORMAT = 2


def passage_row(passage: Passage) -> list:
    return [passage.id, passage.doc, passage.page, passage.start, passage.end, passage.heading, passage.text,
            passage.lead_in]


def passage_from_row(row: list) -> Passage:
    identifier, doc, page, start, end, heading, text, lead_in = row
    return Passage(id=identifier, doc=doc, page=page, start=start, end=end, heading=heading, text=text,
                   lead_in=lead_in)


def match_row(match: Match) -> list:
    return [match.passage_id, match.item_id, match.score, match.signal.value, match.matched, match.covered_at,
            match.partial_at]


def match_from_row(row: list) -> Match:
    passage_id, item_id, score, signal, matched, covered_at, partial_at = row
    return Match(passage_id=passage_id, item_id=item_id, score=score, signal=Signal(signal), matched=matched,
                 covered_at=covered_at, partial_at=partial_at)


def evidence_row(evidence: Evidence) -> list:
    return [evidence.passage_id, evidence.page, evidence.heading, evidence.text, evidence.score,
            evidence.signal.value, evidence.matched, evidence.lead_in, [list(span) for span in evidence.spans],
            evidence.stance.value if evidence.stance else None,
            evidence.commitment.value if evidence.commitment else None]


def evidence_from_row(row: list) -> Evidence:
    passage_id, page, heading, text, score, signal, matched, lead_in, spans, stance, commitment = row
    return Evidence(passage_id=passage_id, page=page, heading=heading, text=text, score=score,
                    signal=Signal(signal), matched=matched, lead_in=lead_in, spans=tuple(tuple(s) for s in spans),
                    stance=Stance(stance) if stance else None,
                    commitment=Commitment(commitment) if commitment else None)


def coverage_record(coverage: Coverage) -> dict:
    return {"item": coverage.item.id, "status": coverage.status.value, "score": coverage.score,
            "threshold": coverage.threshold, "partial_threshold": coverage.partial_threshold,
            "evidence": [evidence_row(evidence) for evidence in coverage.evidence],
            "near_miss": evidence_row(coverage.near_miss) if coverage.near_miss else None,
            "near_miss_reason": coverage.near_miss_reason}


def coverage_from_record(record: dict, doc: str, reference: ReferenceSet) -> Coverage:
    near_miss = record["near_miss"]
    return Coverage(doc=doc, item=reference.item(record["item"]), status=Status(record["status"]),
                    score=record["score"], evidence=tuple(evidence_from_row(row) for row in record["evidence"]),
                    threshold=record["threshold"], partial_threshold=record["partial_threshold"],
                    near_miss=evidence_from_row(near_miss) if near_miss else None,
                    near_miss_reason=record.get("near_miss_reason", ""))


def info_record(info: DocumentInfo) -> dict:
    return {"id": info.id, "page_count": info.page_count, "extractor": info.extractor, "notes": list(info.notes)}


def result_to_json(result: DocumentResult) -> dict:
    """A result without its source file (name, path, place in the run), which belong to the run, not the content."""
    return {
        "format": RESULT_FORMAT,
        "document": info_record(result.document) if result.document else None,
        "passages": [passage_row(passage) for passage in result.passages],
        "matches": [match_row(match) for match in result.matches],
        "coverages": [coverage_record(coverage) for coverage in result.coverages],
        "problems": [[problem.stage, problem.reason] for problem in result.problems],
    }


def result_from_json(data: dict, source: SourceFile, reference: ReferenceSet) -> DocumentResult:
    """The inverse of result_to_json, under `source`'s name; raises ValueError/KeyError/TypeError on a bad entry."""
    if data.get("format") != RESULT_FORMAT:
        raise ValueError(f"result format {data.get('format')!r}, expected {RESULT_FORMAT}")
    info = data["document"]
    document = None if info is None else DocumentInfo(
        id=info["id"], name=source.name, path=source.path, page_count=int(info["page_count"]),
        extractor=info["extractor"], notes=tuple(info["notes"]))
    doc = document.id if document else ""
    return DocumentResult(
        source=source, document=document,
        passages=tuple(passage_from_row(row) for row in data["passages"]),
        matches=tuple(match_from_row(row) for row in data["matches"]),
        coverages=tuple(coverage_from_record(record, doc, reference) for record in data["coverages"]),
        problems=tuple(Skipped(file=source.name, stage=stage, reason=reason) for stage, reason in data["problems"]),
        from_cache=True,
    )
