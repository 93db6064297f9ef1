"""Codebooks: the reference frameworks in the formats qualitative analysis (QDA) tools exchange, and back.

A team that codes documents by hand in NVivo, ATLAS.ti, MAXQDA or QualCoder can take promise-map's frameworks
as its codebook, and bring a codebook of its own to promise-map as a framework:

- `export_qdc` writes a REFI-QDA Codebook (a `.qdc` file, XML namespace urn:QDA-XML:codebook:1.0, the exchange
  standard those tools import): a non-codable code per framework, a non-codable code per group under it and a
  codable code per item ("VOICE-1: DECISION MAKING", its Description the item's text), with a Set per framework
  listing its items. GUIDs are uuid5 of the ids, so a re-export is the same bytes and a QDA project that
  imported an earlier export recognises its codes.
- `import_qdc` turns a codebook into framework YAML (the format pipeline/reference.py loads): our own export
  exactly as it was, a codebook made in a QDA tool by the rules in its docstring.
- `export_csv` is the frameworks as one table; `coded_segments_csv` a finished run's evidence passages as
  coded segments (document, character offsets, code), to set beside a QDA tool's own coding.

What a framework file says beyond names and texts travels in the Descriptions, as `key: value` lines after the
text, so that it reads well in a QDA tool and parses back exactly:

    framework code:  [the file's description, a blank line]
                     promise-map framework: calls_to_action      <- marks the code as one of our frameworks
                     short_name: ... / version: ... / source: ... / default: true|false
                     [id_pattern: ...]   [item_order: ID ID ...  (only when items are not listed group by group)]
    group code:      [count: 6]          (when the file declares the group's count)
    item code:       the item's text, a blank line, `Source: ...`, then one `name: value` line per attribute

A codebook is untrusted input: it is parsed with entities, DTDs and the network off, refused if it has a
DOCTYPE at all, and checked against schemas/codebook.xsd before anything is read from it.
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml
from lxml import etree

from pipeline.compare import VERDICTS_FILE
from pipeline.reference import FRAMEWORK_ID, ReferenceError, load_framework
from pipeline.types import REF_ID_MAX_LENGTH, REF_ID_PATTERN, Framework, ReferenceItem, Status

NAMESPACE = "urn:QDA-XML:codebook:1.0"
XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'
SCHEMA_PATH = Path(__file__).resolve().parent / "schemas" / "codebook.xsd"
#: The namespace of every GUID promise-map writes. Never change it: the same framework must always get the same
#: GUIDs, or a QDA project that imported an earlier export would take the codes of a new one for other codes.
GUID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:promise-map:codebook")
#: One colour per framework, in export order: Okabe-Ito hues other than the covered green and partial orange of
#: pipeline/palette.py, so that a code's colour in a QDA tool is never read as a verdict.
FRAMEWORK_COLOURS = ("#0072B2", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
#: The first metadata line of a framework code's Description: `promise-map framework: <framework id>`.
FRAMEWORK_MARK = "promise-map framework"
#: The first metadata line of an item code's Description, after a blank line: `Source: <the item's source>`.
ITEM_SOURCE = "Source"
GROUP_COUNT = "count"
ITEM_ORDER = "item_order"
#: The group of a codable code that has no group above it in a foreign codebook.
UNGROUPED = "Ungrouped"
#: How deeper levels of a foreign code tree are flattened into one group name: "Parent / Child".
GROUP_PATH_SEPARATOR = " / "
UNNAMED = "(unnamed code)"
#: An imported framework's generated item ids are PREFIX-1, PREFIX-2, ..., PREFIX from the framework id.
ID_PREFIX_CHARS = 10
#: Suffixes of a codebook's file name that are not part of the framework id made from it.
CODEBOOK_SUFFIX = re.compile(r"\.(?:qdc|xml)$", re.IGNORECASE)
SEGMENT_COLUMNS = ("document", "document_id", "page", "start", "end", "code", "code_name", "status", "score", "text")
#: A passage is named by its document's content sha256 and its character span (pipeline/segment.py:passage_id).
PASSAGE_ID = re.compile(r"^(?P<doc>[0-9a-f]{64}):(?P<start>[0-9]+)-(?P<end>[0-9]+)$")


DOCTYPE = b"<!DOCTYPE"
DOCTYPE_REFUSED = ("the file has a document type declaration ({doctype}); a REFI-QDA codebook has none, and the "
                   "entities one may declare are never expanded or read: refused")


class CodebookError(ValueError):
    """A codebook cannot be written, read or turned into a framework; the message says what is wrong and where."""


# ---- export ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FileFacts:
    """What a framework's file declares that the loaded Framework does not keep, for an exact round trip."""

    description: str = ""
    id_pattern: str = ""
    counts: dict[str, int | None] = field(default_factory=dict)


