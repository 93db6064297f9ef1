"""A folder of extracted Documents, keyed on what determines them, so an unchanged file is never read twice.

The key is the hash of: the file's content (sha256), the extraction fingerprint (the extractor
version, a hash of the extraction code and the versions of the libraries that read files), and the
settings that change the result (file type, and the password: hashed into the key, never stored).
A file that changes, code that changes, or another password therefore misses; a file that is only
renamed or moved hits, and gets its new name.

Failures are stored only when they are lasting: the same bytes, read by the same code with the same
password, fail the same way (a damaged, scanned or empty file). A fixed file has new bytes and a new
password makes a new key, so either is tried again; a time-out, a crash, running out of memory or a
file that could not be opened is never stored. A failure also records the run's time and memory
limits (a library may report a file as damaged when it ran out of memory) and is served only to runs
whose limits are no more generous: raise a limit and the failed files are tried again.

Files are hashed in the extraction workers, under their limits. So that an unchanged file needs no
worker (and is not read) on the next run, the cache also remembers each file's content hash under its
path, with the file's identity, size and times (`file_signature`); a file whose signature changed is
hashed again. The change time (ctime) is set by the system on every write and cannot be set back by
a program, so a rewrite that keeps the size and modification time is still caught.

Entries are JSON, not pickle, so a planted file cannot run code; each is written atomically, so a
crash never leaves half an entry. A damaged entry counts as a miss and is overwritten.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from pipeline.files import display_name, write_atomic
from pipeline.types import Block, BlockKind, Document

#: Where the cache lives unless told otherwise, relative to the current directory.
DEFAULT_CACHE_DIR = Path(".cache") / "promise-map" / "extract"
#: Layout of one entry; bumped when the JSON shape changes.
ENTRY_FORMAT = 2
#: Layout of a remembered content hash (see `known_sha256`); bumped when its JSON shape changes.
HASH_FORMAT = 1
#: Sub-folder holding the remembered content hashes, one entry per file path.
HASHES_FOLDER = "hashes"
#: Written into the cache folder so that git ignores everything in it, wherever the folder is.
GITIGNORE_TEXT = "# created by promise-map: extraction cache, safe to delete\n*\n"


@dataclass(frozen=True)
class FailedExtraction:
    """Why a file gave no Document; `lasting` when the same bytes, code and password always fail so."""

    reason: str
    lasting: bool = True


class ExtractCache:
    """Documents stored by key under `folder` (`<folder>/<k[:2]>/<k>.json`), plus hit and store counts.

    `limits` are the run's {"seconds": ..., "memory_bytes": ...} (None: no limit), stored with failures.
    """

    def __init__(self, folder: Path | str, *, fingerprint: str, limits: dict[str, float | None] | None = None) -> None:
        self.folder = Path(folder)
        self.fingerprint = fingerprint
        self.limits = dict(limits or {})
        self.hits = 0
        self.stores = 0

    def key(self, content_sha256: str, settings: dict[str, object]) -> str:
        """The entry name for a file with this content, read with these settings by this code."""
        material = json.dumps({"content": content_sha256, "fingerprint": self.fingerprint, "settings": settings},
                              sort_keys=True)
        return hashlib.sha256(material.encode("utf-8")).hexdigest()

    def entry_path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.json"

    def load(self, key: str, *, name: str, path: str) -> Document | FailedExtraction | None:
        """The stored Document (renamed to `name`/`path`) or lasting failure; None when absent or unreadable."""
        try:
            payload = json.loads(self.entry_path(key).read_bytes())
            if payload.get("format") != ENTRY_FORMAT or payload.get("key") != key:
                return None
            if "failure" in payload:
                if more_generous(self.limits, payload.get("limits") or {}):
                    return None
                entry: Document | FailedExtraction = FailedExtraction(reason=str(payload["failure"]))
            else:
                entry = dataclasses.replace(document_from_json(payload["document"]), name=name, path=path)
        except (OSError, ValueError, KeyError, TypeError):
            return None
        self.hits += 1
        return entry

    def store(self, key: str, entry: Document | FailedExtraction) -> None:
        """Write one entry atomically (raises OSError when the folder cannot be written)."""
        payload: dict[str, object] = {"format": ENTRY_FORMAT, "key": key}
        if isinstance(entry, FailedExtraction):
            if not entry.lasting:
                raise ValueError("only lasting failures are cached")
            payload["failure"] = entry.reason
            payload["limits"] = self.limits
        else:
            payload["document"] = document_to_json(entry)
        self.ensure_folder()
        write_atomic(self.entry_path(key), json.dumps(payload, ensure_ascii=False).encode("utf-8"))
        self.stores += 1

    def known_sha256(self, path: Path, info: os.stat_result) -> str | None:
        """The content hash a worker found for the file at `path`, if the file is unchanged since; else None."""
        try:
            payload = json.loads(self.hash_entry_path(path).read_bytes())
            if payload.get("format") == HASH_FORMAT and payload.get("signature") == file_signature(info):
                return str(payload["sha256"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None
        return None

    def remember_sha256(self, path: Path, info: os.stat_result, sha256: str) -> None:
        """Remember the file's content hash with its signature as stat gave it before the file was hashed.

        A file changed after that stat has a newer signature, so it is hashed
        again next run: a stale hash is never served. Raises OSError when the
        folder cannot be written.
        """
        self.ensure_folder()
        payload = {"format": HASH_FORMAT, "signature": file_signature(info), "sha256": sha256}
        write_atomic(self.hash_entry_path(path), json.dumps(payload).encode("utf-8"))

    def hash_entry_path(self, path: Path) -> Path:
        """Where a file's remembered hash lives: named by a hash of its absolute path, which is not stored."""
        name = hashlib.sha256(os.fsencode(os.path.abspath(path))).hexdigest()
        return self.folder / HASHES_FOLDER / name[:2] / f"{name}.json"

    def ensure_folder(self) -> None:
        gitignore = self.folder / ".gitignore"
        if not gitignore.exists():
            write_atomic(gitignore, GITIGNORE_TEXT.encode("utf-8"))


def file_signature(info: os.stat_result) -> list[int]:
    """What changes whenever a file's bytes do: device and inode, size, modification and change times (ns)."""
    return [info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns]


def more_generous(current: dict[str, float | None], stored: dict[str, float | None]) -> bool:
    """Whether any limit of this run is higher than when the failure was stored (None: no limit)."""
    for name in set(current) | set(stored):
        now, then = current.get(name), stored.get(name)
        if then is not None and (now is None or now > then):
            return True
    return False


def document_to_json(document: Document) -> dict:
    """A Document as plain JSON values; blocks as compact [text, page, kind, level, start, end] rows.

    Name and path as the outputs show them (a name that is not UTF-8 cannot be written as JSON); a loaded
    entry takes the name and path of the file it is loaded for.
    """
    return {
        "name": display_name(document.name),
        "path": display_name(document.path),
        "sha256": document.sha256,
        "page_count": document.page_count,
        "extractor": document.extractor,
        "notes": list(document.notes),
        "blocks": [[b.text, b.page, b.kind.value, b.level, b.start, b.end] for b in document.blocks],
    }


def document_from_json(data: dict) -> Document:
    """The inverse of document_to_json; Block and Document check their values as they are rebuilt."""
    blocks = tuple(Block(text=text, page=page, kind=BlockKind(kind), level=level, start=start, end=end)
                   for text, page, kind, level, start, end in data["blocks"])
    return Document(name=data["name"], path=data["path"], sha256=data["sha256"], page_count=int(data["page_count"]),
                    blocks=blocks, extractor=data["extractor"], notes=tuple(data["notes"]))
