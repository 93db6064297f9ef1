"""Stage 1, extract: files -> Documents, or a Skipped row saying which file failed and why.

Dispatch is by extension, after a check that the bytes are what the extension
claims (a `.pdf` that is really an HTML page is reported, not parsed).
"""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from pipeline.extract.docx import extract_docx
from pipeline.extract.html import extract_html
from pipeline.extract.pdf import extract_pdf
from pipeline.extract.text import decode_text, parse_text
from pipeline.types import CONTENT_KINDS, Document, Extracted, Skipped, assemble_document

Extractor = Callable[..., Extracted]

#: Version of the extraction logic; part of what identifies an extracted Document.
EXTRACTOR_VERSION = "1"


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


def list_inputs(folder: Path | str) -> list[Path]:
    """Every non-hidden file under `folder`, in a stable order; unsupported ones are reported later."""
    folder = Path(folder)
    if folder.is_file():
        return [folder]
    if not folder.is_dir():
        raise FileNotFoundError(f"input folder {folder} does not exist")
    return sorted(path for path in folder.rglob("*")
                  if path.is_file() and not any(part.startswith(".") for part in path.relative_to(folder).parts))


def extract_file(path: Path | str, *, password: str | None = None) -> Document:
    """Extract one file or raise ExtractionError with a reason a person understands."""
    path = Path(path)
    extractor = EXTRACTORS.get(path.suffix.lower())
    if extractor is None:
        supported = ", ".join(sorted(EXTRACTORS))
        raise ExtractionError(f"unsupported file type {path.suffix or '(none)'!r}; promise-map reads {supported}")
    data = path.read_bytes()
    if not data:
        raise ExtractionError("empty file (0 bytes)")
    check_content_matches_suffix(path, data)
    try:
        extracted = extractor(str(path), password=password)
    except ExtractionError:
        raise
    except Exception as error:  # every library fails in its own way; the reason is what matters here
        raise ExtractionError(describe_failure(path, error)) from error
    document = assemble_document(name=path.name, path=str(path), sha256=hashlib.sha256(data).hexdigest(),
                                 page_count=extracted.page_count, blocks=extracted.blocks,
                                 extractor=f"{extracted.engine or extractor.__name__}/{EXTRACTOR_VERSION}",
                                 notes=tuple(extracted.notes))
    if not any(block.kind in CONTENT_KINDS for block in document.blocks):
        hint = "; scanned pages need OCR" if path.suffix.lower() == ".pdf" else ""
        details = "; ".join(extracted.notes)
        raise ExtractionError(f"no text found in {extracted.page_count} page(s){hint}"
                              + (f" ({details})" if details else ""))
    return document


def check_content_matches_suffix(path: Path, data: bytes) -> None:
    suffix = path.suffix.lower()
    if suffix == ".pdf" and b"%PDF-" not in data[:1024]:
        raise ExtractionError(f"not a PDF: the file starts with {data[:16]!r}; is it mislabelled?")
    if suffix == ".docx" and not (data.startswith(b"PK") and zipfile.is_zipfile(path)):
        raise ExtractionError("not a DOCX (Word 2007+) file: it is not a zip package; is it mislabelled or a .doc?")


def describe_failure(path: Path, error: Exception) -> str:
    """Name the cause in words: encryption, damage, or the library's own message."""
    name = type(error).__name__
    message = str(error).strip() or name
    if "Password" in name or "password" in message.lower() or "encrypt" in message.lower():
        return f"encrypted: the password given (or the empty password) does not open it ({name})"
    if path.suffix.lower() == ".pdf":
        return f"damaged or unreadable PDF ({name}: {message[:200]})"
    return f"cannot be read ({name}: {message[:200]})"


@dataclass(frozen=True)
class ExtractResult:
    """One input file's outcome: a Document (or None) and the problems to report for it.

    A file can yield both: a Document whose scanned pages could not be read
    still maps the rest, and says which pages need OCR.
    """

    path: Path
    document: Document | None
    problems: tuple[Skipped, ...] = ()


def extract_all(paths: list[Path], *, password: str | None = None) -> Iterator[ExtractResult]:
    """Each path becomes a Document, a reported problem, or both; one bad file never stops the rest."""
    for path in paths:
        try:
            document = extract_file(path, password=password)
        except (ExtractionError, OSError) as error:
            yield ExtractResult(path, None, (Skipped(file=path.name, stage="extract", reason=str(error)),))
            continue
        notes = tuple(Skipped(file=path.name, stage="extract", reason=note) for note in document.notes)
        yield ExtractResult(path, document, notes)
