"""The command line: thin commands, and the one place where the stages are chained.

promise-map map FOLDER --out outputs/my-run
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from tqdm import tqdm

from pipeline import __version__
from pipeline.classify import LexicalClassifier, PromiseClassifier, load_lexicon
from pipeline.classify.calibrate import PARTIAL_SHARE
from pipeline.classify.frameworks import FrameworkClassifier, framework_methods
from pipeline.classify.persist import ModelFileError
from pipeline.cli_codebook import codebook_app
from pipeline.cli_review import review_command, reviews_app
from pipeline.compare import CompareError, compare_documents, read_verdicts
from pipeline.config import Settings
from pipeline.console import EXIT_BAD_INPUT, EXIT_NOTHING_MAPPED, fail, framework_names, shown, stderr_console
from pipeline.display import visible_controls
from pipeline.evaluate import (
    GoldFileError,
    document_verdicts,
    evaluate,
    evaluate_folder,
    format_documents_report,
    format_report,
    load_labelled,
)
from pipeline.extract import EXTRACTORS, document_names, scan_inputs
from pipeline.files import display_name
from pipeline.reference import ReferenceError, reference_for_run
from pipeline.report import write_comparison, write_json, write_reports
from pipeline.review.apply import ReviewBook
from pipeline.review.passages import format_review_figures, judgements, review_figures
from pipeline.review.store import ReviewStore
from pipeline.run.cache import default_cache_dir
from pipeline.run.context import ContextSpec, file_sha256, result_cache_of
from pipeline.run.corpus import Executor, RunTotals, map_corpus, store_path
from pipeline.run.executors import served_from_cache
from pipeline.run.output import OutputFolderError, check_output_folder, staged_output
from pipeline.run.report_cache import ReportCache
from pipeline.run.rerun import as_served_from_cache, run_key, totals_of_store
from pipeline.run.store import STORE_FILE, RunStore
from pipeline.stance.training import (
    DEFAULT_STANCE_MODEL,
    ensure_stance_model,
    format_stance_figures,
    gold_figures,
    stance_agreement,
    stance_passages,
)
from pipeline.stance.training import cross_validate as stance_cross_validate
from pipeline.training import (
    DEFAULT_LABELLED_DIR,
    DEFAULT_LEXICON,
    DEFAULT_MODEL_PATH,
    cross_validate,
    load_training_data,
    run_classifier,
    save_model,
    train_all,
    training_reference,
    transfer_validate,
    with_reviews,
)
from pipeline.types import DocumentResult, ReferenceSet, Skipped, SourceFile, Status

CLASSIFIERS = ("learned", "lexical")

app = typer.Typer(help="Map policy documents against The Promise and write gap tables.", no_args_is_help=True,
                  add_completion=False)
app.add_typer(codebook_app, name="codebook")
app.command("review")(review_command)
app.add_typer(reviews_app, name="reviews")


@app.callback()
def main() -> None:
    """promise-map: how documents measure up against The Promise, item by item, with evidence."""


@app.command("map")
def map_command(
    corpus: Annotated[Path, typer.Argument(help="Folder of documents (PDF, DOCX, HTML, TXT, Markdown), or one file.")],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Output folder (default: outputs/CORPUS).")] = None,
    reference: Annotated[list[Path] | None, typer.Option(
        help="A folder of your own framework files (repeatable); they run along with the default frameworks "
             "unless --framework names others.")] = None,
    framework: Annotated[str | None, typer.Option(
        help="Comma-separated frameworks to run, shipped or from --reference (default: the shipped defaults, "
             "calls_to_action,inspection_principles, plus every --reference framework).")] = None,
    password: Annotated[str | None, typer.Option(help="Password for encrypted PDFs (empty one tried).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or summary table.")] = False,
    classifier: Annotated[str, typer.Option(help="learned (default) or lexical (no training data).")] = "learned",
    model: Annotated[Path, typer.Option(help="Saved model from `promise-map train`.")] = DEFAULT_MODEL_PATH,
    cache_dir: Annotated[Path | None, typer.Option(
        help="Per-document results kept between runs (default: $XDG_CACHE_HOME/promise-map or "
             "~/.cache/promise-map).")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Map every document afresh; keep nothing.")] = False,
    workers: Annotated[int | None, typer.Option(
        help="Worker processes (default: one per core; 0 maps in this process, without limits).")] = None,
    dask: Annotated[str | None, typer.Option(
        help="Map on a dask.distributed cluster: a scheduler address (tcp://host:8786) or `local`.")] = None,
    reviews: Annotated[Path | None, typer.Option(
        help="A review store (reviews.sqlite, from `promise-map review`): every output shows the reviewers' "
             "decisions, the machine's status beside them.")] = None,
    stance_model: Annotated[Path, typer.Option(
        help="Saved stance and commitment models (trained from corpora/labelled/stance.jsonl first if missing "
             "or stale).")] = DEFAULT_STANCE_MODEL,
) -> None:
    """Extract, segment, classify and report coverage for every document in CORPUS."""
    console = stderr_console(quiet=quiet)
    out = out or Path("outputs") / corpus.resolve().name
    try:
        check_output_folder(out, corpus)
        reference_set = reference_for_run(reference or [], framework_names(framework))
        listing = scan_inputs(corpus, exclude=[out])
        check_inputs(corpus, listing.paths, listing.skipped)
        review_book = None if reviews is None else ReviewBook(ReviewStore(reviews, create=False))
        chosen = build_classifier(classifier, reference_set, model, console)
        ensure_stance_model(stance_model, say=lambda message: console.print(shown(message)))
    except (ReferenceError, FileNotFoundError, GoldFileError, ValueError, ModelFileError) as error:
        raise fail(str(error), code=EXIT_BAD_INPUT) from error
    settings = Settings(password=password)
    spec = ContextSpec(reference_dirs=tuple(str(path.resolve()) for path in reference or []),
                       frameworks=tuple(fw.id for fw in reference_set.frameworks), classifier=classifier,
                       model_path=None if classifier == "lexical" else str(model.resolve()),
                       model_sha256=None if classifier == "lexical" else file_sha256(model), settings=settings,
                       cache_dir=None if no_cache else str((cache_dir or default_cache_dir()).resolve()),
                       stance_model_path=str(stance_model.resolve()), stance_model_sha256=file_sha256(stance_model))
    executor = Executor(workers=workers, dask=dask)
    sources = sources_of(corpus, listing.paths, password)
    reports_cache = None if spec.cache_dir is None else ReportCache(spec.cache_dir)
    served = check_cache_with_progress(sources, spec, reference_set, show_progress=not quiet)
    # A run with reviews applies them as it stores each result: it maps from the cache, never copies a store.
    key = None if reports_cache is None or review_book is not None else run_key(
        sources, served, fingerprint=spec.fingerprint(reference_set.sha256), skipped=listing.skipped,
        corpus=display_name(str(corpus)), corpus_folder=str(corpus_folder(corpus)), out_dir=out)
    try:
        with staged_output(out) as staging:
            started = time.perf_counter()
            restored = key is not None and reports_cache.restore_run(key, staging, STORE_FILE)
            if restored:
                store = RunStore(store_path(staging))
                as_served_from_cache(store)
                totals = totals_of_store(store, wall_seconds=time.perf_counter() - started)
            else:
                store = RunStore(store_path(staging), create=True)
                store.add_problems(listing.skipped)
                totals = map_with_progress(sources, spec, store, executor, show_progress=not quiet,
                                           reviews=review_book, reference=reference_set, served=served)
            record = run_record(corpus, reference_set, settings, store, totals, chosen, executor,
                                reviews=review_book, stance_sha256=spec.stance_model_sha256)
            written = write_reports(staging, store=store, reference=reference_set, run_record=record,
                                    cache=reports_cache, run_key=None if totals.transient else key,
                                    restored=restored)
            summary, problems = summary_table(store, reference_set), store.problems()
            store.close()
    except OutputFolderError as error:
        raise fail(str(error), code=EXIT_BAD_INPUT) from error
    except OSError as error:
        raise fail(f"could not write the outputs ({error.strerror or error}); {out} is as it was",
                   code=EXIT_BAD_INPUT) from error
    print_summary(console, summary, problems)
    console.print(f"wrote {len(written)} files to {shown(str(out))}/")
    # Every verdict of a run that formed no passage is "missing" for want of text, not of content: a batch
    # job must not take that gap table for a finding. One mapped document is success; errors.csv lists the rest.
    if not totals.passages:
        raise fail(f"no document could be mapped: none of the {len(listing.paths)} files gave a passage to "
                   f"classify; the reasons are in {out / 'errors.csv'}", code=EXIT_NOTHING_MAPPED)


def sources_of(corpus: Path, paths: list[Path], password: str | None) -> list[SourceFile]:
    """The run's input files in order, each with the name the outputs give it and its path in the corpus."""
    return [SourceFile(index=index, path=str(path), name=name, relative=path_in(corpus, str(path)), password=password)
            for index, (path, name) in enumerate(zip(paths, document_names(paths), strict=True))]