def export_qdc(frameworks: Sequence[Framework], *, origin: str) -> bytes:
    """`frameworks` as a REFI-QDA Codebook: UTF-8 XML, pretty-printed, the same bytes for the same frameworks.

    `origin` names the program that wrote it (the standard's CodeBook/@origin), e.g. "promise-map 0.1.0".
    """
    if not frameworks:
        raise CodebookError("no framework to export")
    root = etree.Element(qualified("CodeBook"), nsmap={None: NAMESPACE})
    root.set("origin", origin)
    codes = etree.SubElement(root, qualified("Codes"))
    sets = etree.SubElement(root, qualified("Sets"))
    for position, framework in enumerate(frameworks):
        check_exportable(framework)
        try:
            add_framework_codes(codes, framework, framework_file_facts(framework),
                                FRAMEWORK_COLOURS[position % len(FRAMEWORK_COLOURS)])
            add_framework_set(sets, framework)
        except ValueError as error:  # lxml: a string no XML document can hold (a control character)
            raise CodebookError(f"framework {framework.id}: {error}") from error
    # the declaration written by hand: lxml's uses single quotes, which some importers have been known to reject
    return XML_DECLARATION + etree.tostring(root, encoding="UTF-8", pretty_print=True)


def qualified(tag: str) -> str:
    return f"{{{NAMESPACE}}}{tag}"


def guid(*parts: str) -> str:
    """A GUID that depends only on `parts` (kind and ids), so every export gives a code the same GUID."""
    return str(uuid.uuid5(GUID_NAMESPACE, "\0".join(parts)))


def framework_groups(framework: Framework) -> tuple[str, ...]:
    """The framework's groups in order (from its items when it was built without any)."""
    return framework.groups or tuple(dict.fromkeys(item.group for item in framework.items))


def add_code(parent: etree._Element, code_guid: str, name: str, *, codable: bool, colour: str,
             description: str) -> etree._Element:
    code = etree.SubElement(parent, qualified("Code"))
    code.set("guid", code_guid)
    code.set("name", name)
    code.set("isCodable", "true" if codable else "false")
    code.set("color", colour)
    if description:
        etree.SubElement(code, qualified("Description")).text = description
    return code


def add_framework_codes(codes: etree._Element, framework: Framework, facts: FileFacts, colour: str) -> None:
    """A framework's code, a group code per group under it, and a codable code per item under its group."""
    top = add_code(codes, guid("framework", framework.id), framework.name, codable=False, colour=colour,
                   description=framework_description(framework, facts))
    for group in framework_groups(framework):
        count = facts.counts.get(group)
        group_code = add_code(top, guid("group", framework.id, group), group, codable=False, colour=colour,
                              description="" if count is None else f"{GROUP_COUNT}: {count}")
        for item in framework.items:
            if item.group == group:
                add_code(group_code, guid("item", framework.id, item.id), f"{item.id}: {item.title}", codable=True,
                         colour=colour, description=item_description(item))


def add_framework_set(sets: etree._Element, framework: Framework) -> None:
    """A Set of the framework's item codes: how a QDA tool lets a coder pick one framework's codes at once."""
    code_set = etree.SubElement(sets, qualified("Set"))
    code_set.set("guid", guid("set", framework.id))
    code_set.set("name", framework.name)
    etree.SubElement(code_set, qualified("Description")).text = (
        f"The {len(framework.items)} items of {framework.name} ({framework.id}, version {framework.version})")
    for item in framework.items:
        etree.SubElement(code_set, qualified("MemberCode")).set("targetGUID", guid("item", framework.id, item.id))


