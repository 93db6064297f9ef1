"""Where documents are mapped: worker processes on this machine, this process (for debugging), or Dask.

Every executor takes the run's SourceFiles and a ContextSpec and yields one DocumentResult per file, in
input order, whatever order the work finishes in; so every executor gives the same outputs.

- `local` (the default): the whole per-document chain runs in worker processes
  (pipeline/extract/worker.py), each call under the run's time and memory limits, so a hostile file can
  neither hang nor exhaust the run; a worker loads the model once and maps many documents.
- `in-process`: no isolation, no limits; a traceback shows where a bug is.
- `dask`: a dask.distributed cluster (`--dask tcp://scheduler:8786`, or `--dask local` for a
  LocalCluster on this machine); see docs/scaling.md.
"""

from __future__ import annotations

import atexit
import time
from collections import deque
from collections.abc import Collection, Iterator
from typing import NamedTuple

from pipeline.extract import STAGE as EXTRACT_STAGE
from pipeline.extract import failure_reason
from pipeline.extract.worker import DEFAULT_TASKS_PER_WORKER, Outcome, _Pool, run_isolated
from pipeline.run.cache import ResultCache
from pipeline.run.context import ContextSpec, context_for, result_cache_of
from pipeline.run.document import identified, map_document
from pipeline.types import DocumentResult, ReferenceSet, Skipped, SourceFile

#: Each Dask worker thread is given at most this many documents ahead of what has been collected, so the
#: parent never holds more than a bounded number of results waiting for their turn.
DASK_TASKS_IN_FLIGHT_PER_THREAD = 4


def map_in_worker(source: SourceFile, spec: ContextSpec) -> DocumentResult:
    """The per-document function as a worker runs it: the context is built once per process."""
    return map_document(source, context_for(spec))


def outcome_result(source: SourceFile, outcome: Outcome, *, time_limit: float,
                   memory_limit: int | None) -> DocumentResult:
    """A worker's outcome as the file's result: its value, or why there is none (never cached)."""
    if outcome.ok:
        return outcome.value
    reason = failure_reason(outcome, time_limit, memory_limit)
    return DocumentResult(source=source, document=None,
                          problems=(Skipped(file=source.name, stage=EXTRACT_STAGE, reason=reason),),
                          seconds={"total": outcome.seconds}, lasting=False)


def map_local(sources: list[SourceFile], spec: ContextSpec, *, workers: int | None, time_limit: float,
              memory_limit: int | None, reference: ReferenceSet | None = None,
              served: list[Checked | None] | None = None) -> Iterator[DocumentResult]:
    """Each file's result, in input order: read here from the result cache, else mapped by worker processes.

    A re-run of an unchanged corpus so starts no worker and loads no model: the parent hashes each file,
    finds its result in the cache and reads it (a worker would read it too, then send it over a pipe).
    The files the cache does not hold go to the workers, each call under the run's limits; a file past a
    limit gets a reason instead. An entry that is gone or damaged by the time it is read is mapped here.
    `served` is `served_from_cache` of these sources when the caller has it already.
    """
    cache = None if reference is None else result_cache_of(spec, reference)
    if served is None:
        served = served_from_cache(sources, cache)
    missing = [source for source, found in zip(sources, served, strict=True) if to_worker(found)]
    outcomes = run_isolated(map_in_worker, [(source, spec) for source in missing], workers=workers,
                            time_limit=time_limit, memory_limit=memory_limit)
    try:
        for source, found in zip(sources, served, strict=True):
            if to_worker(found):
                yield outcome_result(source, next(outcomes), time_limit=time_limit, memory_limit=memory_limit)
            elif isinstance(found.identity, DocumentResult):
                yield found.identity
            else:
                yield cache.load(found.identity, source) or map_document(source, context_for(spec))
    finally:
        outcomes.close()


class Checked(NamedTuple):
    """A file as the parent found it before mapping, and whether the result cache holds its result.

    `identity` is its content sha256, or the result of a file that cannot be used at all.
    """

    identity: str | DocumentResult
    held: bool


def to_worker(found: Checked | None) -> bool:
    """Whether a file goes to a worker: the cache does not hold its result, and it is not unusable already."""
    return found is None or (isinstance(found.identity, str) and not found.held)


def served_from_cache(sources: Collection[SourceFile], cache: ResultCache | None) -> list[Checked | None]:
    """Per source, what the parent found (`Checked`); all None without a cache (every file goes to a worker).

    Only the sha256 is kept, so the parent holds no result before its turn.
    """
    if cache is None:
        return [None] * len(sources)
    checked: list[Checked | None] = []
    for source in sources:
        found = identified(source, time.perf_counter())
        checked.append(Checked(found, isinstance(found, str) and cache.holds(found)))
    return checked


def map_in_process(sources: list[SourceFile], spec: ContextSpec) -> Iterator[DocumentResult]:
    """Each file's result mapped here, one after another, with no limits (for debugging)."""
    context = context_for(spec)
    for source in sources:
        started = time.perf_counter()
        result = map_document(source, context)
        if not result.seconds:
            result.seconds["total"] = time.perf_counter() - started
        yield result


_ISOLATED: dict[tuple, _Pool] = {}


def map_isolated(source: SourceFile, spec: ContextSpec, time_limit: float, memory_limit: int | None) -> DocumentResult:
    """One file mapped in this process's own isolated worker, under the run's limits (what a Dask task runs).

    The worker process is kept for the next file, so the model is loaded once per Dask worker, and a
    hostile file can still only cost its own time and memory.
    """
    key = (time_limit, memory_limit)
    pool = _ISOLATED.get(key)
    if pool is None:
        for old in _ISOLATED.values():
            old.close()
        _ISOLATED.clear()
        pool = _ISOLATED[key] = _Pool(map_in_worker, size=1, time_limit=time_limit, memory_limit=memory_limit,
                                      tasks_per_worker=DEFAULT_TASKS_PER_WORKER)
        atexit.register(pool.close)
    (outcome,) = pool.run([(source, spec)])
    return outcome_result(source, outcome, time_limit=time_limit, memory_limit=memory_limit)


def map_dask(sources: list[SourceFile], spec: ContextSpec, *, address: str, time_limit: float,
             memory_limit: int | None) -> Iterator[DocumentResult]:
    """Each file's result from a dask.distributed cluster, in input order, a bounded number in flight.

    `address` is a scheduler address (tcp://host:8786) or "local" for a LocalCluster of worker processes
    on this machine. Workers need promise-map installed and the corpus, reference and model at the same
    paths as here (docs/scaling.md).
    """
    from dask.distributed import Client, LocalCluster

    cluster = LocalCluster(processes=True, threads_per_worker=1, dashboard_address=None) if address == "local" \
        else None
    client = Client(cluster if cluster is not None else address)
    try:
        def submit(source: SourceFile):
            return client.submit(map_isolated, source, spec, time_limit, memory_limit, key=f"map-{source.index}",
                                 pure=False)

        threads = max(1, sum(client.nthreads().values()))
        window = threads * DASK_TASKS_IN_FLIGHT_PER_THREAD
        pending: deque = deque()
        queue = iter(sources)
        for source in queue:
            pending.append(submit(source))
            if len(pending) >= window:
                break
        while pending:
            future = pending.popleft()
            yield future.result()
            future.release()
            following = next(queue, None)
            if following is not None:
                pending.append(submit(following))
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
