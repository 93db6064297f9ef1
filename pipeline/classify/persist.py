"""Model files that cannot run code: numeric arrays plus JSON, in one NumPy .npz archive, never pickle.

Model files get passed between colleagues and sit in shared folders; a pickle runs whatever code its
author put in it the moment it is loaded. An .npz holds only typed numeric arrays (read with
`allow_pickle=False`, so an object array is refused) and here one UTF-8 JSON document, so loading a
planted or corrupt file can at worst fail with a clear message. Every learned value is stored as an
array; everything else (vocabularies, settings, item ids) as JSON; the rest of a model (the lexicon, the
reference texts' vectorisers, the quotation matcher) is rebuilt from the project's own files, whose
hashes the file records.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np

from pipeline.files import write_atomic

#: Name of the array holding the model's JSON description.
META_ARRAY = "__meta__"
#: Marks a file as a promise-map model, and the layout it follows.
FILE_KIND = "promise-map model"
FILE_FORMAT = 2
#: A model file whose arrays would unpack to more than this is refused before anything is unpacked.
MAX_UNPACKED_BYTES = 4 * 1024**3


class ModelFileError(ValueError):
    """A model file is missing, damaged, of another kind or format; the message says which and what to do."""


def write_model_file(path: Path, arrays: dict[str, np.ndarray], meta: dict) -> None:
    """Write `arrays` and `meta` (JSON-serialisable) atomically to `path` as an .npz archive."""
    if META_ARRAY in arrays:
        raise ValueError(f"{META_ARRAY} is reserved")
    for name, array in arrays.items():
        if np.asarray(array).dtype == object:
            raise ValueError(f"array {name} holds Python objects; only numbers and strings are stored")
    document = {"kind": FILE_KIND, "format": FILE_FORMAT, **meta}
    payload = {META_ARRAY: np.frombuffer(json.dumps(document, sort_keys=True).encode("utf-8"), dtype=np.uint8),
               **arrays}
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **payload)
    write_atomic(path, buffer.getvalue())


def read_model_file(path: Path) -> tuple[dict[str, np.ndarray], dict]:
    """The arrays and JSON description of a model file; ModelFileError for anything that is not one."""
    where = f"{path}"
    try:
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except FileNotFoundError as error:
        raise ModelFileError(f"{where}: no such model file") from error
    except (OSError, zipfile.BadZipFile) as error:
        raise ModelFileError(f"{where} is not a promise-map model file (models are .npz archives written by "
                             f"`promise-map train`; pickled models are refused because loading one runs code)"
                             ) from error
    if unpacked > MAX_UNPACKED_BYTES:
        raise ModelFileError(f"{where}: its arrays would unpack to {unpacked / 2**30:.1f} GiB; refused")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        raise ModelFileError(f"{where}: damaged or not a promise-map model file ({error})") from error
    if META_ARRAY not in arrays:
        raise ModelFileError(f"{where}: not a promise-map model file (no description inside)")
    try:
        meta = json.loads(arrays.pop(META_ARRAY).tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelFileError(f"{where}: damaged model description ({error})") from error
    if not isinstance(meta, dict) or meta.get("kind") != FILE_KIND:
        raise ModelFileError(f"{where}: not a promise-map model file")
    if meta.get("format") != FILE_FORMAT:
        raise ModelFileError(f"{where}: model file format {meta.get('format')!r}, this version reads {FILE_FORMAT}; "
                             "retrain with `promise-map train`")
    return arrays, meta


def prefixed(prefix: str, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Arrays of one component under `prefix/` in a shared archive."""
    return {f"{prefix}/{name}": array for name, array in arrays.items()}


def unprefixed(prefix: str, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The arrays stored under `prefix/`, with the prefix taken off."""
    start = len(prefix) + 1
    return {name[start:]: array for name, array in arrays.items() if name.startswith(prefix + "/")}
