"""One document, start to finish: a file -> extract, segment, classify, coverage, stance -> a DocumentResult.

This is the unit every executor runs (worker processes on this machine, or Dask workers elsewhere): a
plain function of a `SourceFile` and a `MapContext`, so the same chain runs the same way wherever it runs.
Whatever goes wrong with one file becomes a `Skipped` row of that file's result; nothing here raises
for a bad input.

A result is cached by what determines it (the file's content, the extraction code, the classifier, the
reference set and the settings), so re-mapping an unchanged document costs reading its bytes once.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.config import Settings
from pipeline.coverage import classify_document
from pipeline.extract import (
    STAGE as EXTRACT_STAGE,
)
from pipeline.extract import (
    ExtractionError,
    check_content,
    describe_failure,
    extraction_fingerprint,
    extractor_for,
    note_rows,
)
from pipeline.extract.cache import ExtractCache, FailedExtraction
from pipeline.segment import Segmenter
from pipeline.stance import read_stances
from pipeline.types import (
    CONTENT_KINDS,
    Document,
    DocumentInfo,
    DocumentResult,
    ReferenceSet,
    Skipped,
    SourceFile,
    assemble_document,
)

HASH_CHUNK_BYTES = 1 << 20
SEGMENT_STAGE = "segment"


@dataclass
class MapContext:
    """What mapping a document needs besides the file: built once per process, used for every file.

    `fingerprint` identifies the classifier, reference set, settings and code, so a cached result is
    served only to a run that would have computed the same one.
    """

    reference: ReferenceSet
    classifier: object
    settings: Settings
    fingerprint: str
    segmenter: Segmenter = field(default_factory=Segmenter)
    extract_cache: ExtractCache | None = None
    result_cache: object | None = None
    #: the stance and commitment models (pipeline/stance); None leaves evidence without a stance
    stance: object | None = None


def content_sha256(path: Path) -> str:
    """The file's sha256, read in chunks so a large file never sits in memory whole."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(HASH_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def failed(source: SourceFile, stage: str, reason: str, *, started: float,
           document: DocumentInfo | None = None) -> DocumentResult:
    return DocumentResult(source=source, document=document,
                          problems=(Skipped(file=source.name, stage=stage, reason=reason),),
                          seconds={"total": time.perf_counter() - started})


def identified(source: SourceFile, started: float) -> str | DocumentResult:
    """The file's content sha256 (its document id), or the result of a file that cannot be used at all."""
    path = Path(source.path)
    try:
        extractor_for(path)
        if not path.is_file():
            raise ExtractionError("not a regular file (a folder, device or pipe)" if path.exists()
                                  else "file not found")
        with path.open("rb") as handle:
            check_content(path, handle.read(1024))
        return content_sha256(path)
    except ExtractionError as error:
        return failed(source, EXTRACT_STAGE, str(error), started=started)
    except OSError as error:
        return failed(source, EXTRACT_STAGE, f"cannot be read ({error.strerror or error})", started=started)


def map_document(source: SourceFile, context: MapContext) -> DocumentResult:
    """Map one file; a file that cannot be used gives a result with its reason and no document."""
    started = time.perf_counter()
    sha256 = identified(source, started)
    if isinstance(sha256, DocumentResult):
        return sha256
    cache = context.result_cache
    if cache is not None:
        cached = cache.load(sha256, source)
        if cached is not None:
            return cached
    result = map_content(source, sha256, context, started=started)
    if cache is not None and result.lasting:
        cache.store(sha256, result)
    return result