def framework_description(framework: Framework, facts: FileFacts) -> str:
    """The framework code's Description: the file's description, then the metadata that rebuilds the file."""
    lines = [f"{FRAMEWORK_MARK}: {framework.id}", f"short_name: {framework.short_name}",
             f"version: {framework.version}", f"source: {framework.source}",
             f"default: {'true' if framework.default else 'false'}"]
    if facts.id_pattern:
        lines.append(f"id_pattern: {facts.id_pattern}")
    grouped = [item.id for group in framework_groups(framework) for item in framework.items if item.group == group]
    if grouped != [item.id for item in framework.items]:
        lines.append(f"{ITEM_ORDER}: " + " ".join(item.id for item in framework.items))
    block = "\n".join(lines)
    return f"{facts.description}\n\n{block}" if facts.description else block


def item_description(item: ReferenceItem) -> str:
    """The item code's Description: its text, a blank line, its source and its attributes, one a line."""
    lines = [item.text, "", f"{ITEM_SOURCE}: {item.source}"]
    return "\n".join(lines + [f"{name}: {value}" for name, value in item.attributes])


def check_exportable(framework: Framework) -> None:
    """Refuse what the Descriptions' `key: value` lines could not carry back exactly.

    A loaded framework always passes (its loader makes every field one line); one built in code may not.
    """
    single = {"name": framework.name, "short_name": framework.short_name, "version": framework.version,
              "source": framework.source}
    for item in framework.items:
        single |= {f"{item.id} title": item.title, f"{item.id} group": item.group, f"{item.id} source": item.source}
        for name, value in item.attributes:
            if not name or name != name.strip() or ":" in name or "\n" in name or "\r" in name or name == ITEM_SOURCE:
                raise CodebookError(f"framework {framework.id}: {item.id}: attribute name {name!r} cannot be written "
                                    f"in a codebook (it must be non-empty, without ':' or line breaks, not "
                                    f"{ITEM_SOURCE!r})")
            single[f"{item.id} {name}"] = value
    for label, value in single.items():
        if "\n" in value or "\r" in value:
            raise CodebookError(f"framework {framework.id}: {label} must be one line to be written in a codebook")


def framework_file_facts(framework: Framework) -> FileFacts:
    """What the framework's file declares beyond its items (description, id pattern, group counts)."""
    if "\n" in framework.id_pattern or "\r" in framework.id_pattern:
        raise CodebookError(f"{framework.path}: id_pattern must be one line to be written in a codebook")
    counts = dict(zip(framework.groups, framework.group_counts, strict=False)) if framework.group_counts else {}
    return FileFacts(description=framework.description, id_pattern=framework.id_pattern, counts=counts)


def export_csv(frameworks: Sequence[Framework]) -> str:
    """The frameworks' items as one CSV table: a row per item, a column per attribute any item has.

    Cells go through the report stage's formula guard (pipeline/report.py): framework files may come from anyone.
    """
    from pipeline.report import csv_bytes  # not at the top: pipeline.report imports the classifiers (seconds)

    attribute_names = list(dict.fromkeys(name for framework in frameworks for item in framework.items
                                         for name, _ in item.attributes))
    columns = ("framework", "framework_name", "group", "id", "title", "text", "source", *attribute_names)
    rows = [{"framework": framework.id, "framework_name": framework.name, "group": item.group, "id": item.id,
             "title": item.title, "text": item.text, "source": item.source, **dict(item.attributes)}
            for framework in frameworks for item in framework.items]
    return csv_bytes(columns, rows).decode("utf-8")


# ---- reading a codebook ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Code:
    """One code of a codebook as read, the XML left behind."""

    guid: str
    name: str
    codable: bool
    description: str
    children: tuple[Code, ...] = ()


@lru_cache(maxsize=1)
def codebook_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(SCHEMA_PATH)))


def safe_parser() -> etree.XMLParser:
    """A parser that expands no entity, reads no DTD and opens no network or file: a codebook is untrusted."""
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                           huge_tree=False, remove_comments=True, remove_pis=True)


