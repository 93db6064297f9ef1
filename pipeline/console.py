"""What every command shares in talking to the person: stderr, untrusted text made inert, exit codes, options.

Small and apart from the commands, so the `map`/`train`/`eval` app (pipeline/cli.py) and the `codebook`
sub-app (pipeline/cli_codebook.py) report errors the same way.
"""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape

from pipeline.display import visible_controls

#: Exit codes: the command could not start (bad arguments, missing files), or it ran and mapped nothing.
EXIT_BAD_INPUT = 2
EXIT_NOTHING_MAPPED = 1


def stderr_console(*, quiet: bool = False) -> Console:
    """Where commands talk to the person: stderr, so stdout stays free for results.

    Emoji codes are off because file names and document text are printed here, and `:name:` in them must
    stay as written; markup in them is escaped at each print.
    """
    return Console(stderr=True, quiet=quiet, soft_wrap=True, emoji=False)


def shown(value: object) -> str:
    r"""Untrusted text (a file name, a reason) as printed: control and bidi characters escaped, Rich markup inert.

    `\x1b[2J` in a file name would otherwise clear the terminal and `[bold]` would style it.
    """
    return escape(visible_controls(value))


def fail(message: str, *, code: int) -> typer.Exit:
    """Print `message` as an error on stderr and return the exit to raise.

    Errors are printed whatever --quiet says: quiet silences progress and summaries, but a batch job's log
    must still say why a run failed.
    """
    stderr_console().print(f"[red]error:[/red] {shown(message)}")
    return typer.Exit(code=code)


def framework_names(option: str | None) -> list[str] | None:
    """The frameworks `--framework a,b` names, or None when the option is not given."""
    if option is None:
        return None
    return [name.strip() for name in option.split(",") if name.strip()]
