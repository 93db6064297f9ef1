"""The command line: thin commands, and the one place where the stages are chained.

promise-map map FOLDER --out outputs/my-run
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from tqdm import tqdm

from pipeline import __version__
from pipeline.classify import QuoteTfidfClassifier
from pipeline.config import Settings
from pipeline.coverage import compute_coverage
from pipeline.extract import EXTRACTORS, extract_all, list_inputs
from pipeline.reference import ReferenceError, load_reference
from pipeline.report import write_reports
from pipeline.segment import Segmenter
from pipeline.types import Coverage, Document, ReferenceSet, Skipped, Status

DEFAULT_REFERENCE_DIR = Path(__file__).resolve().parent.parent / "reference"

app = typer.Typer(help="Map policy documents against The Promise and write gap tables.", no_args_is_help=True,
                  add_completion=False)


@app.callback()
def main() -> None:
    """promise-map: how documents measure up against The Promise, item by item, with evidence."""


@app.command("map")
def map_command(
    corpus: Annotated[Path, typer.Argument(help="Folder of documents (PDF, DOCX, HTML, TXT, Markdown), or one file.")],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Output folder (default: outputs/CORPUS).")] = None,
    reference: Annotated[Path, typer.Option(help="Folder of reference set files.")] = DEFAULT_REFERENCE_DIR,
    password: Annotated[str | None, typer.Option(help="Password for encrypted PDFs (empty one tried).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or summary table.")] = False,
) -> None:
    """Extract, segment, classify and report coverage for every document in CORPUS."""
    console = Console(stderr=True, quiet=quiet)
    try:
        reference_set = load_reference(reference)
        paths = list_inputs(corpus)
    except (ReferenceError, FileNotFoundError) as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(code=2) from error
    if not paths:
        console.print(f"[red]error:[/red] no files in {corpus}; supported types: {', '.join(sorted(EXTRACTORS))}")
        raise typer.Exit(code=2)
    out = out or Path("outputs") / corpus.resolve().name
    settings = Settings(password=password)
    result = run_map(paths, reference_set, settings, show_progress=not quiet)
    record = run_record(corpus, reference_set, settings, result)
    written = write_reports(out, coverages=result["coverages"], passages=result["passages"],
                            matches=result["matches"], skipped=result["skipped"], run_record=record)
    print_summary(console, result["documents"], result["coverages"], result["skipped"])
    console.print(f"wrote {len(written)} files to {out}/")


def run_map(paths: list[Path], reference_set: ReferenceSet, settings: Settings, *, show_progress: bool) -> dict:
    """Chain the stages over `paths`; returns every stage's output and its timings."""
    timings: dict[str, float] = {}
    started = time.perf_counter()
    documents: list[Document] = []
    skipped: list[Skipped] = []
    for result in tqdm(extract_all(paths, password=settings.password), total=len(paths), desc="extract",
                       unit="file", disable=not show_progress):
        if result.document is not None:
            documents.append(result.document)
        skipped.extend(result.problems)
    timings["extract"] = time.perf_counter() - started

    started = time.perf_counter()
    segmenter = Segmenter()
    passages = []
    for document in documents:
        document_passages = segmenter.segment(document)
        if not document_passages:
            skipped.append(Skipped(file=document.name, stage="segment",
                                   reason="text was extracted but no passage could be formed from it"))
        passages.extend(document_passages)
    timings["segment"] = time.perf_counter() - started

    started = time.perf_counter()
    classifier = QuoteTfidfClassifier().fit(reference_set.items)
    matches = classifier.predict(passages)
    timings["classify"] = time.perf_counter() - started

    started = time.perf_counter()
    coverages = compute_coverage(documents, reference_set.items, passages, matches, settings)
    timings["coverage"] = time.perf_counter() - started
    return {"documents": documents, "skipped": skipped, "passages": passages, "matches": matches,
            "coverages": coverages, "timings": timings, "classifier": type(classifier).__name__}


def run_record(corpus: Path, reference_set: ReferenceSet, settings: Settings, result: dict) -> dict:
    """What a reader needs to cite and reproduce the run: reference versions, settings, inputs, timings."""
    return {
        "tool": {"name": "promise-map", "version": __version__},
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "corpus": str(corpus),
        "reference": {
            "sha256": reference_set.sha256,
            "frameworks": [{"id": fw.id, "name": fw.name, "version": fw.version, "source": fw.source,
                            "items": len(fw.items)} for fw in reference_set.frameworks],
        },
        "classifier": result["classifier"],
        "settings": settings.to_dict(),
        "inputs": [{"file": d.name, "sha256": d.sha256, "pages": d.page_count, "extractor": d.extractor}
                   for d in result["documents"]],
        "skipped": [{"file": s.file, "stage": s.stage, "reason": s.reason} for s in result["skipped"]],
        "counts": {"documents": len(result["documents"]), "passages": len(result["passages"]),
                   "matches": len(result["matches"]), "skipped": len(result["skipped"])},
        "timings_seconds": {stage: round(seconds, 3) for stage, seconds in result["timings"].items()},
    }


def print_summary(console: Console, documents: list[Document], coverages: list[Coverage],
                  skipped: list[Skipped]) -> None:
    table = Table(title="Coverage by document")
    for column in ("document", "pages", "framework", "covered", "partial", "missing"):
        table.add_column(column, justify="right" if column in ("pages", "covered", "partial", "missing") else "left")
    for document in documents:
        by_framework: dict[str, Counter] = {}
        for coverage in coverages:
            if coverage.doc == document.name:
                by_framework.setdefault(coverage.item.framework, Counter())[coverage.status] += 1
        for framework, counts in by_framework.items():
            table.add_row(document.name, str(document.page_count), framework,
                          *(str(counts[status]) for status in (Status.COVERED, Status.PARTIAL, Status.MISSING)))
    console.print(table)
    for item in skipped:
        console.print(f"[yellow]skipped[/yellow] {item.file} ({item.stage}): {item.reason}")


if __name__ == "__main__":
    app()
