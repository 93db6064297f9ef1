"""A re-run of an unchanged corpus: its store and reports copied from the cache, nothing mapped or rendered.

Before anything is mapped, the parent hashes every input file and asks the result cache which it holds
(`pipeline.run.executors.served_from_cache`). The run's store and every report but the index and run.json
are then a function of what is known already: the files' contents, names and places in the run, what the
listing left out, the run's fingerprint (code, classifier, models, reference, settings, limits), the
rendering code and libraries, and where the corpus is from the output folder. `run_key` hashes exactly
those, so a cold run has the key its re-run will have. A run whose every result lasts (nothing timed out
or could not be opened) keeps its store and reports under that key (pipeline/run/report_cache.py), and
the next run with the same key copies them instead of rebuilding the store from 1,000 cached results and
rendering every report again.

The copied store is then the one a re-run would have built: every document from the cache and no stage
seconds (`as_served_from_cache`). A run with reviews applies them as it stores each result, so it always
maps (reading its results from the cache) and keys its reports by the store's content instead.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from pipeline.run.corpus import RunTotals
from pipeline.run.executors import Checked
from pipeline.run.report_cache import rendering_fingerprint
from pipeline.run.store import LISTING_ORDINAL, RunStore
from pipeline.types import Skipped, SourceFile

#: What the run key's material says it is, so a key of another shape never matches.
RUN_KEY_FORMAT = "run-inputs/1"


def run_key(sources: list[SourceFile], checked: list[Checked | None], *, fingerprint: str,
            skipped: list[Skipped], corpus: str, corpus_folder: str, out_dir: Path) -> str | None:
    """The key of a run whose every file has a content hash (see the module docstring); None for any other run.

    A run with a file that could not even be read has none: why it failed may differ next time.
    """
    if not sources or not all(found is not None and isinstance(found.identity, str) for found in checked):
        return None
    digest = hashlib.sha256(RUN_KEY_FORMAT.encode() + b"\0" + rendering_fingerprint().encode())
    digest.update(json.dumps({
        "fingerprint": fingerprint, "corpus": corpus,
        "corpus_from_out": os.path.relpath(os.path.abspath(corpus_folder), os.path.abspath(out_dir)),
        "skipped": [[row.file, row.stage, row.reason] for row in skipped],
    }, sort_keys=True).encode())
    for source, found in zip(sources, checked, strict=True):
        digest.update(json.dumps([source.index, source.name, source.path, source.relative,
                                  found.identity]).encode() + b"\n")
    return digest.hexdigest()


def as_served_from_cache(store: RunStore) -> None:
    """Make a copied store say what this run did: every document read from the cache, no stage seconds.

    A second copy of a file is stored as its own row with no document (its problem says whose content it
    has): as when it is stored from a cached result, it is not counted as served from the cache.
    """
    duplicates = ("SELECT ordinal FROM problems WHERE stage = 'list' AND ordinal != ? "
                  "AND reason LIKE 'same content as %'")
    with store.connection:
        store.connection.execute("PRAGMA query_only=OFF")
        store.connection.execute(f"UPDATE documents SET seconds = '{{}}', from_cache = "
                                 f"CASE WHEN ordinal IN ({duplicates}) THEN 0 ELSE 1 END", (LISTING_ORDINAL,))
    store.connection.execute("PRAGMA query_only=ON")  # the reports only read it


def totals_of_store(store: RunStore, *, wall_seconds: float) -> RunTotals:
    """The run's totals as mapping would have counted them, read from a copied store."""
    connection = store.connection

    def count(query: str, *parameters) -> int:
        return connection.execute(query, parameters).fetchone()[0]

    return RunTotals(
        files=count("SELECT COUNT(*) FROM documents"),
        mapped=count("SELECT COUNT(*) FROM documents WHERE doc_id IS NOT NULL AND passages > 0"),
        from_cache=count("SELECT COUNT(*) FROM documents WHERE from_cache = 1"),
        passages=count("SELECT COUNT(*) FROM passages"), matches=count("SELECT COUNT(*) FROM matches"),
        problems=count("SELECT COUNT(*) FROM problems WHERE ordinal != ?", LISTING_ORDINAL),
        wall_seconds=wall_seconds)
