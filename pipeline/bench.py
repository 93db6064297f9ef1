"""Benchmarks: `python -m pipeline.bench` measures extraction and writes outputs/bench/<section>.json.

Extraction is measured on the real-world PDF corpus (../shared/pdf-corpus) in the
same run as a raw pypdfium2 pass over the same pages (`get_text_range()` on every
page, one process), before and after our run, so the ratio between the two holds
on a noisy machine. Our run is the one a map does: `extract_all` with its workers,
limits and cleaning, from a cold cache; then again from the warm cache.

Sections are functions registered in SECTIONS; each returns a record and a
one-line summary. A classification section is added by writing
`bench_classify(options) -> SectionResult` and registering it under "classify"
(it then writes outputs/bench/classify.json).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path

from pipeline.extract import DEFAULT_MEMORY_LIMIT_BYTES, DEFAULT_TIME_LIMIT_SECONDS, extract_all
from pipeline.extract.worker import default_worker_count
from pipeline.files import write_atomic

#: Throughput the issue asks of extraction + cleaning, as a share of raw pypdfium2's.
TARGET_RATIO_TO_PYPDFIUM2 = 0.35
#: The re-run over an unchanged corpus may take at most this share of the cold run.
TARGET_WARM_TO_COLD = 0.05
DEFAULT_OUT_DIR = Path("outputs") / "bench"
MANIFEST_NAME = "MANIFEST.csv"
SLOWEST_FILES_SHOWN = 5
MIB = 2**20


def default_corpus_dir() -> Path:
    """../shared/pdf-corpus beside the repository this module lives in."""
    return Path(__file__).resolve().parent.parent.parent / "shared" / "pdf-corpus"


@dataclass(frozen=True)
class BenchOptions:
    """What every section gets: where the inputs are, where records go, and the run's knobs."""

    corpus_dir: Path
    out_dir: Path = DEFAULT_OUT_DIR
    workers: int | None = None
    time_limit: float = DEFAULT_TIME_LIMIT_SECONDS
    memory_limit: int = DEFAULT_MEMORY_LIMIT_BYTES


@dataclass(frozen=True)
class SectionResult:
    """A section's record (written as JSON) and its one-line summary (printed)."""

    record: dict
    summary: str


@dataclass
class RawPass:
    """A plain pypdfium2 pass: which files it opened, their pages, and how long it took."""

    pages_by_file: dict[Path, int] = field(default_factory=dict)
    unopened: list[str] = field(default_factory=list)
    seconds: float = 0.0


def corpus_files(corpus_dir: Path) -> tuple[list[Path], dict[str, str]]:
    """The corpus' PDFs in a stable order and the passwords its MANIFEST lists (`password=XYZ` traits)."""
    if not corpus_dir.is_dir():
        raise FileNotFoundError(f"no corpus at {corpus_dir}; pass --corpus")
    passwords: dict[str, str] = {}
    manifest = corpus_dir / MANIFEST_NAME
    if manifest.is_file():
        with manifest.open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                for trait in row.get("traits", "").split(";"):
                    if trait.strip().startswith("password="):
                        passwords[row["file"]] = trait.strip().split("=", 1)[1]
    return sorted(corpus_dir.glob("*.pdf")), passwords


def read_every_page(document) -> None:
    """Read every page's text of an open pypdfium2 document with get_text_range(): the raw text pass."""
    for index in range(len(document)):
        page = document[index]
        text_page = page.get_textpage()
        text_page.get_text_range()
        text_page.close()
        page.close()


def raw_pypdfium2_pass(files: list[Path], passwords: dict[str, str]) -> RawPass:
    """Open each PDF, read every page's text with get_text_range(), close; files it cannot open are listed."""
    import pypdfium2 as pdfium

    raw = RawPass()
    started = time.perf_counter()
    for path in files:
        try:
            document = pdfium.PdfDocument(str(path), password=passwords.get(path.name))
        except pdfium.PdfiumError:
            raw.unopened.append(path.name)
            continue
        try:
            read_every_page(document)
            raw.pages_by_file[path] = len(document)
        except pdfium.PdfiumError:
            raw.unopened.append(path.name)
        finally:
            document.close()
    raw.seconds = time.perf_counter() - started
    return raw


def timed_extraction(files: list[Path], passwords: dict[str, str], options: BenchOptions,
                     cache_dir: Path) -> tuple[list, float]:
    started = time.perf_counter()
    results = list(extract_all(files, passwords=passwords, workers=options.workers, cache_dir=cache_dir,
                               time_limit=options.time_limit, memory_limit=options.memory_limit))
    return results, time.perf_counter() - started


