"""Per-document results kept between runs, so re-mapping an unchanged corpus reads each file once and no more.

An entry is keyed by the file's content sha256 and the run's fingerprint (extraction and segmentation
code, the classifier, the reference set and the settings): change any of them and the document is mapped
again; rename or move the file and it is not. Entries are JSON, written atomically (temporary file, then
rename), so two runs sharing the folder never see half an entry, and a damaged one counts as a miss.

The folder lives outside any output folder: by default the user's cache directory
(`$XDG_CACHE_HOME/promise-map`, else `~/.cache/promise-map`), or `--cache-dir`.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from pathlib import Path

from pipeline.extract.cache import GITIGNORE_TEXT
from pipeline.files import write_atomic
from pipeline.run.serialise import result_from_json, result_to_json
from pipeline.types import DocumentResult, ReferenceSet, SourceFile

RESULTS_FOLDER = "results"
EXTRACT_FOLDER = "extract"


def default_cache_dir() -> Path:
    """The per-user cache folder: $XDG_CACHE_HOME/promise-map, or ~/.cache/promise-map."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "promise-map"


class ResultCache:
    """DocumentResults stored as gzipped JSON under `folder/<k[:2]>/<k>.json.gz`, with hit and store counts."""

    def __init__(self, folder: Path | str, *, fingerprint: str, reference: ReferenceSet) -> None:
        self.folder = Path(folder)
        self.fingerprint = fingerprint
        self.reference = reference
        self.hits = 0
        self.stores = 0

    def key(self, content_sha256: str) -> str:
        return hashlib.sha256(f"{content_sha256}/{self.fingerprint}".encode()).hexdigest()

    def entry_path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.json.gz"

    def holds(self, content_sha256: str) -> bool:
        """Whether an entry for this content is on disk (it may still turn out damaged: `load` says)."""
        return self.entry_path(self.key(content_sha256)).is_file()

    def load(self, content_sha256: str, source: SourceFile) -> DocumentResult | None:
        """The stored result under `source`'s name, or None when absent, damaged or from another fingerprint."""
        key = self.key(content_sha256)
        try:
            payload = json.loads(gzip.decompress(self.entry_path(key).read_bytes()))
            if payload.get("key") != key:
                return None
            result = result_from_json(payload["result"], source, self.reference)
        except (OSError, EOFError, ValueError, KeyError, TypeError, gzip.BadGzipFile):
            return None
        self.hits += 1
        return result

    def store(self, content_sha256: str, result: DocumentResult) -> None:
        """Keep a result; a folder that cannot be written costs the next run time, never this run its result."""
        key = self.key(content_sha256)
        payload = {"key": key, "result": result_to_json(result)}
        data = gzip.compress(json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8"),
                             compresslevel=1, mtime=0)
        try:
            gitignore = self.folder / ".gitignore"
            if not gitignore.exists():
                write_atomic(gitignore, GITIGNORE_TEXT.encode("utf-8"))
            write_atomic(self.entry_path(key), data)
        except OSError:
            return
        self.stores += 1