def check_cache_with_progress(sources: list[SourceFile], spec: ContextSpec, reference: ReferenceSet, *,
                              show_progress: bool) -> list:
    """executors.served_from_cache with a progress bar of files hashed (nothing to do without a cache)."""
    cache = result_cache_of(spec, reference)
    with tqdm(sources, desc="check cache", unit="file", disable=not show_progress or cache is None) as files:
        return served_from_cache(files, cache)


def map_with_progress(sources: list[SourceFile], spec: ContextSpec, store: RunStore, executor: Executor, *,
                      show_progress: bool, reviews: ReviewBook | None = None,
                      reference: ReferenceSet | None = None, served: list | None = None) -> RunTotals:
    """map_corpus with a progress bar of files mapped (and how many came from the cache)."""
    with tqdm(total=len(sources), desc="map", unit="file", disable=not show_progress) as bar:
        def advance(result: DocumentResult) -> None:
            bar.update()
            if result.from_cache:
                bar.set_postfix_str("from cache", refresh=False)

        return map_corpus(sources, spec, store, executor=executor, on_result=advance, reviews=reviews,
                          reference=reference, served=served)


def check_inputs(corpus: Path, paths: list[Path], left_out: list | tuple = ()) -> None:
    """Raise ValueError when `corpus` holds nothing promise-map can read, before anything is trained or written.

    Rule: a run needs at least one file of a supported type. Rationale: a folder of only `.rtf` or `.png`
    files would otherwise give a gap table of 0 documents and exit 1 ("mapped nothing"), as if the files had
    been tried and failed; the README promises exit 2 ("could not start") and the fix is the same as for an
    empty folder: point at the right folder or convert the files.
    """
    supported = ", ".join(sorted(EXTRACTORS))
    if not paths:
        rows = "".join(f"; left out: {row.file} ({row.reason})" for row in left_out)
        raise ValueError(f"no files in {corpus}; supported types: {supported}{rows}")
    if not any(path.suffix.lower() in EXTRACTORS for path in paths):
        found = ", ".join(sorted({path.suffix.lower() or "(no extension)" for path in paths}))
        files = f"{len(paths)} file is" if len(paths) == 1 else f"{len(paths)} files are"
        raise ValueError(f"no supported files in {corpus}: its {files} of type {found}; promise-map reads "
                         f"{supported} (convert them, e.g. to PDF or DOCX)")