def read_codebook(data: bytes) -> etree._Element:
    """The codebook's root element, parsed safely and checked against the REFI-QDA Codebook schema."""
    try:
        root = etree.fromstring(data, safe_parser())
    except etree.XMLSyntaxError as error:
        if DOCTYPE in data:  # libxml2 stops some entity tricks itself (an entity bomb): the DOCTYPE is the fault
            raise CodebookError(DOCTYPE_REFUSED.format(doctype="<!DOCTYPE ...>")) from error
        raise CodebookError(f"not well-formed XML: {error.msg}") from error
    except ValueError as error:  # not bytes, or a str with an encoding declaration
        raise CodebookError(f"not an XML document ({error})") from error
    if root is None:
        raise CodebookError("not an XML document (empty)")
    info = root.getroottree().docinfo
    if info.doctype or info.internalDTD is not None:
        raise CodebookError(DOCTYPE_REFUSED.format(doctype=info.doctype or "<!DOCTYPE ...>"))
    schema = codebook_schema()
    if not schema.validate(root.getroottree()):
        error = schema.error_log[0]
        message = error.message.replace(f"{{{NAMESPACE}}}", "")
        hint = ""
        if "validation root" in message:
            hint = f" (a codebook's root element is <CodeBook xmlns=\"{NAMESPACE}\">)"
        raise CodebookError(f"not a valid REFI-QDA codebook: line {error.line}: {message}{hint}")
    return root


def validate_qdc(data: bytes) -> None:
    """Raise CodebookError, with the schema's message and line, unless `data` is a valid REFI-QDA codebook."""
    read_codebook(data)


def codes_in(element: etree._Element) -> tuple[Code, ...]:
    return tuple(Code(guid=code.get("guid", ""), name=code.get("name", ""),
                      codable=code.get("isCodable") in ("true", "1"),
                      description=code.findtext(qualified("Description")) or "", children=codes_in(code))
                 for code in element.iterchildren(qualified("Code")))


# ---- import ----------------------------------------------------------------------------------------------

@dataclass
class ItemDraft:
    """An item being made from a codable code; its id is settled once every framework's ids are known."""

    group: str
    name: str
    candidate_id: str | None
    rest: str
    text: str
    source: str
    attributes: dict[str, str] = field(default_factory=dict)
    id: str = ""
    title: str = ""


@dataclass
class FrameworkDraft:
    """A framework being made from codes; becomes the YAML of one framework file."""

    id: str
    name: str
    version: str
    source: str
    items: list[ItemDraft]
    short_name: str = ""
    default: bool = False
    description: str = ""
    id_pattern: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    item_order: tuple[str, ...] = ()


def import_qdc(data: bytes, *, source_name: str) -> dict[str, str]:
    """The frameworks of a codebook as framework YAML, {framework id: file text}, each loadable by load_framework.

    Always a dict: a codebook may hold several frameworks. `source_name` (usually the file's name) makes the
    ids and sources of what did not come from promise-map. A top-level code whose Description promise-map wrote
    (`promise-map framework: <id>`) becomes that framework again, exactly. Of the other top-level codes, each
    that has grandchildren becomes a framework (its children the groups, deeper levels flattened into groups
    "Parent / Child"); the rest together form one framework whose groups are those codes (a codable one without
    children goes in group "Ungrouped"). Every codable code is an item: its id is a leading "ID:" of its name
    when that has the form of an id (a letter, parts joined by - _ or ., with a digit), otherwise PREFIX-1,
    PREFIX-2, ... in order; its text the Description, or the name when there is none; its title the name
    without the id; its source "{source_name}, code {name}". Group counts are declared from the items.
    """
    root = read_codebook(data)
    stem = CODEBOOK_SUFFIX.sub("", Path(source_name).name) or source_name
    context = ImportContext(source_name=source_name, stem=stem, base_id=framework_id_of(stem),
                            version=f"qdc-{hashlib.sha256(data).hexdigest()[:12]}", origin=root.get("origin") or "")
    drafts = framework_drafts(codes_in(root.find(qualified("Codes"))), context)
    if not drafts:
        raise CodebookError("the codebook has no codable code: nothing to make a framework of")
    assign_item_ids(drafts)
    texts = {draft.id: framework_yaml(draft) for draft in drafts}
    check_loadable(texts)
    return texts


@dataclass(frozen=True)
class ImportContext:
    """What every framework made from one codebook shares: where it came from."""

    source_name: str
    stem: str
    base_id: str
    version: str
    origin: str

    @property
    def source(self) -> str:
        origin = f", written by {self.origin}" if self.origin else ""
        return f"REFI-QDA codebook {self.source_name}{origin}"