def bench_extract(options: BenchOptions) -> SectionResult:
    """Extraction + cleaning throughput against raw pypdfium2, worker memory, and the cached re-run."""
    files, passwords = corpus_files(options.corpus_dir)
    raw_before = raw_pypdfium2_pass(files, passwords)
    measured = sorted(raw_before.pages_by_file)  # the same files, so the same pages, for both readers
    pages = sum(raw_before.pages_by_file.values())
    with tempfile.TemporaryDirectory(prefix="promise-map-bench-") as cache_dir:
        cold, cold_seconds = timed_extraction(measured, passwords, options, Path(cache_dir))
        warm, warm_seconds = timed_extraction(measured, passwords, options, Path(cache_dir))
    raw_after = raw_pypdfium2_pass(measured, passwords)
    raw_seconds = (raw_before.seconds + raw_after.seconds) / 2
    ours_rate, raw_rate = pages / cold_seconds, pages / raw_seconds
    peaks = [result.peak_rss_bytes for result in cold if result.peak_rss_bytes]
    workers = options.workers or default_worker_count()
    busy_seconds = sum(result.seconds for result in cold)
    longest = max(cold, key=lambda result: raw_before.pages_by_file[result.path])
    slowest = sorted(cold, key=lambda result: result.seconds, reverse=True)[:SLOWEST_FILES_SHOWN]
    record = {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "corpus": str(options.corpus_dir),
        "files": len(measured),
        "files_pypdfium2_could_not_open": raw_before.unopened,
        "pages": pages,
        "workers": workers,
        "seconds": round(cold_seconds, 3),
        "pages_per_second": round(ours_rate, 1),
        # Time the workers spent reading files, and the share of the workers' wall time it filled: what is
        # left is starting workers, waiting for the last file, and the parent's own work.
        "extraction_seconds_sum": round(busy_seconds, 3),
        "pool_efficiency": round(busy_seconds / (cold_seconds * workers), 3),
        "raw_pypdfium2": {"cores": 1, "seconds_before": round(raw_before.seconds, 3),
                          "seconds_after": round(raw_after.seconds, 3), "pages_per_second": round(raw_rate, 1)},
        "ratio_to_pypdfium2": round(ours_rate / raw_rate, 3),
        "target_ratio_to_pypdfium2": TARGET_RATIO_TO_PYPDFIUM2,
        "files_without_document": sum(result.document is None for result in cold),
        "peak_rss_mb": {
            "worker_max": round(max(peaks, default=0) / MIB, 1),
            "worker_median": round(statistics.median(peaks) / MIB, 1) if peaks else 0.0,
            "longest_document": {"file": longest.path.name, "pages": raw_before.pages_by_file[longest.path],
                                 "peak_rss_mb": round(longest.peak_rss_bytes / MIB, 1)},
            "parent": round(parent_peak_rss_bytes() / MIB, 1),
        },
        "cache": {"cold_seconds": round(cold_seconds, 3), "warm_seconds": round(warm_seconds, 3),
                  "warm_to_cold": round(warm_seconds / cold_seconds, 4),
                  "hits": sum(result.from_cache for result in warm),
                  "documents": sum(result.document is not None for result in cold),
                  "target_warm_to_cold": TARGET_WARM_TO_COLD},
        "slowest_files": [{"file": result.path.name, "seconds": round(result.seconds, 3),
                           "peak_rss_mb": round(result.peak_rss_bytes / MIB, 1)} for result in slowest],
        "limits": {"time_seconds": options.time_limit, "memory_mb": round(options.memory_limit / MIB)},
        "machine": {"cores": os.cpu_count(), "python": platform.python_version(),
                    "pypdfium2": version("pypdfium2"), "pdfplumber": version("pdfplumber")},
    }
    summary = (f"extract: {pages} pages in {cold_seconds:.1f} s = {ours_rate:.0f} pages/s with "
               f"{workers} workers, {record['ratio_to_pypdfium2']:.2f}x raw pypdfium2 "
               f"({raw_rate:.0f} pages/s, 1 core; target {TARGET_RATIO_TO_PYPDFIUM2}x); worker peak RSS "
               f"{record['peak_rss_mb']['worker_max']:.0f} MB (median {record['peak_rss_mb']['worker_median']:.0f}, "
               f"{longest.path.name} {record['peak_rss_mb']['longest_document']['peak_rss_mb']:.0f}); cached re-run "
               f"{warm_seconds:.2f} s = {100 * warm_seconds / cold_seconds:.1f}% of cold")
    return SectionResult(record=record, summary=summary)


