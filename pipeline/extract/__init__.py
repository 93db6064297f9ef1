"""Stage 1, extract: files -> Documents, or a Skipped row saying which file failed and why.

`scan_inputs` (pipeline/extract/listing.py) says which files of a corpus folder are inputs, with a
row for each entry that is not (a link out of the folder, a pipe, an output folder, ...).

Dispatch is by extension, after a check that the bytes are what the extension
claims (a `.pdf` that is really an HTML page is reported, not parsed).

`extract_all` reads each file in a worker process with a time limit and a memory
limit (pipeline/extract/worker.py), so one hostile file can neither hang nor
exhaust the run, and keeps what it extracted in a cache folder
(pipeline/extract/cache.py), so re-mapping an unchanged corpus reads no file twice.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import stat
import time
import zipfile
from collections import Counter
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from pipeline.extract.cache import DEFAULT_CACHE_DIR, ExtractCache, FailedExtraction
from pipeline.extract.docx import extract_docx
from pipeline.extract.html import extract_html
from pipeline.extract.listing import Listing as Listing
from pipeline.extract.listing import ListingError as ListingError
from pipeline.extract.listing import list_inputs as list_inputs
from pipeline.extract.listing import scan_inputs as scan_inputs
from pipeline.extract.pdf import PdfEncryptedError, PdfNeedsOcrError, PdfUnreadableError, extract_pdf
from pipeline.extract.text import NotTextError, decode_text, parse_text
from pipeline.extract.worker import (
    DEFAULT_MEMORY_LIMIT_BYTES,
    DEFAULT_TIME_LIMIT_SECONDS,
    Failure,
    Outcome,
    run_isolated,
)
from pipeline.files import display_name
from pipeline.types import CONTENT_KINDS, Document, Extracted, Skipped, assemble_document

Extractor = Callable[..., Extracted]

#: Version of the extraction logic; part of what identifies an extracted Document.
EXTRACTOR_VERSION = "2"
#: Libraries whose version changes what is extracted; part of the cache key.
EXTRACTION_LIBRARIES = ("pdfplumber", "pdfminer.six", "pypdfium2", "python-docx", "trafilatura", "lxml")
#: Modules of this package that only run or store extractions; editing them does not change a Document.
NON_EXTRACTING_MODULES = frozenset({"worker.py", "cache.py", "listing.py"})
#: `workers=IN_PROCESS` reads files in this process: no isolation and no limits (for debugging).
IN_PROCESS = 0
HASH_CHUNK_BYTES = 1 << 20
#: How much of a file the parent reads to check that its first bytes fit its type.
HEAD_BYTES = 1024
#: Bytes at the start of a file that say what it really is, whatever its extension.
MAGIC_PREFIXES = ((b"%PDF-", "a PDF"), (b"PK\x03\x04", "a zip package (DOCX, XLSX, ...)"),
                  (b"\xd0\xcf\x11\xe0", "an old Office (OLE) file"))
OLE_ENCRYPTED_MARKER = "EncryptedPackage".encode("utf-16-le")
STAGE = "extract"


class ExtractionError(Exception):
    """A file could not be turned into text; the message is the reason shown in errors.csv."""


def extract_text_file(path: str, *, password: str | None = None) -> Extracted:
    try:
        text = decode_text(Path(path).read_bytes())
    except ValueError as error:
        raise ExtractionError(str(error)) from error
    blocks, page_count = parse_text(text)
    return Extracted(blocks=blocks, page_count=page_count, engine="text")


EXTRACTORS: dict[str, Extractor] = {
    ".pdf": extract_pdf,
    ".docx": extract_docx,
    ".html": extract_html,
    ".htm": extract_html,
    ".txt": extract_text_file,
    ".md": extract_text_file,
    ".markdown": extract_text_file,
}


def extract_file(path: Path | str, *, password: str | None = None, sha256: str | None = None) -> Document:
    """Extract one file or raise ExtractionError with a reason a person understands.

    `sha256` is the content's hash when the caller has it already (a worker
    hashes the file first, for the cache); otherwise it is computed here.
    """
    path = Path(path)
    extractor = extractor_for(path)
    check_content(path, read_head(path)[0])
    sha256 = sha256 or content_sha256(path)
    try:
        extracted = extractor(str(path), password=password)
    except (ExtractionError, MemoryError):
        raise
    except Exception as error:  # every library fails in its own way; the reason is what matters here
        raise ExtractionError(describe_failure(path, error)) from error
    document = assemble_document(name=file_label(path), path=display_name(str(path)), sha256=sha256,
                                 page_count=extracted.page_count, blocks=extracted.blocks,
                                 extractor=f"{extracted.engine or extractor.__name__}/{EXTRACTOR_VERSION}",
                                 notes=tuple(extracted.notes))
    if not any(block.kind in CONTENT_KINDS for block in document.blocks):
        raise ExtractionError(no_content_reason(document, extracted))
    return document


def no_content_reason(document: Document, extracted: Extracted) -> str:
    """Why a file that was read gave nothing to map: no text, or only page furniture; with the extractor's notes.

    Pages without a text layer are named in the notes (a PDF with none at all
    fails earlier, as needing OCR), so nothing here guesses at a scan.
    """
    furniture = "; only running heads, footers or page numbers" if document.blocks else ""
    details = "; ".join(extracted.notes)
    return f"no text found in {extracted.page_count} page(s){furniture}" + (f" ({details})" if details else "")


def extractor_for(path: Path) -> Extractor:
    extractor = EXTRACTORS.get(path.suffix.lower())
    if extractor is None:
        supported = ", ".join(sorted(EXTRACTORS))
        raise ExtractionError(f"unsupported file type {path.suffix or '(none)'!r}; promise-map reads {supported}")
    return extractor


def check_content(path: Path, head: bytes) -> None:
    """Raise when the first bytes show the file is empty or is not what its extension says."""
    if not head:
        raise ExtractionError("empty file (0 bytes)")
    suffix = path.suffix.lower()
    if suffix == ".pdf" and b"%PDF-" not in head:
        raise ExtractionError(f"not a PDF: the file starts with {head[:16]!r}; is it mislabelled?")
    if suffix == ".docx" and head.startswith(b"\xd0\xcf\x11\xe0") and is_encrypted_office_file(path):
        raise ExtractionError("encrypted DOCX: Word files protected by a password cannot be read; "
                              "save an unprotected copy")
    if suffix == ".docx" and not (head.startswith(b"PK") and zipfile.is_zipfile(path)):
        raise ExtractionError("not a DOCX (Word 2007+) file: it is not a zip package; is it mislabelled or a .doc?")
    if suffix in (".html", ".htm", ".txt", ".md", ".markdown"):
        for magic, kind in MAGIC_PREFIXES:
            if head.lstrip().startswith(magic):
                raise ExtractionError(f"not a {suffix[1:].upper()} file: it is {kind}; is it mislabelled?")


def is_encrypted_office_file(path: Path) -> bool:
    """Word and Excel wrap a password-protected file in an OLE container holding an 'EncryptedPackage' stream."""
    try:
        with path.open("rb") as handle:
            return OLE_ENCRYPTED_MARKER in handle.read(1 << 20)
    except OSError:
        return False


def describe_failure(path: Path, error: Exception) -> str:
    """Name the cause in words: encryption, a scan, damage, or the library's own message.

    The PDF extractor's own errors already carry a sentence for a person; a
    library's exception is framed with what kind of failure it is.
    """
    name = type(error).__name__
    message = str(error).strip() or name
    if isinstance(error, NotTextError):
        return message
    if isinstance(error, PdfNeedsOcrError):
        return message if "ocr" in message.lower() else f"{message}: needs OCR"
    if isinstance(error, PdfEncryptedError):
        return message if "encrypt" in message.lower() else f"encrypted: {message}"
    if isinstance(error, PdfUnreadableError):
        return f"damaged or unreadable PDF: {message}"
    if "Password" in name or "password" in message.lower() or "encrypt" in message.lower():
        return f"encrypted: the password given (or the empty password) does not open it ({name})"
    if path.suffix.lower() == ".pdf":
        return f"damaged or unreadable PDF ({name}: {message[:200]})"
    return f"cannot be read ({name}: {message[:200]})"


@dataclass(frozen=True)
class Extraction:
    """What a worker hands back for one file: its Document or failure, content hash, cache key, and cache hit.

    `sha256` is None when the file could not be hashed; `cache_key` also when there is no cache.
    """

    entry: Document | FailedExtraction
    sha256: str | None = None
    cache_key: str | None = None
    from_cache: bool = False


def extract_for_worker(path: str, password: str | None, cache: ExtractCache | None = None) -> Extraction:
    """Everything done for one file, in the worker and so under its time and memory limits.

    The file is hashed here, not in the parent: hashing reads the whole file (a
    150 GB sparse file took 222 s), and the content hash is the cache key, so the
    cache is looked up here too (JSON entries; the parent stores what comes back).
    An ExtractionError is lasting (the same bytes, code and password fail the same
    way again); a file that could not be opened may open next time.
    """
    file = Path(path)
    sha256 = key = None
    try:
        sha256 = content_sha256(file)
        key = cache.key(sha256, extraction_settings(file, password)) if cache is not None else None
        cached = cache.load(key, name=file_label(file), path=display_name(path)) if cache is not None else None
        if cached is not None:
            return Extraction(cached, sha256=sha256, cache_key=key, from_cache=True)
        return Extraction(extract_file(file, password=password, sha256=sha256), sha256=sha256, cache_key=key)
    except ExtractionError as error:
        return Extraction(FailedExtraction(reason=str(error), lasting=True), sha256=sha256, cache_key=key)
    except OSError as error:
        return Extraction(FailedExtraction(reason=f"cannot be read ({error.strerror or error})", lasting=False))


@dataclass(frozen=True)
class ExtractResult:
    """One input file's outcome: a Document (or None) and the problems to report for it.

    A file can yield both: a Document whose scanned pages could not be read
    still maps the rest, and says which pages need OCR. `from_cache` says the
    outcome came from the cache (nothing was read but the file's hash);
    `seconds` and `peak_rss_bytes` are the worker's wall time and peak memory
    for the file, hashing included (0 for files that failed the cheap checks).
    """

    path: Path
    document: Document | None
    problems: tuple[Skipped, ...] = ()
    from_cache: bool = False
    seconds: float = 0.0
    peak_rss_bytes: int = 0


def extract_all(paths: Iterable[Path | str], *, password: str | None = None,
                passwords: Mapping[str, str] | None = None, workers: int | None = None,
                cache_dir: Path | str | None = DEFAULT_CACHE_DIR,
                time_limit: float = DEFAULT_TIME_LIMIT_SECONDS,
                memory_limit: int | None = DEFAULT_MEMORY_LIMIT_BYTES) -> Iterator[ExtractResult]:
    """Each path becomes a Document, a reported problem, or both, in input order; one bad file never stops the rest.

    `password` is tried on every encrypted file; `passwords` maps a file's path or
    name to its own password, which wins. `workers=None` uses one worker per core
    (at most four), `workers=0` reads in this process without limits. Each file
    gets `time_limit` seconds and `memory_limit` bytes; past either it is skipped
    with a reason. `cache_dir=None` turns the cache off; otherwise a file whose
    content, password and extraction code are unchanged is not read again.
    """
    paths = [Path(path) for path in paths]
    cache = None if cache_dir is None else ExtractCache(
        cache_dir, fingerprint=extraction_fingerprint(), limits={"seconds": time_limit, "memory_bytes": memory_limit})
    ready, pending = sort_out(paths, cache, password=password, passwords=passwords)
    outcomes = read_files([(str(paths[file.index]), file.password, cache) for file in pending],
                          workers=workers, time_limit=time_limit, memory_limit=memory_limit)
    signatures = {file.index: file.info for file in pending}
    names = document_names(paths)
    try:
        for index, path in enumerate(paths):
            if index in ready:
                yield named(ready.pop(index), names[index])
                continue
            outcome = next(outcomes)
            result = result_from_outcome(path, outcome, time_limit=time_limit, memory_limit=memory_limit)
            if cache is not None and outcome.ok and outcome.value.sha256:
                with contextlib.suppress(OSError):  # costs a hash next run; an unwritable cache is reported below
                    cache.remember_sha256(path, signatures[index], outcome.value.sha256)
            if cache is not None and worth_caching(outcome):
                result = store_quietly(cache, outcome.value.cache_key, outcome.value.entry, result)
            yield named(result, names[index])
    finally:
        outcomes.close()  # stops the workers at once, also when the caller stops early


def document_names(paths: list[Path]) -> list[str]:
    """What each file is called in the outputs: its file name, unless files in different folders share it.

    Files that share a name are called by their path from the folder they all sit in ("2023/plan.pdf" and
    "2024/plan.pdf"). Passage ids and gap-table rows are keyed by this name; two files under one name would
    be merged into one document, each other's passages offered as its evidence.
    """
    labels = [file_label(path) for path in paths]
    counts = Counter(labels)
    if all(count == 1 for count in counts.values()):
        return labels
    resolved = [path.resolve() for path in paths]
    root = Path(os.path.commonpath([path.parent for path in resolved]))
    return [display_name(path.relative_to(root).as_posix()) if counts[label] > 1 else label
            for label, path in zip(labels, resolved, strict=True)]


def file_label(path: Path) -> str:
    """The file's name as outputs show it (see display_name: bytes that are not UTF-8 escaped)."""
    return display_name(path.name)


def named(result: ExtractResult, name: str) -> ExtractResult:
    """The result with its document and problems under `name` (unchanged when that is the file name)."""
    label = file_label(result.path)
    if name == label:
        return result
    document = dataclasses.replace(result.document, name=name) if result.document is not None else None
    problems = tuple(dataclasses.replace(problem, file=name) if problem.file == label else problem
                     for problem in result.problems)
    return dataclasses.replace(result, document=document, problems=problems)


@dataclass(frozen=True)
class PendingFile:
    """A file for a worker to read: its place in the input, its password, and what stat said of it."""

    index: int
    password: str | None
    info: os.stat_result


def sort_out(paths: list[Path], cache: ExtractCache | None, *, password: str | None,
             passwords: Mapping[str, str] | None) -> tuple[dict[int, ExtractResult], list[PendingFile]]:
    """Settle what needs no worker (files failing the cheap checks, unchanged files in the cache); list the rest."""
    ready: dict[int, ExtractResult] = {}
    pending: list[PendingFile] = []
    for index, path in enumerate(paths):
        file_password = password_for(path, password, passwords)
        try:
            info = precheck(path)
        except (ExtractionError, OSError) as error:
            reason = str(error) if isinstance(error, ExtractionError) else f"cannot be read ({error.strerror or error})"
            ready[index] = ExtractResult(path, None, (Skipped(file=file_label(path), stage=STAGE, reason=reason),))
            continue
        cached = cached_unchanged(cache, path, info, file_password)
        if cached is not None:
            ready[index] = cached
        else:
            pending.append(PendingFile(index, file_password, info))
    return ready, pending


def cached_unchanged(cache: ExtractCache | None, path: Path, info: os.stat_result,
                     password: str | None) -> ExtractResult | None:
    """The cached outcome of a file unchanged since a worker hashed it, read from the cache's JSON; else None."""
    sha256 = cache.known_sha256(path, info) if cache is not None else None
    if sha256 is None:
        return None
    entry = cache.load(cache.key(sha256, extraction_settings(path, password)), name=file_label(path),
                       path=display_name(str(path)))
    return None if entry is None else result_from_entry(path, entry, from_cache=True)


def worth_caching(outcome: Outcome) -> bool:
    """A Document, or a failure that the same bytes, code and password would meet again, not from the cache."""
    if not outcome.ok or outcome.value.cache_key is None or outcome.value.from_cache:
        return False
    return isinstance(outcome.value.entry, Document) or outcome.value.entry.lasting


def password_for(path: Path, password: str | None, passwords: Mapping[str, str] | None) -> str | None:
    """The file's own password (by full path, then by name) if `passwords` has one, else the run's password."""
    if passwords:
        for name in (str(path), path.name):
            if name in passwords:
                return passwords[name]
    return password


def precheck(path: Path) -> os.stat_result:
    """The cheap checks done in the parent, before any worker: a supported type, a regular file, a fitting head.

    Nothing here reads more than the file's first bytes (and, for a DOCX, its zip
    directory): whatever grows with the file's size, hashing included, is done in
    the worker, under the file's time and memory limits. Returns what stat says
    of the file, which tells an unchanged file by its signature (see cache.py).
    """
    extractor_for(path)
    head, info = read_head(path)
    check_content(path, head)
    return info


def read_head(path: Path) -> tuple[bytes, os.stat_result]:
    """The file's first HEAD_BYTES and its stat, after checking it is a regular file; a pipe is never waited on.

    Opened without blocking and checked on the open descriptor, so a pipe or
    device (or one swapped in after the listing) is refused, not read.
    """
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError as error:
        raise ExtractionError("file not found") from error
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            raise ExtractionError("not a regular file (a folder, device or pipe)")
        return os.read(descriptor, HEAD_BYTES), info
    finally:
        os.close(descriptor)


def content_sha256(path: Path) -> str:
    """The sha256 of the file's content, read in chunks so memory stays flat whatever its size."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(HASH_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def extraction_settings(path: Path, password: str | None) -> dict[str, object]:
    """What besides content and code changes a file's outcome: which extractor reads it, and the password.

    The password goes into the cache key's hash, never into a file: a wrong
    password and then the right one are two settings, and the second is tried.
    """
    return {"suffix": path.suffix.lower(), "password": password or ""}


def extraction_fingerprint() -> str:
    """Identifies the extraction code: EXTRACTOR_VERSION, a hash of its source files, and its libraries' versions.

    Hashing the source means an edited extractor never serves Documents cached by
    the old code, even when nobody remembered to bump EXTRACTOR_VERSION.
    """
    digest = hashlib.sha256(EXTRACTOR_VERSION.encode("utf-8"))
    package = Path(__file__).resolve().parent
    sources = [source for source in sorted(package.glob("*.py")) if source.name not in NON_EXTRACTING_MODULES]
    for source in [*sources, package.parent / "clean.py", package.parent / "types.py"]:
        if source.is_file():
            digest.update(source.name.encode("utf-8") + b"\0" + source.read_bytes())
    for library in EXTRACTION_LIBRARIES:
        try:
            digest.update(f"{library}=={version(library)}".encode())
        except PackageNotFoundError:
            digest.update(f"{library} absent".encode())
    return digest.hexdigest()


def read_files(tasks: list[tuple[str, str | None, ExtractCache | None]], *, workers: int | None, time_limit: float,
               memory_limit: int | None) -> Generator[Outcome, None, None]:
    """Outcomes of extract_for_worker over `tasks`, in order: in worker processes, or here when workers=0."""
    if workers == IN_PROCESS:
        return (read_here(index, *task) for index, task in enumerate(tasks))
    return run_isolated(extract_for_worker, tasks, workers=workers, time_limit=time_limit, memory_limit=memory_limit)


def read_here(index: int, path: str, password: str | None, cache: ExtractCache | None) -> Outcome:
    """One file read in this process (workers=0): for debugging, so an unexpected exception is not caught."""
    started = time.perf_counter()
    value = extract_for_worker(path, password, cache)
    return Outcome(index, value=value, seconds=time.perf_counter() - started)


def result_from_entry(path: Path, entry: Document | FailedExtraction, **details: object) -> ExtractResult:
    if isinstance(entry, FailedExtraction):
        return ExtractResult(path, None, (Skipped(file=file_label(path), stage=STAGE, reason=entry.reason),),
                             **details)
    return ExtractResult(path, entry, note_rows(entry), **details)


def result_from_outcome(path: Path, outcome: Outcome, *, time_limit: float, memory_limit: int | None) -> ExtractResult:
    """Turn a worker's Outcome into the file's ExtractResult, with a reason a person understands."""
    timing = {"seconds": outcome.seconds, "peak_rss_bytes": outcome.peak_rss_bytes}
    if outcome.ok:
        return result_from_entry(path, outcome.value.entry, from_cache=outcome.value.from_cache, **timing)
    return ExtractResult(path, None, (Skipped(file=file_label(path), stage=STAGE,
                                              reason=failure_reason(outcome, time_limit, memory_limit)),), **timing)


def failure_reason(outcome: Outcome, time_limit: float, memory_limit: int | None) -> str:
    """Why a worker gave no answer for a file, in words; the file itself may be fine another time."""
    if outcome.failure is Failure.TIMEOUT:
        return f"took longer than {time_limit:g} s: skipped"
    if outcome.failure is Failure.MEMORY:
        limit = f"{memory_limit / 2**20:.0f} MiB" if memory_limit else "the available memory"
        return f"needed more than {limit} of memory: skipped"
    if outcome.failure is Failure.CRASHED:
        hint = f"; perhaps out of memory under the {memory_limit / 2**20:.0f} MiB limit" if memory_limit else ""
        return f"the reader crashed on this file ({outcome.message}{hint}): skipped"
    return f"extraction failed unexpectedly ({outcome.error_type}: {outcome.message[:200]})"


def note_rows(document: Document) -> tuple[Skipped, ...]:
    return tuple(Skipped(file=document.name, stage=STAGE, reason=note) for note in document.notes)


def store_quietly(cache: ExtractCache, key: str, entry: Document | FailedExtraction,
                  result: ExtractResult) -> ExtractResult:
    """Cache an outcome; a cache that cannot be written costs time, not the file, so it becomes a problem row."""
    try:
        cache.store(key, entry)
    except OSError as error:
        row = Skipped(file=file_label(result.path), stage="cache",
                      reason=f"could not be cached ({error}); it will be extracted again next run")
        return dataclasses.replace(result, problems=(*result.problems, row))
    return result