def framework_drafts(top: tuple[Code, ...], context: ImportContext) -> list[FrameworkDraft]:
    """One draft per framework the top-level codes make, ours first in place, the leftover codes' last."""
    drafts: list[FrameworkDraft] = []
    own = [own_framework_metadata(code) for code in top]
    # our frameworks keep their ids; the others' ids are made around them
    taken = {metadata[0][FRAMEWORK_MARK] for metadata in own if metadata is not None}
    seen: set[str] = set()
    rest: list[Code] = []
    for code, metadata in zip(top, own, strict=True):
        if metadata is not None:
            draft = own_framework(code, *metadata, context)
            if draft.id in seen:
                raise CodebookError(f"framework {draft.id} appears twice in the codebook")
            seen.add(draft.id)
        elif any(child.children for child in code.children):
            draft = foreign_framework(code, unique_id(f"{context.base_id}_{code.name}", taken), context)
        else:
            rest.append(code)
            continue
        if draft.items:
            taken.add(draft.id)
            drafts.append(draft)
    placed = [pair for code in rest for pair in group_codes(code)]
    if placed:
        items = [foreign_item(group, code, context) for group, code in placed]
        drafts.append(FrameworkDraft(id=unique_id(context.base_id, taken), name=one_line(context.stem) or UNNAMED,
                                     version=context.version, source=context.source, items=items,
                                     counts=dict(Counter(item.group for item in items))))
    return drafts


def own_framework_metadata(code: Code) -> tuple[dict[str, str], str] | None:
    """The metadata and description of a framework code promise-map wrote, or None for any other code."""
    lines = code.description.split("\n")
    marks = [n for n, line in enumerate(lines) if line.startswith(f"{FRAMEWORK_MARK}: ")]
    if code.codable or not marks:
        return None
    metadata = key_values(lines[marks[-1]:])
    if not FRAMEWORK_ID.match(metadata[FRAMEWORK_MARK]):
        return None
    return metadata, "\n".join(lines[:marks[-1]]).strip()


def key_values(lines: list[str]) -> dict[str, str]:
    """`key: value` lines as a dict (the first ':' ends the key; a QDA tool may have trimmed the space after it)."""
    pairs = {}
    for line in lines:
        key, colon, value = line.partition(":")
        if colon and key.strip():
            pairs[key.strip()] = value[1:] if value.startswith(" ") else value
    return pairs


def own_framework(code: Code, metadata: dict[str, str], description: str, context: ImportContext) -> FrameworkDraft:
    """A framework promise-map exported, as it was; codes added in a QDA tool are taken as a foreign code's are."""
    items = [own_item(group, item, context) for group, item in placed_codes(code)]
    counts = {}
    for group in code.children:
        declared = key_values(group.description.split("\n")).get(GROUP_COUNT, "").strip()
        if declared.isdigit():
            counts[one_line(group.name)] = int(declared)
    return FrameworkDraft(
        id=metadata[FRAMEWORK_MARK], name=one_line(code.name) or UNNAMED,
        version=metadata.get("version", context.version), source=metadata.get("source", context.source),
        items=items, short_name=metadata.get("short_name", ""), default=metadata.get("default", "").strip() == "true",
        description=description, id_pattern=metadata.get("id_pattern", ""), counts=counts,
        item_order=tuple(metadata.get(ITEM_ORDER, "").split()))


def own_item(group: str, code: Code, context: ImportContext) -> ItemDraft:
    """An item code promise-map wrote: id and title from its name, text, source and attributes from its Description."""
    at = code.description.rfind(f"\n\n{ITEM_SOURCE}:")
    if at < 0:
        return foreign_item(group, code, context, digit_needed=False)
    candidate, rest = leading_id(code.name, digit_needed=False)
    metadata_lines = code.description[at + 2:].split("\n")
    source = key_values(metadata_lines[:1]).get(ITEM_SOURCE, "")
    return ItemDraft(group=group, name=code.name, candidate_id=candidate, rest=rest,
                     text=one_line(code.description[:at]), source=one_line(source) or foreign_source(code, context),
                     attributes=key_values(metadata_lines[1:]))


def foreign_framework(code: Code, framework_id: str, context: ImportContext) -> FrameworkDraft:
    """A top-level code with grandchildren, as a framework: its children are the groups."""
    items = [foreign_item(group, item, context) for group, item in placed_codes(code)]
    return FrameworkDraft(id=framework_id, name=one_line(code.name) or UNNAMED, version=context.version,
                          source=context.source, items=items, description=code.description.strip(),
                          counts=dict(Counter(item.group for item in items)))


