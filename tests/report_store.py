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
