"""Load the reference sets from `reference/*.yaml` and refuse any that would skew coverage.

Every coverage figure is "items covered out of N", so a lost, doubled or
renumbered item silently changes every result. The loader checks ids, texts and
the counts each framework must have before anything is classified.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

import yaml

from pipeline.types import Framework, ReferenceItem, ReferenceSet, check_ref_id
from pipeline.yamlfiles import load_yaml

#: How many items each framework group must hold; the 55-call list and p.119 of the promise.
EXPECTED_GROUP_COUNTS = {
    "calls_to_action": {"Voice": 6, "Family": 8, "Care": 22, "People": 8, "Scaffolding": 11},
    "inspection_principles": {"Inspection and Regulation": 13},
}

ITEM_FIELDS = ("id", "framework", "group", "title", "text", "source")
FRAMEWORK_FIELDS = ("framework", "name", "version", "source", "items")


class ReferenceError(ValueError):
    """A reference file is missing, malformed or would change the denominator of coverage."""


def load_reference(directory: Path | str) -> ReferenceSet:
    """Read every `*.yaml` framework file in `directory`, validated, in file-name order."""
    directory = Path(directory)
    paths = sorted(directory.glob("*.yaml"))
    if not paths:
        raise ReferenceError(f"no reference files (*.yaml) in {directory}")
    frameworks = tuple(load_framework(path) for path in paths)
    check_unique_ids([item for fw in frameworks for item in fw.items], where=str(directory))
    missing = set(EXPECTED_GROUP_COUNTS) - {fw.id for fw in frameworks}
    if missing:
        raise ReferenceError(f"{directory}: no file defines framework(s) {sorted(missing)}")
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return ReferenceSet(frameworks=frameworks, sha256=digest.hexdigest())


def load_framework(path: Path) -> Framework:
    """Parse and validate one framework file."""
    try:
        data = load_yaml(path)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise ReferenceError(f"{path}: cannot be read as YAML ({error})") from error
    if not isinstance(data, dict):
        raise ReferenceError(f"{path}: expected a mapping with keys {FRAMEWORK_FIELDS}")
    absent = [key for key in FRAMEWORK_FIELDS if not data.get(key)]
    if absent:
        raise ReferenceError(f"{path}: missing or empty {absent}")
    framework_id = data["framework"]
    if framework_id not in EXPECTED_GROUP_COUNTS:
        raise ReferenceError(f"{path}: unknown framework {framework_id!r}; known: {sorted(EXPECTED_GROUP_COUNTS)}")
    items = tuple(parse_item(raw, path, index) for index, raw in enumerate(data["items"], start=1))
    check_unique_ids(items, where=str(path))
    for item in items:
        if item.framework != framework_id:
            raise ReferenceError(f"{path}: {item.id} says framework {item.framework!r}, file is {framework_id!r}")
    check_group_counts(framework_id, items, path)
    return Framework(id=framework_id, name=str(data["name"]), version=str(data["version"]),
                     source=str(data["source"]), items=items)


def parse_item(raw: object, path: Path, index: int) -> ReferenceItem:
    """Turn one YAML mapping into a ReferenceItem, naming the file and position on any fault."""
    where = f"{path}: item {index}"
    if not isinstance(raw, dict):
        raise ReferenceError(f"{where}: expected a mapping with keys {ITEM_FIELDS}")
    absent = [key for key in ITEM_FIELDS if key not in raw]
    if absent:
        raise ReferenceError(f"{where} ({raw.get('id', '?')}): missing {absent}")
    text = str(raw["text"] or "").strip()
    if not text:
        raise ReferenceError(f"{where} ({raw['id']}): empty text")
    try:
        check_ref_id(raw["id"])
    except ValueError as error:
        raise ReferenceError(f"{where}: {error}") from error
    return ReferenceItem(id=raw["id"], framework=str(raw["framework"]), group=str(raw["group"]),
                         title=str(raw["title"]).strip(), text=" ".join(text.split()), source=str(raw["source"]))


def check_unique_ids(items: list[ReferenceItem] | tuple[ReferenceItem, ...], *, where: str) -> None:
    doubled = sorted(item_id for item_id, n in Counter(item.id for item in items).items() if n > 1)
    if doubled:
        raise ReferenceError(f"{where}: duplicate id(s) {doubled}")


def check_group_counts(framework_id: str, items: tuple[ReferenceItem, ...], path: Path) -> None:
    """Each group must hold exactly its published number of items.

    Rationale: coverage percentages are only comparable between runs and
    between councils when the denominator is the published list.
    """
    expected = EXPECTED_GROUP_COUNTS[framework_id]
    actual = dict(Counter(item.group for item in items))
    if actual != expected:
        raise ReferenceError(f"{path}: wrong item counts per group: expected {expected}, found {actual}")
