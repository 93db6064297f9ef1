"""The output folder of a run: written whole into a staging folder beside it, then swapped in, under a lock.

Each file being atomic is not enough: a run killed half way through writing, a full disk, or two runs into
one `--out` would leave a folder that mixes files of two runs, and a reviewer cannot tell. So a run writes
everything into `.<out>.staging-<pid>` beside `out` and, only when every file is written, renames the old
folder aside, the new one into place, and deletes the old one. A lock (`.<out>.lock`, via `filelock`)
keeps a second run from writing the same folder at the same time; leftovers of a killed run are deleted
by the next run that takes the lock.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

STAGING_MARK = ".staging-"
RETIRED_MARK = ".retired-"


class OutputFolderError(ValueError):
    """The output folder cannot be used (a file is in its place, or another run is writing it)."""


#: What marks a folder as one a run wrote, and so one the next run may replace whole.
RUN_MARKER = "run.json"


def check_output_folder(out: Path, corpus: Path) -> None:
    """Raise OutputFolderError before a run starts when `out` cannot become a folder of outputs.

    The folder is replaced whole at the end of the run, so it must be new, empty or a run's output folder:
    never the corpus, a folder holding it, or a folder of someone's other files.
    """
    if out.exists() and not out.is_dir():
        raise OutputFolderError(f"--out {out} is a file, not a folder: choose another output folder")
    resolved, corpus_folder = out.resolve(), corpus.resolve()
    if resolved == corpus_folder or resolved in corpus_folder.parents:
        raise OutputFolderError(f"--out {out} holds the corpus {corpus}: choose an output folder of its own")
    if out.is_dir() and any(out.iterdir()) and not (out / RUN_MARKER).is_file():
        raise OutputFolderError(f"--out {out} holds files that are not a promise-map run (no {RUN_MARKER}); "
                                "a run replaces its output folder whole, so choose a new or empty folder")
    for parent in out.absolute().parents:
        if parent.exists():
            if not parent.is_dir():
                raise OutputFolderError(f"--out {out} is under {parent}, which is a file, not a folder")
            if not os.access(parent, os.W_OK | os.X_OK):
                raise OutputFolderError(f"--out {out}: cannot write in {parent}")
            return


def lock_path(out: Path) -> Path:
    return out.parent / f".{out.name}.lock"


def leftovers(out: Path) -> list[Path]:
    """Staging and retired folders of earlier runs into `out` that did not finish (killed, or out of disk)."""
    prefix = f".{out.name}"
    return sorted(path for path in out.parent.glob(f"{prefix}.*")
                  if path.name.startswith((prefix + STAGING_MARK, prefix + RETIRED_MARK)) and path.is_dir())


@contextmanager
def staged_output(out: Path) -> Iterator[Path]:
    """Yield an empty staging folder; on success it replaces `out` whole, on any failure `out` is untouched.

    Raises OutputFolderError when another run holds the lock on `out`.
    """
    out = Path(os.path.abspath(out))
    out.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(lock_path(out))
    try:
        lock.acquire(timeout=0)
    except Timeout as error:
        raise OutputFolderError(f"another promise-map run is writing {out}; wait for it to finish") from error
    try:
        for leftover in leftovers(out):
            shutil.rmtree(leftover, ignore_errors=True)
        staging = out.parent / f".{out.name}{STAGING_MARK}{os.getpid()}"
        staging.mkdir()
        try:
            yield staging
            swap_in(staging, out)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    finally:
        lock.release()  # the lock file stays: deleting it would let two runs hold "the" lock at once


def swap_in(staging: Path, out: Path) -> None:
    """Put `staging` where `out` is: the old folder is renamed aside first and deleted once the new one is in."""
    retired = out.parent / f".{out.name}{RETIRED_MARK}{os.getpid()}"
    if out.exists():
        os.rename(out, retired)
    os.rename(staging, out)
    shutil.rmtree(retired, ignore_errors=True)
