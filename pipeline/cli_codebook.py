"""`promise-map codebook`: the frameworks as a codebook for QDA tools, a codebook as frameworks, a run's segments.

A sub-app of its own (pipeline/cli.py adds it as `codebook`); errors are reported as every command reports
them (pipeline/console.py): a message on stderr, exit code 2.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from pipeline import __version__
from pipeline.codebook import CodebookError, coded_segments, export_csv, export_qdc, import_qdc, segments_csv
from pipeline.console import EXIT_BAD_INPUT, fail, framework_names, shown, stderr_console
from pipeline.files import write_atomic
from pipeline.reference import ReferenceError, load_framework, reference_for_run

codebook_app = typer.Typer(
    help="Exchange codebooks with QDA tools (NVivo, ATLAS.ti, MAXQDA, QualCoder): export the frameworks as a "
         "REFI-QDA codebook or CSV, import a codebook as frameworks, export a run's coded segments.",
    no_args_is_help=True, add_completion=False)


class CodebookFormat(str, Enum):
    """What `codebook export` writes."""

    QDC = "qdc"
    CSV = "csv"


@codebook_app.command("export")
def export_command(
    out: Annotated[Path, typer.Option("--out", "-o", help="The file to write (.qdc or .csv).")],
    output_format: Annotated[CodebookFormat, typer.Option(
        "--format", "-f", help="qdc: a REFI-QDA codebook; csv: one row per item.")] = CodebookFormat.QDC,
    framework: Annotated[str | None, typer.Option(
        help="Frameworks to export, comma-separated (default: the shipped defaults and those of --reference).")
    ] = None,
    reference: Annotated[list[Path] | None, typer.Option(
        help="A folder of framework files of your own, besides the shipped ones (may be repeated).")] = None,
) -> None:
    """Write the reference frameworks as a codebook a QDA tool imports, or as a CSV table."""
    try:
        frameworks = reference_for_run(reference or (), framework_names(framework)).frameworks
        if output_format is CodebookFormat.QDC:
            data = export_qdc(frameworks, origin=f"promise-map {__version__}")
        else:
            data = export_csv(frameworks).encode("utf-8")
        write_atomic(out, data)
    except (ReferenceError, CodebookError) as error:
        raise fail(str(error), code=EXIT_BAD_INPUT) from error
    except OSError as error:
        raise fail(f"could not write {out} ({error.strerror or error})", code=EXIT_BAD_INPUT) from error
    items = sum(len(fw.items) for fw in frameworks)
    stderr_console().print(f"wrote {shown(str(out))}: {len(frameworks)} frameworks, {items} items "
                           f"({shown(', '.join(fw.id for fw in frameworks))})")


@codebook_app.command("import")
def import_command(
    codebook: Annotated[Path, typer.Argument(help="A REFI-QDA codebook (.qdc) from promise-map or a QDA tool.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the framework files (one per framework).")],
) -> None:
    """Turn a codebook into framework files (`<framework id>.yaml`) for `promise-map map --reference FOLDER`."""
    try:
        texts = import_qdc(codebook.read_bytes(), source_name=codebook.name)
    except CodebookError as error:
        raise fail(f"{codebook}: {error}", code=EXIT_BAD_INPUT) from error
    except OSError as error:
        raise fail(f"could not read {codebook} ({error.strerror or error})", code=EXIT_BAD_INPUT) from error
    paths = {framework_id: out / f"{framework_id}.yaml" for framework_id in texts}
    in_the_way = [str(path) for path in paths.values() if path.exists()]
    if in_the_way:
        raise fail(f"not overwriting {', '.join(in_the_way)}: remove it, or import into another folder",
                   code=EXIT_BAD_INPUT)
    for framework_id, path in paths.items():
        try:
            write_atomic(path, texts[framework_id].encode("utf-8"))
            loaded = load_framework(path)
        except OSError as error:
            raise fail(f"could not write {path} ({error.strerror or error})", code=EXIT_BAD_INPUT) from error
        except ReferenceError as error:  # import_qdc loaded it already: only a change on disk meanwhile gets here
            raise fail(str(error), code=EXIT_BAD_INPUT) from error
        stderr_console().print(f"wrote {shown(str(path))}: framework {shown(loaded.id)}, {len(loaded.items)} items, "
                               f"{len(loaded.groups)} groups")


@codebook_app.command("segments")
def segments_command(
    run: Annotated[Path, typer.Argument(help="The output folder of a finished `promise-map map` run.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="The CSV file to write.")],
) -> None:
    """Write a run's evidence passages as coded segments (document, page, character span, code) for a QDA tool."""
    try:
        rows = list(coded_segments(run))
        write_atomic(out, segments_csv(rows).encode("utf-8"))
    except CodebookError as error:
        raise fail(str(error), code=EXIT_BAD_INPUT) from error
    except OSError as error:
        raise fail(f"could not write {out} ({error.strerror or error})", code=EXIT_BAD_INPUT) from error
    stderr_console().print(f"wrote {shown(str(out))}: {len(rows)} coded segments")
