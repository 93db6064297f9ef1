"""A corpus run: the files of a folder, each mapped by an executor, every result stored as it arrives.

Memory stays bounded whatever the corpus size: a result is written to the run store and dropped; what
is kept is a few numbers per file. The reports are rendered from the store afterwards
(pipeline/report/), one document at a time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.review.apply import ReviewBook
from pipeline.run.context import ContextSpec
from pipeline.run.executors import map_dask, map_in_process, map_local
from pipeline.run.store import RunStore
from pipeline.types import DocumentResult, ReferenceSet, SourceFile

#: `workers=IN_PROCESS` maps in this process: no isolation and no limits (for debugging).
IN_PROCESS = 0


@dataclass(frozen=True)
class Executor:
    """Which executor maps the documents, and its knobs."""

    workers: int | None = None
    time_limit: float = 60.0
    memory_limit: int | None = 2 * 1024**3
    dask: str | None = None

    def describe(self) -> dict:
        if self.dask:
            return {"executor": "dask", "scheduler": self.dask}
        if self.workers == IN_PROCESS:
            return {"executor": "in-process"}
        return {"executor": "local", "workers": self.workers or "one per core",
                "time_limit_seconds": self.time_limit, "memory_limit_bytes": self.memory_limit}

    def results(self, sources: list[SourceFile], spec: ContextSpec, reference: ReferenceSet | None = None,
                served: list | None = None) -> Iterator[DocumentResult]:
        """Every source's result in input order.

        `reference` (the run's) lets the local executor read the cache; `served`
        (executors.served_from_cache) says what the cache holds when the caller has asked already.
        """
        if self.dask:
            return map_dask(sources, spec, address=self.dask, time_limit=self.time_limit,
                            memory_limit=self.memory_limit)
        if self.workers == IN_PROCESS:
            return map_in_process(sources, spec)
        return map_local(sources, spec, workers=self.workers, time_limit=self.time_limit,
                         memory_limit=self.memory_limit, reference=reference, served=served)


@dataclass
class RunTotals:
    """What the run keeps in memory about its documents: counts and stage seconds, never passages."""

    files: int = 0
    mapped: int = 0
    from_cache: int = 0
    passages: int = 0
    matches: int = 0
    problems: int = 0
    #: results that may differ next time (a worker out of time or memory, a file that could not be opened)
    transient: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    wall_seconds: float = 0.0

    def add(self, result: DocumentResult) -> None:
        self.files += 1
        self.mapped += result.mapped
        self.from_cache += result.from_cache
        self.passages += len(result.passages)
        self.matches += len(result.matches)
        self.problems += len(result.problems)
        self.transient += not result.lasting
        if not result.from_cache:
            for stage, seconds in result.seconds.items():
                self.seconds[stage] = self.seconds.get(stage, 0.0) + seconds


def map_corpus(sources: list[SourceFile], spec: ContextSpec, store: RunStore, *, executor: Executor,
               on_result: Callable[[DocumentResult], None] | None = None,
               reviews: ReviewBook | None = None, reference: ReferenceSet | None = None,
               served: list | None = None) -> RunTotals:
    """Map every source into `store`; `on_result` sees each stored result (for progress), in input order.

    With `reviews`, each result is stored with the reviewers' decisions applied (pipeline/review/apply.py):
    after the executor and the result cache, which hold the machine's verdicts only. `reference` is the
    run's reference set: with it, the local executor reads cached results here instead of in workers
    (`served` says which, when the caller has found out already).
    """
    totals = RunTotals()
    started = time.perf_counter()
    for result in executor.results(sources, spec, reference, served):
        stored = store.add(reviews.apply(result) if reviews is not None else result)
        totals.add(stored)
        if on_result is not None:
            on_result(stored)
    totals.wall_seconds = time.perf_counter() - started
    return totals


def store_path(out_dir: Path) -> Path:
    from pipeline.run.store import STORE_FILE

    return out_dir / STORE_FILE