def map_content(source: SourceFile, sha256: str, context: MapContext, *, started: float) -> DocumentResult:
    """The chain for a file whose content hash is known: extract, segment, classify, coverage."""
    seconds: dict[str, float] = {}
    document = extract_document(source, sha256, context)
    seconds["extract"] = time.perf_counter() - started
    if isinstance(document, FailedExtraction):
        result = failed(source, EXTRACT_STAGE, document.reason, started=started)
        return result if document.lasting else DocumentResult(source=source, document=None,
                                                               problems=result.problems, seconds=result.seconds,
                                                               lasting=False)
    info = DocumentInfo.of(document)
    problems = list(note_rows(document))
    clock = time.perf_counter()
    passages = context.segmenter.segment(document)
    seconds["segment"] = time.perf_counter() - clock
    if not passages:
        problems.append(Skipped(file=source.name, stage=SEGMENT_STAGE,
                                reason="text was extracted but no passage could be formed from it"))
    clock = time.perf_counter()
    matches, coverages = classify_document(document, passages, context.classifier, context.reference.items,
                                           context.settings)
    seconds["classify"] = time.perf_counter() - clock
    clock = time.perf_counter()
    coverages = read_stances(coverages, context.stance)
    seconds["stance"] = time.perf_counter() - clock
    seconds["total"] = time.perf_counter() - started
    return DocumentResult(source=source, document=info, passages=tuple(passages), matches=tuple(matches),
                          coverages=tuple(coverages), problems=tuple(problems), seconds=seconds)


def extract_document(source: SourceFile, sha256: str, context: MapContext) -> Document | FailedExtraction:
    """The file's Document, from the extraction cache when the same bytes were read by the same code before."""
    path = Path(source.path)
    cache = context.extract_cache
    key = cache.key(sha256, {"suffix": path.suffix.lower(), "password": source.password or ""}) if cache else None
    if cache is not None:
        entry = cache.load(key, name=source.name, path=source.path)
        if entry is not None:
            return entry
    outcome = read_document(source, sha256)
    if cache is not None and (isinstance(outcome, Document) or outcome.lasting):
        with contextlib.suppress(OSError):  # a cache that cannot be written costs time next run, not this file
            cache.store(key, outcome)
    return outcome


def read_document(source: SourceFile, sha256: str) -> Document | FailedExtraction:
    """Run the file's extractor; a failure is a reason a person understands, lasting unless it was I/O."""
    path = Path(source.path)
    extractor = extractor_for(path)
    try:
        extracted = extractor(str(path), password=source.password)
    except MemoryError:
        raise  # the worker reports it as a memory failure; this file is not to blame for ever
    except ExtractionError as error:
        return FailedExtraction(reason=str(error))
    except OSError as error:
        return FailedExtraction(reason=f"cannot be read ({error.strerror or error})", lasting=False)
    except Exception as error:  # every library fails in its own way; the reason is what matters here
        return FailedExtraction(reason=describe_failure(path, error))
    document = assemble_document(name=source.name, path=source.path, sha256=sha256,
                                 page_count=extracted.page_count, blocks=extracted.blocks,
                                 extractor=f"{extracted.engine or extractor.__name__}",
                                 notes=tuple(extracted.notes))
    if not any(block.kind in CONTENT_KINDS for block in document.blocks):
        hint = "; scanned pages need OCR" if path.suffix.lower() == ".pdf" else ""
        details = "; ".join(extracted.notes)
        return FailedExtraction(reason=f"no text found in {extracted.page_count} page(s){hint}"
                                       + (f" ({details})" if details else ""))
    return document


def code_fingerprint() -> str:
    """Extraction code and libraries, the segmenter's, coverage stage's and run classifier's source.

    The learned model's own code is in its training hash, so in the model file's sha256, which the result
    cache key holds too; classify/frameworks.py and classify/highlight.py run at map time only (training
    leaves them out, pipeline/training.py RUN_TIME_ONLY), so they are named here.
    """
    digest = hashlib.sha256(extraction_fingerprint().encode())
    package = Path(__file__).resolve().parent.parent
    for name in ("segment.py", "coverage.py", "config.py", "types.py", "run/document.py", "classify/frameworks.py",
                 "classify/highlight.py"):
        digest.update((package / name).read_bytes())
    return digest.hexdigest()