def build_classifier(kind: str, reference_set: ReferenceSet, model_path: Path,
                     console: Console) -> LexicalClassifier | FrameworkClassifier:
    """The classifier a run uses: the saved learned model (trained first if missing or stale), or the lexical one.

    The learned model scores the items it was trained on; the run's other items are scored zero-shot.

    Raises ModelFileError for a model file that is not one promise-map wrote (a pickle is never loaded).
    """
    if kind not in CLASSIFIERS:
        raise ValueError(f"unknown classifier {kind!r}; choose one of {', '.join(CLASSIFIERS)}")
    if kind == "lexical":
        return LexicalClassifier(lexicon=load_lexicon(DEFAULT_LEXICON)).fit(reference_set.items)
    return run_classifier(model_path, reference_set, progress_bar=not console.quiet,
                          say=lambda message: console.print(shown(message)))


def thresholds_in_force(settings: Settings, classifier: dict) -> dict:
    """The covered/partial thresholds of the signals this run's classifier uses, as a reviewer reads them."""
    in_force = {signal: values for signal, values in settings.to_dict()["thresholds"].items()
                if signal in classifier["signals"]}
    if "item_thresholds" in classifier:
        values = sorted(set(classifier["item_thresholds"].values()))
        covered = f"{values[0]:.2f} for every item" if len(values) == 1 else f"{values[0]:.2f}-{values[-1]:.2f}"
        in_force["model"] = {"covered": f"{covered} (probability, calibrated per item)",
                             "partial": f"{PARTIAL_SHARE:.0%} of the item's threshold"}
    return in_force