#: Classification throughput the accuracy issue asks for, on the 2-core machine.
TARGET_PASSAGES_PER_SECOND = 2000
#: The sample corpus's passages are classified this many times over, so the timing is not dominated by noise.
CLASSIFY_REPEATS = 5
SAMPLE_CORPUS = Path(__file__).resolve().parent.parent / "corpora" / "sample"


def bench_classify(options: BenchOptions) -> SectionResult:
    """Passages per second of the map's classifiers (scoring and the decision rule) over the sample's passages."""
    from pipeline.classify import LexicalClassifier, load_lexicon
    from pipeline.reference import reference_for_run
    from pipeline.segment import segment_documents
    from pipeline.training import DEFAULT_LEXICON, DEFAULT_MODEL_PATH, run_classifier

    reference_set = reference_for_run()
    documents = [r.document for r in extract_all(sorted(SAMPLE_CORPUS.glob("*")), cache_dir=None) if r.document]
    texts = [passage.text for passage in segment_documents(documents)] * CLASSIFY_REPEATS
    learned = run_classifier(DEFAULT_MODEL_PATH, reference_set, say=lambda message: print(message, file=sys.stderr))
    lexical = LexicalClassifier(lexicon=load_lexicon(DEFAULT_LEXICON)).fit(reference_set.items)
    record: dict = {"created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    "passages": len(texts), "repeats": CLASSIFY_REPEATS,
                    "target_passages_per_second": TARGET_PASSAGES_PER_SECOND, "classifiers": {}}
    for name, classifier in (("learned", learned), ("lexical", lexical)):
        classifier.score(texts[:50])  # warm caches (lemma table, lexicon)
        started = time.perf_counter()
        scored = classifier.score(texts)
        decided = int(classifier.rule.passage_decisions(scored.scores).sum())
        seconds = time.perf_counter() - started
        record["classifiers"][name] = {"seconds": round(seconds, 3), "passage_item_decisions": decided,
                                       "passages_per_second": round(len(texts) / seconds)}
    record["peak_rss_mb"] = round(parent_peak_rss_bytes() / MIB)
    rates = {name: figures["passages_per_second"] for name, figures in record["classifiers"].items()}
    summary = (f"classify: {len(texts)} passages in one process, learned {rates['learned']} passages/s, lexical "
               f"{rates['lexical']} passages/s (target {TARGET_PASSAGES_PER_SECOND} on 2 cores); "
               f"peak RSS {record['peak_rss_mb']} MB")
    return SectionResult(record=record, summary=summary)


def bench_scale_section(options: BenchOptions) -> SectionResult:
    """The thousand-documents figures (pipeline/bench_scale.py)."""
    from pipeline.bench_scale import bench_scale

    record, summary = bench_scale(options.out_dir)
    return SectionResult(record=record, summary=summary)


def parent_peak_rss_bytes() -> int:
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


#: Benchmark sections by name; each writes outputs/bench/<name>.json.
SECTIONS: dict[str, Callable[[BenchOptions], SectionResult]] = {
    "extract": bench_extract,
    "classify": bench_classify,
    "scale": bench_scale_section,
}


def run_section(name: str, options: BenchOptions) -> SectionResult:
    """Run one section, write its record atomically to <out_dir>/<name>.json and return it."""
    result = SECTIONS[name](options)
    write_atomic(options.out_dir / f"{name}.json",
                 (json.dumps(result.record, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
    return result


def parse_arguments(argv: list[str] | None) -> tuple[list[str], BenchOptions]:
    parser = argparse.ArgumentParser(prog="python -m pipeline.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=None, help="folder of PDFs (default: ../shared/pdf-corpus)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT_DIR, help="where the JSON records go")
    parser.add_argument("--only", choices=sorted(SECTIONS), action="append", help="run only these sections")
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: one per core)")
    arguments = parser.parse_args(argv)
    options = BenchOptions(corpus_dir=arguments.corpus or default_corpus_dir(), out_dir=arguments.out,
                           workers=arguments.workers)
    return arguments.only or list(SECTIONS), options


def main(argv: list[str] | None = None) -> int:
    names, options = parse_arguments(argv)
    for name in names:
        try:
            result = run_section(name, options)
        except FileNotFoundError as error:
            print(f"bench {name}: {error}", file=sys.stderr)
            return 2
        print(result.summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
