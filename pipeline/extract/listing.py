"""Which files under a corpus folder are inputs, and, for every entry that is not, why: a `list` row.

The folder is walked with os.scandir rather than Path.rglob, which follows links out of the folder
(`ln -s /etc/passwd corpus/passwd.txt` put /etc/passwd into the outputs), drops link loops, pipes and
unreadable folders without a word, and would read a run's own outputs as input on the next run.

The rules, each leaving a row behind (hidden entries, names starting with ".", are passed over silently):
- a link is followed only when it resolves inside the corpus folder; a broken link or a link loop is reported;
- named pipes, sockets and device files are reported and never opened (opening a pipe blocks);
- a folder that cannot be read is reported, and the rest is listed;
- the run's own output folder, and any folder holding an earlier run (its run.json says promise-map
  wrote it), is not read;
- each file is listed once: a link to a file or folder listed already is reported as such, and a
  file's own path wins over a path through a link.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.files import display_name
from pipeline.types import Skipped

LIST_STAGE = "list"
#: The file promise-map writes into every output folder; it names the tool, which marks the folder as a run.
RUN_MARKER = "run.json"
RUN_MARKER_SIGNATURE = re.compile(rb'"tool"\s*:\s*\{\s*"name"\s*:\s*"promise-map"')
#: How much of a run.json is read to recognise it (the tool comes first in it).
RUN_MARKER_HEAD_BYTES = 4096
SPECIAL_FILES = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"),
                 (stat.S_ISCHR, "a device file"), (stat.S_ISBLK, "a device file"))


class ListingError(ValueError):
    """The corpus folder itself cannot be listed: it is an output folder, or it cannot be read."""


@dataclass(frozen=True)
class Listing:
    """The input files, in a stable order, and a `list` row for each entry that is not one."""

    paths: list[Path]
    skipped: list[Skipped] = field(default_factory=list)


def list_inputs(folder: Path | str) -> list[Path]:
    """The input files under `folder` only; `scan_inputs` also says what was left out, and why."""
    return scan_inputs(folder).paths


def scan_inputs(folder: Path | str, *, exclude: Iterable[Path | str] = ()) -> Listing:
    """Every non-hidden regular file under `folder` (or `folder` itself, when it is not a folder).

    `exclude` names folders never to read, such as the run's output folder, which
    may sit inside the corpus (`promise-map map .` writes to ./outputs/). Raises
    FileNotFoundError when `folder` does not exist, ListingError when it is itself
    an output folder or cannot be read.
    """
    folder = Path(folder)
    if not folder.is_dir():
        if not os.path.lexists(folder):
            raise FileNotFoundError(f"input folder {folder} does not exist")
        return Listing([folder])
    walk = _Walk(folder, excluded={Path(path).resolve() for path in exclude})
    output_folder = walk.output_folder_kind(walk.real_root)
    if output_folder:
        raise ListingError(f"{folder} is {output_folder}; map the documents' own folder, or choose an --out "
                           "folder outside it")
    return walk.run()


@dataclass(frozen=True)
class _Candidate:
    """A regular file met on the walk: its path, its identity on disk, and whether a link led to it."""

    path: Path
    identity: tuple[int, int]
    through_link: bool


class _Walk:
    """One walk over a corpus folder: the folders still to read, the files met, the rows written."""

    def __init__(self, root: Path, *, excluded: set[Path]) -> None:
        self.root = root
        self.real_root = root.resolve()
        self.excluded = excluded
        self.skipped: list[Skipped] = []
        self.candidates: list[_Candidate] = []
        self.folders_read: dict[tuple[int, int], Path] = {}
        self.direct: list[Path] = [root]  # folders still to read, reached by their own paths
        self.linked: list[Path] = []  # and those reached through a link

    def run(self) -> Listing:
        """Read the folders reached by their own paths first, then those reached through links.

        So a folder (or file) that is both in place and linked to is listed under
        its own path, whatever the names sort like.
        """
        while self.direct or self.linked:
            through_link = not self.direct
            folder = self.direct.pop() if self.direct else self.linked.pop()
            if self.already_read(folder):
                continue
            for path in self.entries(folder):
                self.visit(path, through_link=through_link)
        paths = self.unique_files()
        return Listing(paths, sorted(self.skipped, key=lambda row: row.file))

    def already_read(self, folder: Path) -> bool:
        """Whether `folder` (reached through a link) was read under another path, or is gone; a row says which."""
        try:
            info = os.stat(folder)
        except OSError as error:
            self.unreadable(folder, error)
            return True
        identity = (info.st_dev, info.st_ino)
        first = self.folders_read.get(identity)
        if first is None:
            self.folders_read[identity] = folder
            return False
        if first == self.root:
            self.skip(folder, "a link loop: it leads back to the corpus folder")
        elif first in folder.parents:
            self.skip(folder, f"a link loop: it leads back to {self.label(first)}, a folder above it")
        else:
            self.skip(folder, f"a link to the folder {self.label(first)}, which is read already")
        return True

    def entries(self, folder: Path) -> list[Path]:
        """The non-hidden entries of `folder`, sorted by name; a folder that cannot be read gets a row."""
        try:
            with os.scandir(folder) as iterator:
                names = sorted(entry.name for entry in iterator if not entry.name.startswith("."))
        except OSError as error:
            self.unreadable(folder, error)
            return []
        return [folder / name for name in names]

    def unreadable(self, folder: Path, error: OSError) -> None:
        """A row for a sub-folder that cannot be read; the corpus folder itself unread means no run."""
        cause = error.strerror or str(error)
        if folder == self.root:
            raise ListingError(f"cannot read the folder {folder} ({cause})") from error
        self.skip(folder, f"a folder that cannot be read ({cause}): its files are not listed")

    def visit(self, path: Path, *, through_link: bool) -> None:
        """Sort one entry: a folder to read, a file to list, or a row saying why it is neither."""
        is_link = path.is_symlink()
        problem = self.link_problem(path) if is_link else None
        if problem:
            self.skip(path, problem)
            return
        try:
            info = os.stat(path)
        except OSError as error:
            self.skip(path, f"cannot be read ({error.strerror or error})")
            return
        if stat.S_ISDIR(info.st_mode):
            output_folder = self.output_folder_kind(path)
            if output_folder:
                self.skip(path, f"{output_folder}: not read as input")
            else:
                (self.linked if is_link or through_link else self.direct).append(path)
        elif stat.S_ISREG(info.st_mode):
            self.candidates.append(_Candidate(path, (info.st_dev, info.st_ino), through_link or is_link))
        else:
            self.skip(path, f"{special_file_kind(info.st_mode)}, not a regular file: not read")

    def link_problem(self, path: Path) -> str | None:
        """Why the link at `path` is not followed (broken, a loop, out of the corpus), or None to follow it."""
        try:
            os.stat(path)
        except OSError as error:
            if error.errno == errno.ENOENT:
                return "a broken link: what it points to does not exist"
            if error.errno == errno.ELOOP:
                return "a link loop: it points, through other links, back to itself"
            return f"a link that cannot be followed ({error.strerror or error})"
        target = Path(os.path.realpath(path))
        if not target.is_relative_to(self.real_root):
            return "a link to something outside the corpus folder: not followed"
        if self.in_output_folder(target):
            return "a link into an output folder of promise-map: not followed"
        return None

    def output_folder_kind(self, folder: Path) -> str | None:
        """What output folder `folder` is (the run's own, an earlier run's), or None when it is none."""
        if folder.resolve() in self.excluded:
            return "the run's output folder (--out)"
        if holds_run_marker(folder):
            return f"an earlier promise-map run's output folder (it holds {RUN_MARKER})"
        return None

    def in_output_folder(self, target: Path) -> bool:
        """Whether `target` (resolved, inside the corpus) is in the run's output folder or an earlier run's."""
        for folder in (target, *target.parents):
            if not folder.is_relative_to(self.real_root):
                return False
            if folder in self.excluded or holds_run_marker(folder):
                return True
        return False

    def unique_files(self) -> list[Path]:
        """Each file once, by its own path rather than through a link; a row for every other path to it."""
        chosen: dict[tuple[int, int], _Candidate] = {}
        for candidate in sorted(self.candidates, key=lambda c: (c.through_link, c.path)):
            first = chosen.setdefault(candidate.identity, candidate)
            if first is not candidate:
                self.skip(candidate.path, f"the same file as {self.label(first.path)}, which is listed already")
        return sorted(candidate.path for candidate in chosen.values())

    def skip(self, path: Path, reason: str) -> None:
        self.skipped.append(Skipped(file=self.label(path), stage=LIST_STAGE, reason=reason))

    def label(self, path: Path) -> str:
        """A path as rows show it: from the corpus folder, bytes that are not UTF-8 escaped."""
        return display_name(path.relative_to(self.root).as_posix())


def holds_run_marker(folder: Path) -> bool:
    """Whether `folder` holds a run.json that promise-map wrote (a regular file naming the tool)."""
    marker = folder / RUN_MARKER
    try:
        if not stat.S_ISREG(os.stat(marker).st_mode):
            return False
        with open(marker, "rb") as handle:
            return RUN_MARKER_SIGNATURE.search(handle.read(RUN_MARKER_HEAD_BYTES)) is not None
    except OSError:
        return False


def special_file_kind(mode: int) -> str:
    """What a file that is neither a folder nor a regular file is, in words."""
    for test, kind in SPECIAL_FILES:
        if test(mode):
            return kind
    return "a special file"