def foreign_item(group: str, code: Code, context: ImportContext, *, digit_needed: bool = True) -> ItemDraft:
    candidate, rest = leading_id(code.name, digit_needed=digit_needed)
    return ItemDraft(group=group, name=code.name, candidate_id=candidate, rest=rest,
                     text=one_line(code.description) or one_line(code.name), source=foreign_source(code, context))


def foreign_source(code: Code, context: ImportContext) -> str:
    return f"{context.source_name}, code {one_line(code.name)}"


def placed_codes(framework_code: Code) -> list[tuple[str, Code]]:
    """Every codable code of a framework code, with its group, in the codebook's order (see group_codes)."""
    placed = [(UNGROUPED, framework_code)] if framework_code.codable else []
    return placed + [pair for group in framework_code.children for pair in group_codes(group)]


def group_codes(group: Code) -> list[tuple[str, Code]]:
    """The codable codes a group-level code holds, with their group names.

    A codable group code is an item of its own group, or of "Ungrouped" when it holds no codes; codes below its
    children are in groups named by their path, "Group / Child".
    """
    name = one_line(group.name) or UNNAMED
    if not group.children:
        return [(UNGROUPED, group)] if group.codable else []
    return ([(name, group)] if group.codable else []) + codes_below(group, name)


def codes_below(code: Code, group: str) -> list[tuple[str, Code]]:
    placed = []
    for child in code.children:
        if child.codable:
            placed.append((group, child))
        placed.extend(codes_below(child, f"{group}{GROUP_PATH_SEPARATOR}{one_line(child.name) or UNNAMED}"))
    return placed


def leading_id(name: str, *, digit_needed: bool) -> tuple[str | None, str]:
    """(id, the rest of the name) when `name` starts "ID: ...", else (None, name).

    In a foreign codebook the id must have a digit, so that "Theme: housing" stays a title.
    """
    head, colon, rest = name.partition(":")
    head = head.strip()
    if (colon and len(head) <= REF_ID_MAX_LENGTH and REF_ID_PATTERN.match(head)
            and (not digit_needed or any(char.isdigit() for char in head))):
        return head, rest.strip()
    return None, name


def assign_item_ids(drafts: list[FrameworkDraft]) -> None:
    """Settle every item's id and title: a code's own id when no earlier code has it, else PREFIX-n."""
    taken: set[str] = set()
    for draft in drafts:
        for item in draft.items:
            if item.candidate_id and item.candidate_id not in taken:
                item.id, item.title = item.candidate_id, one_line(item.rest)
                taken.add(item.id)
    numbers: Counter[str] = Counter()
    for draft in drafts:
        prefix = id_prefix(draft.id)
        for item in draft.items:
            if item.id:
                continue
            while True:
                numbers[prefix] += 1
                candidate = f"{prefix}-{numbers[prefix]}"
                if candidate not in taken:
                    break
            item.id, item.title = candidate, one_line(item.name)
            taken.add(candidate)
    for draft in drafts:
        for item in draft.items:
            item.title = item.title or item.id
            item.text = item.text or item.title


def id_prefix(framework_id: str) -> str:
    return re.sub(r"[^A-Z0-9]", "", framework_id.upper())[:ID_PREFIX_CHARS]


def framework_id_of(text: str) -> str:
    """A framework id made of `text`: lower case, runs of anything else as "_", starting with a letter."""
    slug = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    if not slug or not slug[0].isalpha():
        slug = f"codebook_{slug}".rstrip("_")
    return slug[:40].rstrip("_")


def unique_id(text: str, taken: set[str]) -> str:
    base = framework_id_of(text)
    candidate, number = base, 1
    while candidate in taken:
        number += 1
        suffix = f"_{number}"
        candidate = base[:40 - len(suffix)].rstrip("_") + suffix
    return candidate


def one_line(text: str) -> str:
    """`text` with its whitespace runs as single spaces, as the framework loader reads every field."""
    return " ".join(text.split())


