"""Every file of the real-world PDF corpus in ../shared/pdf-corpus ends as a Document or an errors.csv row.

The corpus (118 PDFs from the test suites of PDF libraries: fuzzed, truncated,
encrypted, scanned, huge pages) is described row by row in its MANIFEST.csv; the
password-protected files carry their password as a `password=XYZ` trait.
Skipped cleanly when the shared folder is absent.
"""

import csv
import statistics
import time

import pytest

from pipeline.extract import DEFAULT_MEMORY_LIMIT_BYTES, DEFAULT_TIME_LIMIT_SECONDS, extract_all
from pipeline.types import Document, Skipped
from tests.conftest import SHARED

CORPUS = SHARED / "pdf-corpus"
MANIFEST = CORPUS / "MANIFEST.csv"
#: Seconds a killed worker may take beyond the limit before its file is reported.
LIMIT_GRACE_SECONDS = 5.0
#: The whole corpus must be read well within a CI run: a few minutes on two cores.
CORPUS_BUDGET_SECONDS = 240.0
#: "Flat in document length": the 352-page book may not need more than this many times the median file's memory.
BOOK_MEMORY_RATIO = 2.0
BOOK = "pdfjs__freeculture.pdf"

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not MANIFEST.is_file(), reason=f"no PDF corpus at {CORPUS}")]


def traits_of(row: dict) -> list[str]:
    return [trait.strip() for trait in row["traits"].split(";") if trait.strip()]


def password_of(row: dict) -> str | None:
    return next((trait.split("=", 1)[1] for trait in traits_of(row) if trait.startswith("password=")), None)


@pytest.fixture(scope="module")
def manifest() -> dict[str, dict]:
    with MANIFEST.open(encoding="utf-8", newline="") as handle:
        return {row["file"]: row for row in csv.DictReader(handle)}


@pytest.fixture(scope="module")
def corpus_run(manifest):
    """One cold run over the whole corpus, every file with its MANIFEST password; results by file name."""
    paths = sorted(CORPUS.glob("*.pdf"))
    passwords = {name: password for name, row in manifest.items() if (password := password_of(row))}
    started = time.monotonic()
    results = list(extract_all(paths, passwords=passwords, cache_dir=None))
    return paths, results, time.monotonic() - started


def reasons(result) -> str:
    return " | ".join(problem.reason for problem in result.problems)


def test_the_manifest_lists_every_pdf(manifest):
    assert {path.name for path in CORPUS.glob("*.pdf")} == set(manifest)


def test_every_file_yields_a_document_or_an_errors_row_in_input_order(corpus_run):
    paths, results, _ = corpus_run
    assert [result.path for result in results] == paths
    for result in results:
        assert result.document is not None or result.problems, result.path.name
        assert result.document is None or isinstance(result.document, Document)
        for problem in result.problems:
            assert isinstance(problem, Skipped) and problem.file == result.path.name
            assert problem.stage == "extract" and problem.reason.strip()


def test_no_file_runs_past_its_limit_and_the_corpus_fits_the_budget(corpus_run):
    _, results, elapsed = corpus_run
    slowest = max(results, key=lambda result: result.seconds)
    assert slowest.seconds <= DEFAULT_TIME_LIMIT_SECONDS + LIMIT_GRACE_SECONDS, slowest.path.name
    assert elapsed < CORPUS_BUDGET_SECONDS


def test_password_protected_files_open_with_the_manifest_passwords(manifest, corpus_run):
    _, results, _ = corpus_run
    by_name = {result.path.name: result for result in results}
    protected = [name for name, row in manifest.items() if password_of(row)]
    assert len(protected) >= 10
    unopened = {name: reasons(by_name[name]) for name in protected if by_name[name].document is None}
    assert unopened == {}


def test_files_with_an_empty_user_password_open_without_one(manifest, corpus_run):
    _, results, _ = corpus_run
    by_name = {result.path.name: result for result in results}
    open_to_all = [name for name, row in manifest.items()
                   if {"empty-user-password", "owner-password-only"} & set(traits_of(row))
                   and "image-only" not in traits_of(row)]
    assert open_to_all
    assert {name: reasons(by_name[name]) for name in open_to_all if by_name[name].document is None} == {}


def test_image_only_files_are_reported_as_needing_ocr(manifest, corpus_run):
    _, results, _ = corpus_run
    by_name = {result.path.name: result for result in results}
    image_only = [name for name, row in manifest.items() if "image-only" in traits_of(row)]
    assert len(image_only) >= 10
    assert {name: reasons(by_name[name]) for name in image_only if "OCR" not in reasons(by_name[name])} == {}


def test_protected_files_without_their_password_are_rows_that_say_so(manifest):
    protected = sorted(CORPUS / name for name, row in manifest.items() if password_of(row))
    results = list(extract_all(protected, cache_dir=None))
    assert {r.path.name: reasons(r) for r in results
            if r.document is not None or not any(w in reasons(r).lower() for w in ("encrypt", "password"))} == {}


def test_worker_memory_stays_flat_in_document_length(corpus_run):
    _, results, _ = corpus_run
    peaks = [result.peak_rss_bytes for result in results if result.peak_rss_bytes]
    book = next(result for result in results if result.path.name == BOOK)
    assert book.document is not None and book.document.page_count == 352
    assert max(peaks) < DEFAULT_MEMORY_LIMIT_BYTES
    assert book.peak_rss_bytes < BOOK_MEMORY_RATIO * statistics.median(peaks)
