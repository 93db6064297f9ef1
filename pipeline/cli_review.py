"""`promise-map review RUN` (the local review app) and `promise-map reviews import|export` (the workbook, the trail).

Thin commands over pipeline/review/; errors are reported as every command reports them (pipeline/console.py).
"""

from __future__ import annotations

import getpass
import ipaddress
import json
from pathlib import Path
from typing import Annotated

import typer

from pipeline.console import EXIT_BAD_INPUT, fail, framework_names, shown, stderr_console
from pipeline.files import write_atomic
from pipeline.reference import ReferenceError, reference_for_run
from pipeline.report import csv_bytes
from pipeline.review.store import COLUMNS, REVIEWS_FILE, ReviewStore, ReviewStoreError
from pipeline.review.workbook import WorkbookError, import_workbook
from pipeline.types import ReferenceSet

reviews_app = typer.Typer(help="The review store: import decisions typed into gap_table.xlsx, export the audit trail.",
                          no_args_is_help=True, add_completion=False)


def run_reference(run_dir: Path, extra_dirs: list[Path], framework: str | None) -> ReferenceSet:
    """The reference texts the run used: its frameworks by id, found among the shipped ones and `extra_dirs`.

    Raises ReferenceError when they are not the texts the run recorded (its reference sha256).
    """
    record_path = run_dir / "run.json"
    if not record_path.is_file():
        raise FileNotFoundError(f"{run_dir} is not a run folder (no run.json): map a corpus into it first")
    record = json.loads(record_path.read_text(encoding="utf-8"))
    names = framework_names(framework) or [fw["id"] for fw in record["reference"]["frameworks"]]
    reference = reference_for_run(extra_dirs, names)
    if reference.sha256 != record["reference"]["sha256"]:
        raise ReferenceError(f"the reference texts here are not the ones the run in {run_dir} used (sha256 "
                             f"{record['reference']['sha256'][:12]}); pass the run's --reference folders, "
                             "or map the corpus again")
    return reference


def review_command(
    run: Annotated[Path, typer.Argument(help="A run folder (from `promise-map map ... --out RUN`).")],
    db: Annotated[Path | None, typer.Option(help=f"The review store (default: {REVIEWS_FILE} beside the run "
                                                  "folder, so a re-run into the folder keeps it).")] = None,
    port: Annotated[int, typer.Option(help="Port to serve on.")] = 8765,
    host: Annotated[str, typer.Option(help="Address to bind; anything but loopback lets others on the network "
                                           "read the documents and decide.")] = "127.0.0.1",
    reference: Annotated[list[Path] | None, typer.Option(help="The run's own framework folders, as given to map.")]
    = None,
    framework: Annotated[str | None, typer.Option(help="Frameworks to review (default: the run's).")] = None,
) -> None:
    """Serve the review app for RUN on http://127.0.0.1:PORT until interrupted (Ctrl+C)."""
    from pipeline.review.app import LOOPBACK_NAMES, create_app, serve

    console = stderr_console()
    try:
        reference_set = run_reference(run, reference or [], framework)
        store = ReviewStore(db or default_store(run))
        allowed = LOOPBACK_NAMES if is_loopback(host) else LOOPBACK_NAMES | {host}
        app = create_app(run, store, reference_set, allowed_hosts=frozenset(allowed))
    except (ReferenceError, FileNotFoundError, ReviewStoreError) as error:
        raise fail(str(error), code=EXIT_BAD_INPUT) from error
    if not is_loopback(host):
        console.print(f"[yellow]warning:[/yellow] serving on {shown(host)}: anyone who can reach it can read "
                      "the documents and record decisions")
    console.print(f"reviewing {shown(str(run))}; decisions go to {shown(str(store.path))}")
    console.print(f"open http://{shown(host)}:{port}/ (Ctrl+C stops the server; every decision is already saved)")
    serve(app, host=host, port=port)


def default_store(run: Path) -> Path:
    """Beside the run folder, not in it: a run replaces its folder whole, and must never take the reviews with it."""
    run = Path(run).absolute()
    return run.parent / f"{run.name}.{REVIEWS_FILE}"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@reviews_app.command("import")
def import_command(
    workbook: Annotated[Path, typer.Argument(help="A run's gap_table.xlsx with reviewed_status / review_note "
                                                  "filled in.")],
    db: Annotated[Path, typer.Option(help="The review store to add the decisions to (made if missing).")],
    reviewer: Annotated[str | None, typer.Option(help="Whose decisions they are (default: your login name).")]
    = None,
) -> None:
    """Add the decisions typed into a gap_table.xlsx to the review store (rows that change nothing are skipped)."""
    try:
        result = import_workbook(workbook, ReviewStore(db), reviewer=reviewer or getpass.getuser())
    except (WorkbookError, ReviewStoreError, OSError) as error:
        raise fail(str(error), code=EXIT_BAD_INPUT) from error
    typer.echo(f"imported {result.added} decision(s) from {result.rows} rows of {shown(str(workbook))} "
               f"({result.unchanged} unchanged) into {shown(str(db))}")


@reviews_app.command("export")
def export_command(
    db: Annotated[Path, typer.Option(help="The review store.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="CSV file to write: every decision ever made.")],
) -> None:
    """Write the audit trail: every decision, oldest first, with who, when and the machine's verdict then."""
    try:
        store = ReviewStore(db, create=False)
        write_atomic(out, csv_bytes(COLUMNS, (dict(zip(COLUMNS, decision.row(), strict=True))
                                              for decision in store.history())))
    except (ReviewStoreError, OSError) as error:
        raise fail(str(error), code=EXIT_BAD_INPUT) from error
    typer.echo(f"wrote {store.count()} decision(s) to {shown(str(out))}")