def framework_yaml(draft: FrameworkDraft) -> str:
    """The framework file's text: the loader's fields in its documented order, every value quoted as YAML needs."""
    items = draft.items
    if draft.item_order and sorted(draft.item_order) == sorted(item.id for item in items):
        position = {item_id: n for n, item_id in enumerate(draft.item_order)}
        items = sorted(items, key=lambda item: position[item.id])
    data: dict[str, object] = {"framework": draft.id, "name": draft.name}
    if draft.short_name:
        data["short_name"] = draft.short_name
    data |= {"version": draft.version, "source": draft.source}
    if draft.default:
        data["default"] = True
    if draft.description:
        data["description"] = draft.description
    if draft.id_pattern:
        data["id_pattern"] = draft.id_pattern
    groups = dict.fromkeys(item.group for item in draft.items)
    data["groups"] = [{"name": group, **({"count": draft.counts[group]} if group in draft.counts else {})}
                      for group in groups]
    data["items"] = [{"id": item.id, "group": item.group, "title": item.title, "text": item.text,
                      "source": item.source, **({"attributes": item.attributes} if item.attributes else {})}
                     for item in items]
    header = ("# A framework made by `promise-map codebook import` from a REFI-QDA codebook (`source` names it).\n"
              "# The file format is described in docs/frameworks.md.\n")
    return header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=110)


def check_loadable(texts: dict[str, str]) -> None:
    """Load each framework as `promise-map` will, so a codebook that makes a bad framework fails here, named."""
    with tempfile.TemporaryDirectory(prefix="promise-map-codebook-") as folder:
        for framework_id, text in texts.items():
            path = Path(folder) / f"{framework_id}.yaml"
            path.write_text(text, encoding="utf-8")
            try:
                load_framework(path)
            except ReferenceError as error:
                message = str(error).replace(str(path), f"{framework_id}.yaml")
                raise CodebookError(f"the codebook makes a framework promise-map refuses: {message}") from error


# ---- a run's evidence as coded segments ------------------------------------------------------------------

def coded_segments(run_folder: Path | str) -> Iterator[dict]:
    """A finished run's coded segments: one row per (passage, item) that is evidence of a covered/partial verdict.

    Read from the run's coverage.jsonl (the typed verdict file every run writes, which `compare` reads too), so
    no reference set is needed. `start`/`end` are character offsets into the document's extracted text, from
    the passage id (`<sha256>:<start>-<end>`); `text` is the passage as the classifier read it (a list's items
    joined by single line breaks); `score` is the passage's score for the item; `code_name` is the item's code
    name in an exported codebook ("VOICE-1: DECISION MAKING").
    """
    path = Path(run_folder) / VERDICTS_FILE
    if not path.is_file():
        raise CodebookError(f"no {VERDICTS_FILE} in {run_folder}: give the folder of a finished "
                            "`promise-map map` run")
    with path.open(encoding="utf-8") as stream:
        for number, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            try:
                rows = segment_rows(json.loads(line))
            except (ValueError, KeyError, TypeError) as error:
                raise CodebookError(f"{path}:{number}: not a verdict record ({error})") from error
            yield from rows


def segment_rows(record: dict) -> list[dict]:
    if record["status"] not in (Status.COVERED.value, Status.PARTIAL.value):
        return []
    rows = []
    for evidence in record["evidence"]:
        span = PASSAGE_ID.match(evidence["passage_id"])
        if span is None or span["doc"] != record["doc_id"]:
            raise ValueError(f"passage id {evidence['passage_id']!r} is not <document sha256>:<start>-<end>")
        rows.append({"document": record["document"], "document_id": record["doc_id"], "page": evidence["page"],
                     "start": int(span["start"]), "end": int(span["end"]), "code": record["item_id"],
                     "code_name": f"{record['item_id']}: {record['title']}", "status": record["status"],
                     "score": evidence["score"], "text": evidence["text"]})
    return rows


def coded_segments_csv(run_folder: Path | str) -> str:
    """coded_segments as a CSV table (columns SEGMENT_COLUMNS)."""
    return segments_csv(list(coded_segments(run_folder)))


def segments_csv(rows: Sequence[dict]) -> str:
    """Rows of coded_segments as a CSV table, every cell through the report stage's formula guard."""
    from pipeline.report import csv_bytes  # not at the top: pipeline.report imports the classifiers (seconds)

    return csv_bytes(SEGMENT_COLUMNS, rows).decode("utf-8")

