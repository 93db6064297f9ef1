"""Reports kept between runs: re-mapping an unchanged corpus copies its reports instead of rendering them again.

Every report file but the index and run.json is a function of the run store's content, the reference set,
the run's stable details (tool, corpus folder, inputs, classifier, settings; not its date, timings or
cache counts), where the corpus is from the output folder (for links) and the code and libraries that
render it. The key hashes all of those, the store read row by row in a fixed order: if any row differs
(a document added, edited, renamed or re-classified), the key differs and every file is rendered anew.
The index (report.html) and run.json carry the run's date, timings and cache counts, so they are always
written fresh.

Entries live under the cache folder (`--cache-dir`) in `reports/<key>/`, written into a temporary folder
and renamed into place, so two runs sharing the folder never see half an entry; only the most recent
`KEPT_ENTRIES` are kept, since one entry is the size of a run's reports.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
from importlib import metadata
from pathlib import Path

from pipeline.types import ReferenceSet

REPORTS_FOLDER = "reports"
#: Report sets kept in the cache (the newest by time of use); each is as large as a run's reports.
KEPT_ENTRIES = 3
#: Parts of run.json that differ between two runs of the same corpus and are in no cached file.
VOLATILE_RUN_KEYS = ("created", "timings_seconds", "counts", "executor")
#: The store's content, in a fixed order, without what says how this run got it (cache hits, seconds).
STORE_CONTENT = (
    "SELECT ordinal, doc_id, name, path, relative, pages, extractor, notes, passages FROM documents ORDER BY ordinal",
    "SELECT doc_id, id, page, start, end, heading, text, lead_in FROM passages ORDER BY doc_id, start, id",
    "SELECT doc_id, passage_id, item_id, signal, score, matched, covered_at, partial_at, position FROM matches "
    "ORDER BY doc_id, position, passage_id, item_id",
    "SELECT * FROM coverage ORDER BY doc_id, position, item_id",
    "SELECT * FROM evidence ORDER BY doc_id, item_id, rank",
    "SELECT * FROM problems ORDER BY ordinal, file, stage, reason",
)
#: Store rows hashed at a time when the key is made.
KEY_CHUNK_ROWS = 10_000
#: Libraries whose version changes what a report file holds.
RENDERING_LIBRARIES = ("jinja2", "markupsafe", "xlsxwriter", "openpyxl", "matplotlib")


def rendering_fingerprint() -> str:
    """The package's source (every module and template) and the rendering libraries' versions."""
    digest = hashlib.sha256()
    package = Path(__file__).resolve().parent.parent
    for path in sorted(package.rglob("*")):
        if path.is_file() and path.suffix in (".py", ".j2", ".js", ".css", ".xsd"):
            digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes())
    for name in RENDERING_LIBRARIES:
        try:
            digest.update(f"{name}={metadata.version(name)}".encode())
        except metadata.PackageNotFoundError:
            digest.update(f"{name}=absent".encode())
    return digest.hexdigest()


def reports_key(store_path: Path, reference: ReferenceSet, run_record: dict, out_dir: Path) -> str:
    """What every cached report file depends on, hashed (see the module docstring)."""
    digest = hashlib.sha256(rendering_fingerprint().encode())
    digest.update(reference.sha256.encode())
    stable = {key: value for key, value in run_record.items() if key not in VOLATILE_RUN_KEYS}
    digest.update(json.dumps(stable, sort_keys=True, default=str).encode())
    corpus_folder = run_record.get("corpus_folder")
    if isinstance(corpus_folder, str) and corpus_folder:
        digest.update(os.path.relpath(os.path.abspath(corpus_folder), os.path.abspath(out_dir)).encode())
    connection = sqlite3.connect(f"file:{store_path}?mode=ro", uri=True)
    try:
        for query in STORE_CONTENT:
            digest.update(query.encode())
            rows = connection.execute(query)
            # repr of a chunk of rows of str, int, float and None is one C call, and as exact as the values
            for chunk in iter(lambda rows=rows: rows.fetchmany(KEY_CHUNK_ROWS), []):
                digest.update(repr(chunk).encode("utf-8", "surrogatepass"))
    finally:
        connection.close()
    return digest.hexdigest()


class ReportCache:
    """Report files by key under `folder/reports/`."""

    def __init__(self, folder: Path | str) -> None:
        self.folder = Path(folder) / REPORTS_FOLDER

    def entry(self, key: str) -> Path:
        return self.folder / key

    def restore(self, key: str, names: list[str], out_dir: Path) -> bool:
        """Copy the entry's files (and folders) named `names` into `out_dir`; False when any is missing."""
        entry = self.entry(key)
        if not all((entry / name).exists() for name in names):
            return False
        try:
            for name in names:
                copy_into(entry / name, out_dir / name)
            os.utime(entry)  # the entry was used: pruning keeps it longest
        except OSError:
            return False
        return True

    def restore_run(self, key: str, out_dir: Path, store_name: str) -> bool:
        """Copy a whole run's entry (its store `store_name` and every report) into `out_dir`; False when none.

        Only an entry kept under a run key (pipeline/run/rerun.py) holds a store; its files are all of it.
        `out_dir` is the run's empty staging folder: a copy that fails half way is emptied again.
        """
        entry = self.entry(key)
        if not (entry / store_name).is_file():
            return False
        try:
            for path in sorted(entry.iterdir()):
                copy_into(path, out_dir / path.name)
            os.utime(entry)
        except OSError:
            emptied(out_dir)
            return False
        return True

    def keep(self, key: str, names: list[str], out_dir: Path) -> None:
        """Store `out_dir`'s files named `names` as the entry `key`; a cache that cannot be written costs nothing."""
        entry = self.entry(key)
        if entry.exists():
            return
        temporary = self.folder / f".{key}.{os.getpid()}.tmp"
        try:
            temporary.mkdir(parents=True, exist_ok=True)
            for name in names:
                copy_into(out_dir / name, temporary / name)
            os.rename(temporary, entry)
        except OSError:
            shutil.rmtree(temporary, ignore_errors=True)
            return
        self.prune()

    def prune(self) -> None:
        """Delete all but the `KEPT_ENTRIES` most recently used entries."""
        try:
            entries = [path for path in self.folder.iterdir() if path.is_dir() and not path.name.startswith(".")]
            entries.sort(key=lambda path: path.stat().st_mtime, reverse=True)
        except OSError:
            return
        for stale in entries[KEPT_ENTRIES:]:
            shutil.rmtree(stale, ignore_errors=True)


def emptied(folder: Path) -> None:
    """Delete everything in `folder` (a staging folder), keeping the folder."""
    for path in folder.iterdir():
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def copy_into(source: Path, target: Path) -> None:
    """Copy a file or a folder of files (the document pages) to `target`."""
    if source.is_dir():
        shutil.copytree(source, target, dirs_exist_ok=True)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
