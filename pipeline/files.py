"""Writing files so that a crash never leaves half of one behind.

Kept apart from the report stage so that extraction workers can use it without
importing plotting or templating.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

#: The mode a program's new files get before the umask (what open() and the shell use).
NEW_FILE_MODE = 0o666


def display_name(text: str) -> str:
    r"""A file name or path as the outputs show it: each byte that is not UTF-8 written as a \xNN escape.

    A POSIX file name is bytes. Python holds a byte it cannot decode as a lone
    surrogate (PEP 383), which no UTF-8 writer (CSV, JSON, HTML) accepts, so the
    name is shown with that byte escaped: b"Strat\xe9gie.txt" becomes "Strat\\xe9gie.txt".
    A name that is valid UTF-8 is returned unchanged.
    """
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate that is no escaped byte: escape the code point itself
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def current_umask() -> int:
    """The process's umask; reading it means setting it, so it is set straight back."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary file beside `path`, then rename over it.

    The file gets the permissions any new file gets here (0666 less the umask), not the owner-only mode of
    the temporary file: reports are meant to be opened by colleagues on a shared drive or a web server.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.chmod(temporary, NEW_FILE_MODE & ~current_umask())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
