"""Run stores for the report tests: documents given as (name, coverages), stored as a run would store them."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

from pipeline.run.store import RunStore
from pipeline.types import Coverage, DocumentInfo, DocumentResult, Skipped, SourceFile


def doc_id(name: str) -> str:
    """A test document's id: the sha256 of its name (a real run's is the sha256 of its content)."""
    return hashlib.sha256(name.encode("utf-8")).hexdigest()


def by_document(coverages: list[Coverage]) -> dict[str, list[Coverage]]:
    """Coverages whose `doc` is a document name, grouped by it in order."""
    grouped: dict[str, list[Coverage]] = {}
    for coverage in coverages:
        grouped.setdefault(coverage.doc, []).append(coverage)
    return grouped


def make_store(path: Path, coverages: list[Coverage], skipped: list[Skipped] = (), *,
               page_count: int = 5) -> RunStore:
    """A run store holding every document of `coverages` (named by their `doc`) and the failed files."""
    store = RunStore(path, create=True)
    index = 0
    for index, (name, doc_coverages) in enumerate(by_document(coverages).items()):
        identifier = doc_id(name)
        info = DocumentInfo(id=identifier, name=name, path=f"/corpus/{name}", page_count=page_count,
                            extractor="text/1")
        store.add(DocumentResult(
            source=SourceFile(index=index, path=info.path, name=name), document=info,
            coverages=tuple(dataclasses.replace(coverage, doc=identifier) for coverage in doc_coverages)))
    for number, problem in enumerate(skipped, start=index + 1):
        store.add(DocumentResult(source=SourceFile(index=number, path="", name=problem.file), document=None,
                                 problems=(problem,)))
    return store


#: A passage of the length and register of a council plan's paragraph (about 600 characters).
SYNTHETIC_TEXT = ("The council will make sure that brothers and sisters who cannot live at home stay together "
                  "wherever it is safe, and that the relationships which matter to each child are kept up through "
                  "planned family time, support for carers and a named worker who knows them. Progress will be "
                  "reported to the corporate parenting board twice a year, with the views of care experienced "
                  "young people heard at every review; where a placement changes, the reasons and the child's own "
                  "account are recorded and checked by an independent reviewing officer within ten working days.")


def synthetic_coverages(identifier: str, number: int, reference) -> tuple[Coverage, ...]:
    """One synthetic document's 68 verdicts: a third covered (3 passages), a third partial (1), a third missing
    (with a near miss), shifted by the document's number so that documents differ."""
    from pipeline.types import Evidence, Signal, Status

    spans = ((32, 40), (45, 52), (91, 99))
    coverages = []
    for position, item in enumerate(reference.items):
        kind = (position + number) % 3
        passages = tuple(Evidence(passage_id=f"{identifier[:12]}:{position}-{rank}", page=1 + (position + rank) % 40,
                                  heading=f"Part {position % 7} › Keeping families together", text=SYNTHETIC_TEXT,
                                  score=0.8 - rank / 10, signal=Signal.MODEL, matched="brother sister, wherever",
                                  lead_in="We will:" if rank == 0 else "", spans=spans)
                         for rank in range({0: 3, 1: 1, 2: 0}[kind]))
        status = {0: Status.COVERED, 1: Status.PARTIAL, 2: Status.MISSING}[kind]
        near_miss = None if passages else Evidence(
            passage_id=f"{identifier[:12]}:{position}-near", page=3, heading="", text=SYNTHETIC_TEXT[:300],
            score=0.21, signal=Signal.MODEL, matched="brother sister", spans=spans[:2])
        coverages.append(Coverage(doc=identifier, item=item, status=status, score=passages[0].score if passages
                                  else 0.21, evidence=passages, threshold=0.6, partial_threshold=0.35,
                                  near_miss=near_miss))
    return tuple(coverages)


def synthetic_store(path: Path, reference, documents: int = 1000) -> RunStore:
    """A run store of `documents` synthetic documents (68 verdicts each, a few evidence passages) and a failure."""
    store = RunStore(path, create=True)
    for number in range(documents):
        name = f"council-plan-{number:04d} children's services 2024-2027 <draft>.pdf"
        identifier = doc_id(name)
        info = DocumentInfo(id=identifier, name=name, path=f"/corpus/{name}", page_count=40, extractor="pdfium")
        store.add(DocumentResult(source=SourceFile(index=number, path=info.path, name=name), document=info,
                                 coverages=synthetic_coverages(identifier, number, reference)))
    store.add(DocumentResult(source=SourceFile(index=documents, path="", name="broken.pdf"), document=None,
                             problems=(Skipped(file="broken.pdf", stage="extract", reason="damaged"),)))
    return store