def corpus_folder(corpus: Path) -> Path:
    """The folder the corpus's files are in, absolute: CORPUS itself, or the folder of a single file."""
    corpus = Path(os.path.abspath(corpus))
    return corpus if corpus.is_dir() else corpus.parent


def path_in(corpus: Path, file_path: str) -> str:
    """A file's path inside the corpus folder ("2024/plan.pdf"), with which the report links to it.

    Symbolic links are not followed: a linked file is where the corpus shows it, wherever its target is.
    """
    return Path(os.path.relpath(os.path.abspath(file_path), corpus_folder(corpus))).as_posix()


def run_record(corpus: Path, reference_set: ReferenceSet, settings: Settings, store: RunStore, totals: RunTotals,
               chosen, executor: Executor, *, reviews: ReviewBook | None = None,
               stance_sha256: str | None = None) -> dict:
    """What a reader needs to cite and reproduce the run: reference versions, settings, inputs, timings."""
    documents = store.documents()
    classifier = chosen.describe()
    methods = framework_methods(chosen, reference_set.items)
    return {
        "tool": {"name": "promise-map", "version": __version__},
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "corpus": display_name(str(corpus)),
        "corpus_folder": display_name(str(corpus_folder(corpus))),
        "reference": {
            "sha256": reference_set.sha256,
            "frameworks": [{"id": fw.id, "name": fw.name, "short_name": fw.label, "version": fw.version,
                            "source": fw.source, "file_sha256": fw.sha256, "items": len(fw.items),
                            "groups": list(fw.groups), "method": methods[fw.id]} for fw in reference_set.frameworks],
        },
        "classifier": classifier,
        "stance_model": None if stance_sha256 is None else {
            "sha256": stance_sha256, "labelled": "corpora/labelled/stance.jsonl",
            "guide": "docs/stance-labelling.md"},
        "settings": {**settings.to_dict(), "thresholds": thresholds_in_force(settings, classifier)},
        "executor": executor.describe(),
        "reviews": None if reviews is None else reviews.describe(),
        "inputs": [{"file": d.name, "path": path_in(corpus, d.path), "sha256": d.id, "pages": d.page_count,
                    "extractor": d.extractor} for d in documents],
        "skipped": [{"file": s.file, "stage": s.stage, "reason": s.reason} for s in store.problems()],
        "counts": {"files": totals.files, "documents": len(documents), "from_cache": totals.from_cache,
                   "passages": totals.passages, "matches": totals.matches, "skipped": totals.problems},
        "timings_seconds": {"wall": round(totals.wall_seconds, 3),
                            **{stage: round(seconds, 3) for stage, seconds in sorted(totals.seconds.items())}},
    }


@app.command("train")
def train_command(
    out: Annotated[Path, typer.Option(help="Where to save the model.")] = DEFAULT_MODEL_PATH,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    reviews: Annotated[Path | None, typer.Option(
        help="A review store: evidence passages reviewers accepted (positive for the item) or rejected "
             "(negative) are learned too, and the store's hash joins the model's training hash.")] = None,
) -> None:
    """Train the classifier on corpora/labelled/, the off-topic documents, the glossary and the reference texts.

    It learns the shipped frameworks that have labelled passages; every other framework is scored zero-shot.
    """
    try:
        reference_set = training_reference()
        data = load_training_data(DEFAULT_LABELLED_DIR, reference_set, DEFAULT_LEXICON)
        if reviews is not None:
            data = with_reviews(data, ReviewStore(reviews, create=False), reference_set)
        with tqdm(total=PromiseClassifier.training_steps(), desc="train", unit="step", disable=quiet) as bar:
            trained = train_all(reference_set, data, DEFAULT_LEXICON, progress=lambda step: bar.update())
    except (ReferenceError, GoldFileError, ValueError) as error:
        raise fail(str(error), code=EXIT_BAD_INPUT) from error
    save_model(trained, out, training_sha256=data.sha256, reference_set=reference_set,
               base_training_sha256=data.base_sha256, reviewed_passages=len(data.reviewed))
    thresholds = trained.rule.covered_at
    reviewed = f", {len(data.reviewed)} reviewed passages" if reviews is not None else ""
    typer.echo(f"trained on {len(data.dev)} seed + {len(data.real_register)} real-register passages, "
               f"{len(data.synthetic)} synthetic, {len(data.off_topic)} off-topic, {len(data.glossary)} glossary "
               f"examples, {len(data.off_topic_texts)} off-topic document passages and "
               f"{len(reference_set.items)} item texts{reviewed}; thresholds "
               f"{thresholds.min():.2f}-{thresholds.max():.2f}; training data sha256 {data.sha256[:12]}; "
               f"saved to {visible_controls(out)}")


