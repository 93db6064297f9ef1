"""Load the reference frameworks from their files and refuse any that would skew coverage.

A framework is data: one YAML file declares its id, name, version and source, the pattern its item ids
follow, its groups (foundations, priority areas) with the number of items each must hold when that
number is published, and its items. Every coverage figure is "items covered out of N", so a lost, doubled
or mistyped item silently changes every result: the loader checks each file against what it declares
and names the file and line of any fault, before anything is classified.

The frameworks promise-map ships are in `reference/`; those marked `default: true` run unless
`--framework` names others. `--reference DIR` adds a folder of a user's own framework files, which run
along with the defaults (docs/frameworks.md describes the file format).
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import yaml

from pipeline.types import Framework, ReferenceItem, ReferenceSet, check_ref_id
from pipeline.yamlfiles import Lines, load_yaml_with_lines

SHIPPED_DIR = Path(__file__).resolve().parent.parent / "reference"

REQUIRED_FRAMEWORK_FIELDS = ("framework", "name", "version", "source", "items")
OPTIONAL_FRAMEWORK_FIELDS = ("short_name", "id_pattern", "groups", "default", "description")
REQUIRED_ITEM_FIELDS = ("id", "group", "title", "text", "source")
OPTIONAL_ITEM_FIELDS = ("framework", "attributes")
#: A framework id names files, columns and command-line choices: lower case, digits and underscores.
FRAMEWORK_ID = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


class ReferenceError(ValueError):
    """A reference file is missing, malformed or would change the denominator of coverage."""


# ---- a run's reference set ------------------------------------------------------------------------------

def reference_for_run(extra_dirs: Sequence[Path | str] = (), names: Sequence[str] | None = None,
                      *, shipped_dir: Path = SHIPPED_DIR) -> ReferenceSet:
    """The frameworks a run measures against.

    The shipped frameworks and those in `extra_dirs` are all known; `names` picks among them; with no
    `names`, the shipped defaults run, plus every framework of `extra_dirs`.
    """
    shipped = load_frameworks(shipped_dir)
    added = [framework for directory in extra_dirs if not same_folder(directory, shipped_dir)
             for framework in load_frameworks(directory)]
    known = check_distinct_frameworks(shipped + added)
    if names:
        unknown = [name for name in names if name not in known]
        if unknown:
            raise ReferenceError(f"unknown framework(s) {unknown}; known: {sorted(known)}")
        chosen = [known[name] for name in dict.fromkeys(names)]
    else:
        chosen = [framework for framework in shipped if framework.default] + added
    if not chosen:
        raise ReferenceError("no framework to run: name one with --framework")
    return reference_set(chosen)


def load_reference(directory: Path | str) -> ReferenceSet:
    """Every framework in `directory`, validated, in file-name order (the folder's whole reference set)."""
    return reference_set(load_frameworks(directory))


def reference_set(frameworks: Iterable[Framework]) -> ReferenceSet:
    """A reference set of `frameworks` in the order given, hashed by their files' contents."""
    frameworks = tuple(frameworks)
    check_distinct_frameworks(list(frameworks))
    check_unique_ids([item for fw in frameworks for item in fw.items], where="the frameworks chosen")
    digest = hashlib.sha256()
    for framework in frameworks:
        digest.update(f"{framework.id}\0{framework.sha256}\0".encode())
    return ReferenceSet(frameworks=frameworks, sha256=digest.hexdigest())


def load_frameworks(directory: Path | str) -> list[Framework]:
    """The frameworks of `directory`'s `*.yaml` files (not its sub-folders), in file-name order."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ReferenceError(f"{directory}: not a folder of framework files")
    paths = sorted(directory.glob("*.yaml"))
    if not paths:
        raise ReferenceError(f"no reference files (*.yaml) in {directory}")
    frameworks = [load_framework(path) for path in paths]
    check_distinct_frameworks(frameworks)
    return frameworks


def same_folder(a: Path | str, b: Path | str) -> bool:
    return Path(a).resolve() == Path(b).resolve()


def check_distinct_frameworks(frameworks: list[Framework]) -> dict[str, Framework]:
    """Frameworks by id; two files defining one framework, or sharing an item id, are refused."""
    by_id: dict[str, Framework] = {}
    owner: dict[str, Framework] = {}
    for framework in frameworks:
        if framework.id in by_id:
            raise ReferenceError(f"framework {framework.id!r} is defined twice: {by_id[framework.id].path} and "
                                 f"{framework.path}")
        by_id[framework.id] = framework
        for item in framework.items:
            if item.id in owner:
                raise ReferenceError(f"{framework.path}: item id {item.id} is also in {owner[item.id].path}; "
                                     "ids must be unique across frameworks")
            owner[item.id] = framework
    return by_id


# ---- one framework file ---------------------------------------------------------------------------------

def load_framework(path: Path) -> Framework:
    """Parse one framework file and check it against what it declares."""
    try:
        data = load_yaml_with_lines(path)
        raw = path.read_bytes()
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise ReferenceError(f"{path}: cannot be read as YAML ({error})") from error
    if not isinstance(data, Lines):
        raise ReferenceError(f"{path}: expected a mapping with keys {list(REQUIRED_FRAMEWORK_FIELDS)}")
    where = FileLines(path, data)
    check_fields(data, REQUIRED_FRAMEWORK_FIELDS, OPTIONAL_FRAMEWORK_FIELDS, where.at(data), empty_allowed=False)
    framework_id = str(data["framework"])
    if not FRAMEWORK_ID.match(framework_id):
        raise ReferenceError(f"{where.key('framework')}: framework id {framework_id!r} must be lower case letters, "
                             "digits and underscores, starting with a letter")
    pattern = id_pattern(data, where)
    declared = declared_groups(data, where)
    if not isinstance(data["items"], list):
        raise ReferenceError(f"{where.key('items')}: `items` must be a list of items")
    items = tuple(parse_item(raw_item, framework_id, pattern, where, index)
                  for index, raw_item in enumerate(data["items"], start=1))
    check_unique_items(items, data["items"], where)
    groups = check_groups(items, declared, data, where)
    return Framework(id=framework_id, name=text_of(data["name"]), version=str(data["version"]),
                     source=text_of(data["source"]), items=items,
                     short_name=text_of(data.get("short_name") or data["name"]), groups=groups,
                     default=data.get("default") is True, path=str(path), sha256=hashlib.sha256(raw).hexdigest(),
                     id_pattern=pattern.pattern if pattern is not None else "",
                     group_counts=tuple((declared or {}).get(group) for group in groups),
                     description=str(data.get("description") or "").strip())


class FileLines:
    """Where in a framework file something is, as "file:line", for messages a person can act on."""

    def __init__(self, path: Path, data: Lines) -> None:
        self.path, self.data = path, data

    def at(self, mapping: object) -> str:
        return f"{self.path}:{getattr(mapping, 'line', 1)}"

    def key(self, name: str, mapping: Lines | None = None) -> str:
        mapping = self.data if mapping is None else mapping
        return f"{self.path}:{getattr(mapping, 'key_lines', {}).get(name, getattr(mapping, 'line', 1))}"


def check_fields(mapping: Lines, required: tuple[str, ...], optional: tuple[str, ...], where: str, *,
                 empty_allowed: bool, label: str = "") -> None:
    absent = [key for key in required if key not in mapping or (not empty_allowed and mapping[key] in (None, ""))]
    if absent:
        raise ReferenceError(f"{where}: {label}missing or empty {absent}")
    unknown = sorted(str(key) for key in mapping if key not in required + optional)
    if unknown:
        raise ReferenceError(f"{where}: {label}unknown field(s) {unknown}; a framework file knows "
                             f"{list(required + optional)}")


def id_pattern(data: Lines, where: FileLines) -> re.Pattern | None:
    """The framework's declared item id pattern (matched whole), or None when it declares none."""
    if not data.get("id_pattern"):
        return None
    try:
        return re.compile(str(data["id_pattern"]))
    except re.error as error:
        raise ReferenceError(f"{where.key('id_pattern')}: id_pattern is not a regular expression ({error})") from error


def declared_groups(data: Lines, where: FileLines) -> dict[str, int | None] | None:
    """The groups the file declares, in order, each with its expected item count (None: not published)."""
    if "groups" not in data:
        return None
    raw = data["groups"]
    if not isinstance(raw, list) or not raw:
        raise ReferenceError(f"{where.key('groups')}: `groups` must be a list of group names or "
                             "{name: ..., count: ...} mappings")
    groups: dict[str, int | None] = {}
    for entry in raw:
        if isinstance(entry, str):
            name, count = entry, None
        elif isinstance(entry, Lines) and entry.get("name"):
            check_fields(entry, ("name",), ("count",), where.at(entry), empty_allowed=False, label="group: ")
            name, count = str(entry["name"]), entry.get("count")
            if count is not None and (not isinstance(count, int) or isinstance(count, bool) or count < 1):
                raise ReferenceError(f"{where.key('count', entry)}: group {name!r}: count must be a whole number "
                                     f"of 1 or more, got {count!r}")
        else:
            raise ReferenceError(f"{where.at(entry)}: a group is a name or a mapping with `name` (and `count`)")
        if name in groups:
            raise ReferenceError(f"{where.at(entry) if isinstance(entry, Lines) else where.key('groups')}: "
                                 f"group {name!r} is declared twice")
        groups[name] = count
    return groups


def parse_item(raw: object, framework_id: str, pattern: re.Pattern | None, where: FileLines,
               index: int) -> ReferenceItem:
    """Turn one YAML mapping into a ReferenceItem, naming the file and line of any fault."""
    if not isinstance(raw, Lines):
        raise ReferenceError(f"{where.key('items')}: item {index}: expected a mapping with keys "
                             f"{list(REQUIRED_ITEM_FIELDS)}")
    label = f"item {index} ({raw.get('id', '?')}): "
    check_fields(raw, REQUIRED_ITEM_FIELDS, OPTIONAL_ITEM_FIELDS, where.at(raw), empty_allowed=True, label=label)
    item_id = raw["id"]
    try:
        check_ref_id(item_id)
    except ValueError as error:
        raise ReferenceError(f"{where.key('id', raw)}: {error}") from error
    if pattern is not None and not pattern.fullmatch(item_id):
        raise ReferenceError(f"{where.key('id', raw)}: {item_id} does not match the framework's id pattern "
                             f"{pattern.pattern!r}")
    if "framework" in raw and raw["framework"] != framework_id:
        raise ReferenceError(f"{where.key('framework', raw)}: {item_id} says framework {raw['framework']!r}, "
                             f"the file is {framework_id!r}")
    text = text_of(raw["text"])
    if not text:
        raise ReferenceError(f"{where.key('text', raw)}: {label}empty text")
    for key in ("group", "title", "source"):
        if not text_of(raw[key]):
            raise ReferenceError(f"{where.key(key, raw)}: {label}empty {key}")
    return ReferenceItem(id=item_id, framework=framework_id, group=text_of(raw["group"]), title=text_of(raw["title"]),
                         text=text, source=text_of(raw["source"]), attributes=item_attributes(raw, where, label))


def item_attributes(raw: Lines, where: FileLines, label: str) -> tuple[tuple[str, str], ...]:
    attributes = raw.get("attributes") or {}
    if not isinstance(attributes, dict) or not all(isinstance(key, str) for key in attributes):
        raise ReferenceError(f"{where.key('attributes', raw)}: {label}attributes must map names to text")
    return tuple((key, text_of(value)) for key, value in attributes.items())


def text_of(value: object) -> str:
    """A field's text with its whitespace runs (YAML line folds) made single spaces."""
    return " ".join(str(value if value is not None else "").split())


def check_unique_items(items: tuple[ReferenceItem, ...], raw_items: list, where: FileLines) -> None:
    seen: dict[str, int] = {}
    for item, raw in zip(items, raw_items, strict=True):
        if item.id in seen:
            raise ReferenceError(f"{where.key('id', raw)}: duplicate id {item.id} (first at line {seen[item.id]})")
        seen[item.id] = raw.line


def check_unique_ids(items: list[ReferenceItem] | tuple[ReferenceItem, ...], *, where: str) -> None:
    doubled = sorted(item_id for item_id, n in Counter(item.id for item in items).items() if n > 1)
    if doubled:
        raise ReferenceError(f"{where}: duplicate id(s) {doubled}")


def check_groups(items: tuple[ReferenceItem, ...], declared: dict[str, int | None] | None, data: Lines,
                 where: FileLines) -> tuple[str, ...]:
    """The framework's groups in order; every item in a declared group, every declared count met.

    Rationale: coverage percentages are only comparable between runs and between councils when the
    denominator is the published list, so a file that declares a count is held to it.
    """
    if not items:
        raise ReferenceError(f"{where.key('items')}: the framework has no items")
    actual = Counter(item.group for item in items)
    if declared is None:
        return tuple(dict.fromkeys(item.group for item in items))
    for item, raw in zip(items, data["items"], strict=True):
        if item.group not in declared:
            raise ReferenceError(f"{where.key('group', raw)}: {item.id} is in group {item.group!r}, which the file "
                                 f"does not declare; groups: {list(declared)}")
    for name, count in declared.items():
        if not actual[name]:
            raise ReferenceError(f"{where.key('groups')}: group {name!r} has no items")
        if count is not None and actual[name] != count:
            raise ReferenceError(f"{where.key('groups')}: wrong item count in group {name!r}: the file declares "
                                 f"{count}, its items give {actual[name]}")
    return tuple(declared)