@app.command("eval")
def eval_command(
    gold: Annotated[Path | None, typer.Option(help="JSONL with at least `text` and `labels` per line.")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write every figure to this JSON file.")] = None,
    classifier: Annotated[str, typer.Option(help="learned (default) or lexical.")] = "learned",
    cross_validate_dev: Annotated[bool, typer.Option(
        "--cross-validate", help="Score the repository's real passages (seed documents and real-register pages) by "
                                 "cross-validation grouped by source.")] = False,
    transfer: Annotated[bool, typer.Option(
        "--transfer", help="Score the repository's real passages with a model trained on written examples only "
                          "(synthetic set, glossary, off-topic text, item texts).")] = False,
    documents: Annotated[Path | None, typer.Option(
        help="Map this folder's documents and score the verdicts against its gold.jsonl (or, with --off-topic, "
             "count covered verdicts: every item should be missing).")] = None,
    off_topic: Annotated[bool, typer.Option("--off-topic", help="With --documents: the folder covers nothing.")
                         ] = False,
    model: Annotated[Path, typer.Option(help="Saved model from `promise-map train`.")] = DEFAULT_MODEL_PATH,
    reference: Annotated[list[Path] | None, typer.Option(
        help="A folder of your own framework files (repeatable), as for `map`.")] = None,
    framework: Annotated[str | None, typer.Option(help="Comma-separated frameworks to score, as for `map`.")] = None,
    reviews: Annotated[Path | None, typer.Option(
        help="Score the model on the evidence passages reviewers accepted or rejected in this review store.")
    ] = None,
    stance: Annotated[bool, typer.Option(
        "--stance", help="Score the stance and commitment models by cross-validation grouped by source document "
                         "on corpora/labelled/stance.jsonl.")] = False,
    stance_model: Annotated[Path, typer.Option(
        help="The stance and commitment model scored on a --gold file's stance labels (trained when missing).")
    ] = DEFAULT_STANCE_MODEL,
) -> None:
    """Score the classifier the map uses against labelled passages or documents; last line `micro_f1=… macro_f1=…`.

    With --stance, the stance and commitment models instead (last line `stance_accuracy=… commitment_macro_f1=…`);
    a --gold file whose lines carry `stance` or `commitment` is scored for them too.
    """
    console = stderr_console()
    try:
        reference_set = reference_for_run(reference or [], framework_names(framework))
        schemes = [flag for flag, on in (("--gold", gold is not None), ("--cross-validate", cross_validate_dev),
                                         ("--transfer", transfer), ("--documents", documents is not None),
                                         ("--reviews", reviews is not None), ("--stance", stance)) if on]
        if len(schemes) != 1:
            raise ValueError("choose one of --gold FILE, --cross-validate, --transfer, --documents DIR, "
                             "--reviews FILE and --stance")
        if off_topic and documents is None:
            raise ValueError("--off-topic goes with --documents DIR")
        if (cross_validate_dev or transfer) and classifier != "learned":
            raise ValueError(f"{schemes[0]} trains the learned classifier; it cannot be used with "
                             f"--classifier {classifier}")
        if stance:
            with console.status("cross-validating the stance and commitment models (five folds, seconds)"):
                figures = stance_cross_validate(stance_passages())
            figures["second_coder"] = stance_agreement()
            if json_out is not None:
                write_json(json_out, figures)
            typer.echo(format_stance_figures(figures))
            return
        if cross_validate_dev or transfer:
            reference_set = training_reference()
            data = load_training_data(DEFAULT_LABELLED_DIR, reference_set, DEFAULT_LEXICON)
            validate = transfer_validate if transfer else cross_validate
            with tqdm(desc="eval", unit="step", disable=False) as bar:
                report = validate(reference_set, data, DEFAULT_LEXICON,
                                  progress=lambda step: (bar.set_postfix_str(step), bar.update()))
        elif reviews is not None:
            chosen = build_classifier(classifier, reference_set, model, console)
            found = judgements(ReviewStore(reviews, create=False), {item.id for item in reference_set.items})
            figures = review_figures(chosen, found, [item.id for item in reference_set.items])
            if json_out is not None:
                write_json(json_out, figures)
            typer.echo(format_review_figures(figures))
            return
        elif documents is not None:
            chosen = build_classifier(classifier, reference_set, model, console)
            report = evaluate_folder(documents, chosen, reference_set, off_topic=off_topic, stance=ensure_stance_model(
                stance_model, say=lambda message: console.print(message)))
            report["classifier"] = classifier
            if json_out is not None:
                write_json(json_out, report)
            typer.echo(visible_controls(format_documents_report(report), keep="\n"))
            return
        else:
            gold_passages = load_labelled(gold, {item.id for item in reference_set.items})
            chosen = build_classifier(classifier, reference_set, model, console)
            warn_if_trained_on(gold_passages, classifier, reference_set, console)
            scores = chosen.score([p.text for p in gold_passages]).scores
            report = evaluate(gold_passages, reference_set.items, chosen.rule.passage_decisions(scores),
                              np.clip(scores.scores, 0.0, 1.0),
                              documents=document_verdicts(gold_passages, scores, chosen.rule))
            if any(p.stance or p.commitment for p in gold_passages):
                report["stance_reading"] = gold_figures(gold_passages, ensure_stance_model(
                    stance_model, say=lambda message: console.print(message)))
    except (ReferenceError, GoldFileError, ValueError, ModelFileError) as error:
        raise fail(str(error), code=EXIT_BAD_INPUT) from error
    report["gold"] = str(gold) if gold is not None else "the repository's real passages"
    scheme = "cross-validated" if cross_validate_dev else "trained on written examples only" if transfer else ""
    report["classifier"] = f"learned ({scheme})" if scheme else classifier
    if json_out is not None:
        write_json(json_out, report)
    if "stance_reading" in report:
        reading = report["stance_reading"]
        if reading["in_training_set"]:
            console.print(f"[yellow]warning:[/yellow] {reading['in_training_set']} of {reading['passages']} gold "
                          "passages with stance labels are in the stance training set, so its figures are "
                          "optimistic; use --stance for cross-validated ones")
        typer.echo(format_stance_figures(reading) + "\n")
    typer.echo(visible_controls(format_report(report), keep="\n"))


def warn_if_trained_on(gold_passages: list, classifier: str, reference_set: ReferenceSet, console: Console) -> None:
    """Say so when gold passages are in the training data: such figures are optimistic."""
    if classifier != "learned":
        return
    data = load_training_data(DEFAULT_LABELLED_DIR, training_reference(), DEFAULT_LEXICON)
    seen = {p.text for p in data.real + data.written}
    overlap = sum(p.text in seen for p in gold_passages)
    if overlap:
        console.print(f"[yellow]warning:[/yellow] {overlap} of {len(gold_passages)} gold passages are in the "
                      "training data, so these figures are optimistic; use --cross-validate for them")


#: Above this many documents the terminal gets totals per framework; the table per document is in report.html.
SUMMARY_TABLE_MAX_DOCUMENTS = 100


def print_summary(console: Console, table: Table, problems: list[Skipped]) -> None:
    """The summary table, then each skipped file; names and reasons escaped, as they are untrusted."""
    print_whole(console, table)
    for item in problems:
        console.print(f"[yellow]skipped[/yellow] {shown(item.file)} ({shown(item.stage)}): {shown(item.reason)}")


def summary_table(store: RunStore, reference_set: ReferenceSet) -> Table:
    """Counts per document and framework (per framework only, for a large run), from the run store."""
    frameworks = {item.id: item.framework for item in reference_set.items}
    counts = store.document_status_counts()
    documents = store.documents()
    table = Table(title="Coverage by document" if len(documents) <= SUMMARY_TABLE_MAX_DOCUMENTS
                  else f"Coverage over {len(documents)} documents (each document: report.html)")
    for column in ("document", "pages", "framework", "covered", "partial", "missing"):
        table.add_column(column, justify="right" if column in ("pages", "covered", "partial", "missing") else "left",
                         overflow="fold")
    rows: dict[tuple[str, str], Counter] = {}
    for document in documents:
        key_name = document.id if len(documents) <= SUMMARY_TABLE_MAX_DOCUMENTS else ""
        for item_id, status in counts.get(document.id, ()):
            rows.setdefault((key_name, frameworks[item_id]), Counter())[status] += 1
    names = {document.id: (shown(document.name), str(document.page_count)) for document in documents}
    for (doc_id, framework), tally in rows.items():
        name, pages = names.get(doc_id, (f"all {len(documents)}", ""))
        table.add_row(name, pages, shown(framework), *(str(tally[status.value]) for status in
                                                       (Status.COVERED, Status.PARTIAL, Status.MISSING)))
    return table


def print_whole(console: Console, table: Table) -> None:
    """Print `table` with no cell cut: wrapped on a terminal; piped or redirected, as wide as its cells need.

    Rationale: a log or a `| less` has no width to fit, and a name folded over two lines (or cut to
    "000_c62ad4983681…") cannot be searched for or copied.
    """
    if console.is_terminal:
        console.print(table)
        return
    needed = Measurement.get(console, console.options.update_width(PIPED_MAX_WIDTH), table).maximum
    width = console.width
    console.width = max(width, needed)  # print() never draws wider than the console, whatever it is asked
    try:
        console.print(table)
    finally:
        console.width = width


#: Widest a table printed to a pipe or file may grow to fit its longest cells.
PIPED_MAX_WIDTH = 1000
DEFAULT_RUN_DIR = Path("outputs") / "sample"


@app.command("compare")
def compare_command(
    doc_a: Annotated[str, typer.Argument(help="Document A: its file name in the run, or a unique prefix of it.")],
    doc_b: Annotated[str, typer.Argument(help="Document B: its file name in the run, or a unique prefix of it.")],
    run: Annotated[Path, typer.Option("--run", "-r", help="Run folder (holding coverage.jsonl).")] = DEFAULT_RUN_DIR,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Where to write (default: the run folder).")] = None,
    include_partial: Annotated[bool, typer.Option(help="List every status difference, partial included.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No summary table.")] = False,
) -> None:
    """Items covered in one document of a run and missing in the other, and items both cover on different sides.

    Writes a CSV table and an HTML page; prints both lists.
    """
    console = stderr_console(quiet=quiet)
    try:
        comparison = compare_documents(read_verdicts(run), doc_a, doc_b, include_partial=include_partial)
    except CompareError as error:
        raise fail(str(error), code=EXIT_BAD_INPUT) from error
    run_json = run / "run.json"
    record = json.loads(run_json.read_text(encoding="utf-8")) if run_json.is_file() else {}
    written = write_comparison(out or run, comparison, run_record=record)
    for label, entries in ((f"in A ({shown(comparison.doc_a)}), not in B", comparison.only_a),
                           (f"in B ({shown(comparison.doc_b)}), not in A", comparison.only_b)):
        if not entries:
            console.print(f"{label}: none")
            continue
        table = Table(title=f"{label}: {len(entries)} items")
        for column in ("item", "foundation", "title", "A", "B"):
            table.add_column(column, overflow="fold")
        for entry in entries:
            table.add_row(*(shown(value) for value in (entry.item_id, entry.group, entry.title, entry.status_a,
                                                        entry.status_b)))
        print_whole(console, table)
    if comparison.stance_differs:
        table = Table(title=f"both cover, different stances: {len(comparison.stance_differs)} items")
        for column in ("item", "foundation", "title", "A", "B"):
            table.add_column(column, overflow="fold")
        for entry in comparison.stance_differs:
            table.add_row(*(shown(value) for value in (entry.item_id, entry.group, entry.title, entry.stance_a,
                                                        entry.stance_b)))
        print_whole(console, table)
    else:
        console.print("both cover, different stances: none")
    console.print(f"wrote {shown(', '.join(str(path) for path in written))}")


if __name__ == "__main__":
    app()
