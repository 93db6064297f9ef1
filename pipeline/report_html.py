"""The HTML gap report of a run: an index of the corpus, and one page per document, opened from disk.

Why two kinds of page: a run of 1,000 documents gave one 135 MB page that no browser opens in time. The
index (`report.html`) holds what a reader needs to find their way: per item, how many documents cover it,
partially cover it or miss it (sortable, filterable); a compact heatmap of documents x items, paged; the
list of documents with their counts, each linking to its own page; and the run's details (date, reference
versions, thresholds, files that failed and why). Each document's page (`report/<document id>.html`, the
id being its content's sha256) holds its gap table, the evidence behind every covered or partial verdict
with the matched words highlighted, the near miss of every missing item, and links to the PDF's page.
Both are built from the run store one document at a time, so memory does not grow with the corpus.

Highlighting draws the character spans the classifier recorded on each evidence (`Evidence.spans`); only
the lead-in and heading, which the spans do not cover, are matched again (`match_spans`).

Document text is untrusted. Every piece of it (file names, headings, passages, matched words, failure
reasons) goes through Jinja2's autoescaping; highlighted text is handed to the templates as (text,
is_match) segments escaped one by one, so the only markup on a page is ours. The one inline script and
stylesheet are our own files; a Content-Security-Policy meta tag allows only their hashes, so even markup
that slipped through could not run.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path, PurePath
from typing import TYPE_CHECKING
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup, escape

from pipeline.classify.highlight import match_spans, merged
from pipeline.display import shortened, visible_controls
from pipeline.files import write_atomic
from pipeline.palette import (
    STANCE_MARKS,
    STATUS_COLOURS,
    STATUS_ORDER,
    STATUS_RANK,
    STATUS_SYMBOLS,
    STATUS_TEXT_COLOUR,
)
from pipeline.review.agreement import agreement
from pipeline.types import (
    Commitment,
    Coverage,
    DocumentInfo,
    Evidence,
    ReferenceItem,
    ReferenceSet,
    Review,
    Signal,
    Skipped,
    Stance,
    Status,
    VerdictMark,
)

if TYPE_CHECKING:
    from pipeline.compare import Comparison
    from pipeline.run.store import RunStore

TEMPLATE_PACKAGE = "pipeline"
TEMPLATE_FOLDER = "templates"
INDEX_TEMPLATE = "index.html.j2"
DOCUMENT_TEMPLATE = "document.html.j2"
COMPARE_TEMPLATE = "compare.html.j2"
MACROS_TEMPLATE = "macros.html.j2"
STYLE_TEMPLATE = "report.css.j2"
SCRIPT_FILE = "report.js"
#: The folder, beside report.html, that holds one page per document.
DOCUMENT_PAGES_FOLDER = "report"
#: The index, as a document page links back to it.
INDEX_FILE = "report.html"
#: Documents per page of the index's heatmap: a page of rows a screen shows whole, and at 1,000 documents
#: 20 pages whose hidden rows cost the browser parsing, not layout.
HEATMAP_PAGE_DOCUMENTS = 50
#: A document id that can name a file as it is: a content sha256 in lower-case hex.
DOCUMENT_ID = re.compile(r"[0-9a-f]{64}")
#: Heading of the report; the run's date and reference versions follow it.
REPORT_TITLE = "promise-map gap report"
#: Settings shown as their own table rather than in the list of other settings.
SETTINGS_SHOWN_ELSEWHERE = ("thresholds", "password")
#: What each signal's score measures, for the thresholds table a reviewer reads first.
SIGNAL_MEANINGS = {
    Signal.QUOTE.value: "near-verbatim quotation of one of the item's sentences (alignment ratio)",
    Signal.TFIDF.value: "shared distinctive wording between passage and item (TF-IDF cosine similarity)",
    "model": "a classifier trained on labelled passages (calibrated probability)",
    Signal.ZERO_SHOT.value: "similarity of words (TF-IDF) and meaning (sentence embeddings) to the item's text, "
                            "calibrated on the labelled frameworks (probability)",
}
#: File types whose viewers open at the page a link names (`file.pdf#page=4`, PDF's open parameters, which
#: browsers' PDF viewers follow); other files are linked whole and their passages located by heading path.
PAGE_LINK_SUFFIXES = (".pdf",)
#: How the report introduces `Evidence.matched`, by signal.
MATCHED_LABELS = {Signal.TFIDF.value: "shared words", "model": "words that weighed most",
                  Signal.ZERO_SHOT.value: "shared words"}
#: A heatmap cell by status rank (-1: the document was not assessed on the item). Short, because the index
#: holds one per document and item; the symbol carries the status for print and for readers who cannot tell
#: the colours apart. Our own constant markup: no document text is in it.
CELL_HTML = {STATUS_RANK[Status.COVERED]: f'<td class="c2">{STATUS_SYMBOLS[Status.COVERED]}</td>',
             STATUS_RANK[Status.PARTIAL]: f'<td class="c1">{STATUS_SYMBOLS[Status.PARTIAL]}</td>',
             STATUS_RANK[Status.MISSING]: "<td></td>", -1: '<td class="na"></td>'}
#: A covered or partial cell whose document opposes the item, or is mixed on it: its own mark and outline.
STANCE_CELL_HTML = {(rank, stance.value): f'<td class="c{rank} st-{stance.value}">{mark}</td>'
                    for stance, mark in STANCE_MARKS.items()
                    for rank in (STATUS_RANK[Status.COVERED], STATUS_RANK[Status.PARTIAL])}

Segments = tuple[tuple[str, bool], ...]


# --- highlighting ------------------------------------------------------------------------------------------------

def span_segments(text: str, spans: Iterable[tuple[int, int]]) -> Segments:
    """Split `text` into (piece, is_match) segments at the given character spans (overlaps merged, clipped).

    The template escapes each piece and wraps the matched ones in <mark>, so markup is built only around
    escaped text. Example: "Brothers and sisters", spans ((0, 8),) -> (("Brothers", True), (" and sisters", False)).
    """
    segments: list[tuple[str, bool]] = []
    position = 0
    for start, end in merged((max(0, start), min(len(text), end)) for start, end in spans):
        if end <= start or start < position:
            continue
        if start > position:
            segments.append((text[position:start], False))
        segments.append((text[start:end], True))
        position = end
    if position < len(text):
        segments.append((text[position:], False))
    return tuple(segments)


def highlighted(segments: Segments) -> Markup:
    """Segments as HTML: every piece escaped, the matched ones wrapped in <mark>, so the only markup is ours.

    A template function rather than a macro: the pages of 1,000 documents draw some 200,000 highlighted
    texts, and a Jinja macro call per text cost more than the join.
    """
    return Markup("".join(f"<mark>{escape(piece)}</mark>" if is_match else escape(piece)
                          for piece, is_match in segments))


def highlight_segments(text: str, matched: str, signal: Signal | str) -> Segments:
    """Segments of a text the classifier recorded no spans for (a heading, a lead-in): its words matched again."""
    return span_segments(text, match_spans(text, matched, signal)) if text else ()


# --- views: what a page shows, built from plain values ----------------------------------------------------------

@dataclass(frozen=True)
class SourceFile:
    """A document's file as a page links to it: a URL relative to the page's folder, every part quoted.

    `path` is the file's path inside the corpus folder, as shown; `opens_at_page` says whether a link can
    name the passage's page (PDF) or only the file (DOCX, HTML, text: the heading path locates the passage).
    """

    href: str
    path: str
    opens_at_page: bool

    def page_href(self, page: int) -> str:
        return f"{self.href}#page={int(page)}" if self.opens_at_page else self.href


@dataclass(frozen=True)
class EvidenceView:
    """One evidence passage as a page shows it: where, why, and the text split around the matched words.

    `lead_in_segments` is the sentence that introduced the passage, split the same way, or empty when there
    is none: the classifier read it with the text, so the words behind a match may be there and nowhere else.
    """

    rank: int
    page: int
    heading: str
    signal: str
    score: str
    matched: str
    segments: Segments
    lead_in_segments: Segments = ()
    heading_segments: Segments = ()
    #: a reviewer's decision on the passage ("accepted", "rejected", "review again"), or ""
    review: str = ""
    #: where the passage stands on the item and what it commits to (pipeline/stance), or ""
    stance: str = ""
    commitment: str = ""


@dataclass(frozen=True)
class GapRow:
    """One row of a document's gap table, with the data attributes the filter and sort script reads."""

    order: int
    item: ReferenceItem
    status: str
    status_rank: int
    score: str
    threshold: str
    signal: str
    pages: str
    first_page: int
    evidence: tuple[EvidenceView, ...]
    near_miss: EvidenceView | None
    #: why the near miss is not evidence, when its score is not the reason (pipeline/decide.py)
    near_miss_reason: str = ""
    machine_status: str = ""
    #: the reviewer's decision in force, when there is one
    review: Review | None = None
    #: the document's stance on the item and its commitment, from the evidence ("" for a missing item)
    stance: str = ""
    commitment: str = ""

    @property
    def item_text_short(self) -> str:
        """The item's text as the gap table shows it at first: whole if short, else its start (see `shortened`)."""
        return shortened(self.item.text)

    @property
    def item_text_is_cut(self) -> bool:
        """Whether the short form leaves words out, so the table offers the whole text on hover and click."""
        return self.item_text_short != " ".join(self.item.text.split())

    @property
    def evidence_summary(self) -> str:
        """What the closed evidence cell says, e.g. "3 passages, pages 4, 7"."""
        passages = f"{len(self.evidence)} passage{'s' if len(self.evidence) != 1 else ''}"
        return f"{passages}, page{'s' if ',' in self.pages else ''} {self.pages}"


@dataclass(frozen=True)
class FrameworkCount:
    """A document's covered / partial / missing counts against one framework: "covered 12 of 55"."""

    framework: str
    label: str
    counts: dict[str, int]
    total: int


@dataclass(frozen=True)
class DocumentEntry:
    """A document as the index lists it: its counts, its heatmap row and the link to its page."""

    number: int
    id: str
    name: str
    href: str
    page_count: int
    counts: dict[str, int]
    by_framework: tuple[FrameworkCount, ...]
    cells: tuple[int, ...]
    #: per heatmap cell, the document's stance on the item where it is marked (opposes, mixed), else ""
    stances: tuple[str, ...] = ()
    #: how many items the document opposes (its evidence's stance)
    opposed: int = 0

    @property
    def cells_html(self) -> Markup:
        """The document's heatmap cells, one per item in column order, from constant markup only."""
        stances = self.stances or ("",) * len(self.cells)
        return Markup("".join(STANCE_CELL_HTML.get((rank, stance), CELL_HTML[rank])
                              for rank, stance in zip(self.cells, stances, strict=True)))


@dataclass(frozen=True)
class ItemCount:
    """An item of the corpus overview: how many documents cover it, partially cover it and miss it."""

    order: int
    item: ReferenceItem
    counts: dict[str, int]
    shares: dict[str, int]
    #: how many documents support, oppose or are mixed on the item (their evidence's stance)
    stances: dict[str, int] = field(default_factory=dict)

    @property
    def opposed_by(self) -> str:
        """"some" for an item at least one document opposes or is mixed on: the filter for contested items."""
        return "some" if self.stances.get(Stance.OPPOSES.value) or self.stances.get(Stance.MIXED.value) else "none"

    @property
    def covered_by(self) -> str:
        """"none" for an item no document covers: the filter that lists the corpus's gaps."""
        return "some" if self.counts[Status.COVERED.value] else "none"


@dataclass(frozen=True)
class GroupColumns:
    """A block of heatmap columns: the items of one foundation (group) within one framework."""

    framework: str
    framework_label: str
    group: str
    items: tuple[ReferenceItem, ...]


@dataclass(frozen=True)
class PageAssets:
    """The page's own stylesheet and script, and the Content-Security-Policy that admits only them."""

    style: Markup
    script: Markup
    csp: str


def template_environment() -> Environment:
    """Jinja2 with autoescaping on for everything: no template can forget to escape document text.

    Two filters show names (of files, folders): `name` in text, `shown` in attributes such as tooltips.
    """
    environment = Environment(loader=PackageLoader(TEMPLATE_PACKAGE, TEMPLATE_FOLDER), autoescape=True,
                              undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                              keep_trailing_newline=True)
    environment.filters["name"] = name_html
    environment.filters["shown"] = visible_controls
    environment.filters["short"] = shortened
    environment.globals["highlighted"] = highlighted
    return environment


def name_html(name: object) -> Markup:
    """A name as the page shows it: acting characters escaped, then isolated in <bdi>, escaped as HTML.

    A right-to-left override (U+202E) would show "report\u202egnp.exe.txt" as "reportexe.png.txt";
    written as its escape it cannot, and <bdi> keeps right-to-left letters in a name from reordering the
    text around it (a document called "خطة.pdf" in "A = خطة.pdf, B = ...").
    """
    return Markup("<bdi>{}</bdi>").format(visible_controls(name))


def asset_text(name: str) -> str:
    return resources.files(TEMPLATE_PACKAGE).joinpath(TEMPLATE_FOLDER, name).read_text(encoding="utf-8")


def csp_source_hash(source: str) -> str:
    """The CSP source expression that allows exactly this inline script or style."""
    digest = base64.b64encode(hashlib.sha256(source.encode("utf-8")).digest()).decode("ascii")
    return f"'sha256-{digest}'"


def page_assets(environment: Environment) -> PageAssets:
    """Our stylesheet (coloured from the shared palette) and script, with the policy that allows only them.

    Both are our own files, never document text, so they are marked safe; they
    must not contain "</" or they could close their element early.
    """
    colours = {status.value: colour for status, colour in STATUS_COLOURS.items()}
    style = environment.get_template(STYLE_TEMPLATE).render(status_colours=colours, text_colour=STATUS_TEXT_COLOUR)
    script = asset_text(SCRIPT_FILE)
    for name, source in ((STYLE_TEMPLATE, style), (SCRIPT_FILE, script)):
        if "</" in source:
            raise ValueError(f"{name} contains '</', which would end its element early; rewrite it without")
    csp = "; ".join((
        "default-src 'none'",
        f"script-src {csp_source_hash(script)}",
        f"style-src {csp_source_hash(style)}",
        "base-uri 'none'",
        "form-action 'none'",
    ))
    return PageAssets(style=Markup(style), script=Markup(script), csp=csp)




def evidence_view(rank: int, evidence: Evidence) -> EvidenceView:
    """The evidence as shown: its text split at the spans the classifier recorded; heading and lead-in matched.

    The classifier read all three, so the words behind a match may be in any of them; a blank lead-in shows
    nothing.
    """
    lead_in = evidence.lead_in.strip()
    return EvidenceView(rank=rank, page=evidence.page, heading=evidence.heading, signal=evidence.signal.value,
                        score=f"{evidence.score:.3f}", matched=evidence.matched,
                        segments=span_segments(evidence.text, evidence.spans),
                        lead_in_segments=highlight_segments(lead_in, evidence.matched, evidence.signal),
                        heading_segments=highlight_segments(evidence.heading, evidence.matched, evidence.signal),
                        review=evidence.review.value if evidence.review else "",
                        stance=evidence.stance.value if evidence.stance else "",
                        commitment=evidence.commitment.value if evidence.commitment else "")


def pages_text(coverage: Coverage) -> str:
    return ", ".join(str(page) for page in sorted({evidence.page for evidence in coverage.evidence}))


def threshold_text(coverage: Coverage) -> str:
    """The item's covered threshold to 3 decimals, or "" where the signal's threshold of the run applies."""
    return "" if coverage.threshold is None else f"{coverage.threshold:.3f}"


def gap_row(order: int, coverage: Coverage) -> GapRow:
    best = coverage.evidence[0] if coverage.evidence else None
    return GapRow(
        order=order, item=coverage.item, status=coverage.status.value, status_rank=STATUS_RANK[coverage.status],
        score=f"{coverage.score:.3f}", threshold=threshold_text(coverage),
        signal=best.signal.value if best else "", pages=pages_text(coverage),
        first_page=min((evidence.page for evidence in coverage.evidence), default=0),
        evidence=tuple(evidence_view(rank, evidence) for rank, evidence in enumerate(coverage.evidence, start=1)),
        near_miss=evidence_view(0, coverage.near_miss) if coverage.near_miss is not None else None,
        near_miss_reason=coverage.near_miss_reason,
        machine_status=coverage.machine_status.value, review=coverage.review,
        stance=coverage.stance.value if coverage.stance else "",
        commitment=coverage.commitment.value if coverage.commitment else "",
    )


def status_totals(statuses: Iterable[Status]) -> dict[str, int]:
    """Covered / partial / missing counts, every status present (0 when none)."""
    totals = Counter(status.value for status in statuses)
    return {status.value: totals[status.value] for status in STATUS_ORDER}


def framework_counts(verdicts: list[tuple[str, Status]], labels: dict[str, str]) -> tuple[FrameworkCount, ...]:
    """A document's counts per framework from its (framework, status) verdicts, frameworks in reference order."""
    counts = []
    for framework in dict.fromkeys(framework for framework, _ in verdicts):
        in_framework = [status for of_framework, status in verdicts if of_framework == framework]
        counts.append(FrameworkCount(framework=framework, label=labels.get(framework, framework),
                                     counts=status_totals(in_framework), total=len(in_framework)))
    return tuple(counts)


def framework_labels(run_record: dict) -> dict[str, str]:
    """Framework id -> "name (version)" from run.json, so a count names the reference set it counts against."""
    frameworks = run_record.get("reference", {}).get("frameworks", []) if isinstance(run_record, dict) else []
    return {fw["id"]: f"{fw.get('name', fw['id'])} ({fw.get('version', 'version not recorded')})"
                      + (f"; {fw['method']}" if str(fw.get("method", "")).startswith("zero-shot") else "")
            for fw in frameworks if isinstance(fw, dict) and "id" in fw}


def framework_short_names(run: dict) -> dict[str, str]:
    """Framework id -> its short name, from run.json (the id itself for a record that has none)."""
    frameworks = run.get("reference", {}).get("frameworks", []) if isinstance(run, dict) else []
    return {fw["id"]: str(fw.get("short_name") or fw["id"]) for fw in frameworks if isinstance(fw, dict) and "id" in fw}


def page_stem(doc_id: str) -> str:
    """The file name (without .html) of a document's page: its id when that is a sha256, else the id's sha256.

    A document id comes from the store; hashing anything else keeps a page's file name inside `report/`
    whatever the id holds.
    """
    return doc_id if DOCUMENT_ID.fullmatch(doc_id) else hashlib.sha256(doc_id.encode("utf-8")).hexdigest()


def document_href(doc_id: str) -> str:
    """The link from the index to a document's page."""
    return f"{DOCUMENT_PAGES_FOLDER}/{page_stem(doc_id)}.html"


def document_entry(number: int, info: DocumentInfo, marks: list[VerdictMark], items: tuple[ReferenceItem, ...],
                   labels: dict[str, str]) -> DocumentEntry:
    """The index's line for one document, from its verdicts' statuses and stances (no evidence is read)."""
    rank_by_item = {mark.item.id: STATUS_RANK[mark.status] for mark in marks}
    marked = {mark.item.id: mark.stance.value for mark in marks
              if mark.stance is not None and mark.stance in STANCE_MARKS}
    return DocumentEntry(number=number, id=info.id, name=info.name, href=document_href(info.id),
                         page_count=info.page_count, counts=status_totals(mark.status for mark in marks),
                         by_framework=framework_counts([(mark.item.framework, mark.status) for mark in marks], labels),
                         cells=tuple(rank_by_item.get(item.id, -1) for item in items),
                         stances=tuple(marked.get(item.id, "") for item in items),
                         opposed=sum(value == Stance.OPPOSES.value for value in marked.values()))


def document_entries(store: RunStore, reference: ReferenceSet, labels: dict[str, str]) -> Iterator[DocumentEntry]:
    """Every mapped document's index line, in run order, reading one document's statuses at a time."""
    items = heatmap_items(reference)
    for number, info in enumerate(store.documents(), start=1):
        yield document_entry(number, info, store.verdict_marks(info.id, reference), items, labels)


def share(part: int, whole: int) -> int:
    """`part` of `whole` as a whole percentage, for the width classes of the overview's bars."""
    return round(100 * part / whole) if whole else 0


def item_counts(reference: ReferenceSet, status_counts: dict[str, dict[str, int]],
                documents: int, stance_counts: dict[str, dict[str, int]] | None = None) -> tuple[ItemCount, ...]:
    """The corpus overview: per item in reference order, documents covering, partly covering and missing it.

    Also how many of the documents covering it support, oppose or are mixed on it.
    """
    rows = []
    stance_counts = stance_counts or {}
    for order, item in enumerate(reference.items):
        found, sides = status_counts.get(item.id, {}), stance_counts.get(item.id, {})
        counts = {status.value: int(found.get(status.value, 0)) for status in STATUS_ORDER}
        rows.append(ItemCount(order=order, item=item, counts=counts,
                              shares={status: share(number, documents) for status, number in counts.items()},
                              stances={stance.value: int(sides.get(stance.value, 0)) for stance in Stance}))
    return tuple(rows)


def heatmap_columns(items: Iterable[ReferenceItem], short_names: dict[str, str]) -> tuple[GroupColumns, ...]:
    """Items grouped by framework, then by foundation, keeping reference order inside each group."""
    groups: dict[tuple[str, str], list[ReferenceItem]] = {}
    for item in items:
        groups.setdefault((item.framework, item.group), []).append(item)
    return tuple(GroupColumns(framework=framework, framework_label=short_names.get(framework, framework), group=group,
                              items=tuple(group_items)) for (framework, group), group_items in groups.items())


def heatmap_items(reference: ReferenceSet) -> tuple[ReferenceItem, ...]:
    """The heatmap's columns in order: the reference's items, grouped by framework and foundation."""
    return tuple(item for column in heatmap_columns(reference.items, reference.short_names())
                 for item in column.items)


def framework_spans(columns: tuple[GroupColumns, ...]) -> list[tuple[str, int]]:
    """(framework label, number of item columns) for the heatmap's top header row."""
    spans: list[tuple[str, int]] = []
    for column in columns:
        if spans and spans[-1][0] == column.framework_label:
            spans[-1] = (column.framework_label, spans[-1][1] + len(column.items))
        else:
            spans.append((column.framework_label, len(column.items)))
    return spans


def heatmap_pages(entries: list[DocumentEntry], size: int = HEATMAP_PAGE_DOCUMENTS) -> list[list[DocumentEntry]]:
    """The heatmap's rows cut into pages of `size` documents; the index shows one page at a time."""
    return [entries[start:start + size] for start in range(0, len(entries), size)]


def described(value: object) -> str:
    """A run.json value as a line of text: mappings as "key: value; ...", lists joined by commas."""
    if isinstance(value, dict):
        return "; ".join(f"{key}: {described(entry)}" for key, entry in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(described(entry) for entry in value)
    return str(value)


FRAMEWORK_KEYS = ("id", "name", "short_name", "version", "items", "source", "method")
#: The classifier's per-item thresholds in run.json: shown as their own table, not in the classifier's line.
ITEM_THRESHOLDS_KEY = "item_thresholds"
INPUT_KEYS = ("file", "pages", "extractor", "sha256")


def with_keys(entry: dict, keys: tuple[str, ...]) -> dict:
    """The entry with every key the template shows, "not recorded" where run.json lacks one."""
    return {key: entry.get(key, "not recorded") for key in keys}


def without_item_thresholds(classifier: object) -> object:
    """The classifier's record without its 68 per-item thresholds, which would make its line unreadable."""
    if isinstance(classifier, dict):
        return {key: value for key, value in classifier.items() if key != ITEM_THRESHOLDS_KEY}
    return classifier


def item_thresholds(classifier: object) -> list[tuple[str, str]]:
    """(item id, threshold to 3 decimals) per item of a learned classifier; empty for one without them."""
    thresholds = classifier.get(ITEM_THRESHOLDS_KEY) if isinstance(classifier, dict) else None
    if not isinstance(thresholds, dict):
        return []
    return [(str(item_id), f"{value:.3f}" if isinstance(value, (int, float)) else str(value))
            for item_id, value in thresholds.items()]


def run_view(run_record: dict, skipped: list[Skipped]) -> dict:
    """The run's metadata as the report shows it; tolerant of a partial record, so a report always renders."""
    record = run_record if isinstance(run_record, dict) else {}
    reference = record.get("reference", {}) if isinstance(record.get("reference"), dict) else {}
    settings = record.get("settings", {}) if isinstance(record.get("settings"), dict) else {}
    thresholds = settings.get("thresholds", {}) if isinstance(settings.get("thresholds"), dict) else {}
    tool = record.get("tool", {}) if isinstance(record.get("tool"), dict) else {}
    return {
        "created": str(record.get("created", "not recorded")),
        "tool": f"{tool.get('name', 'promise-map')} {tool.get('version', '')}".strip(),
        "corpus": str(record.get("corpus", "not recorded")),
        "corpus_folder": str(record.get("corpus_folder", "")),
        "classifier": described(without_item_thresholds(record.get("classifier", "not recorded"))),
        "item_thresholds": item_thresholds(record.get("classifier")),
        "reference_sha256": str(reference.get("sha256", "not recorded")),
        "frameworks": [with_keys(fw, FRAMEWORK_KEYS) for fw in reference.get("frameworks", []) if isinstance(fw, dict)],
        "thresholds": [(signal, values.get("covered", ""), values.get("partial", ""))
                       for signal, values in thresholds.items() if isinstance(values, dict)],
        "settings": [(name, described(value)) for name, value in settings.items()
                     if name not in SETTINGS_SHOWN_ELSEWHERE],
        "inputs": [with_keys(entry, INPUT_KEYS) for entry in record.get("inputs", []) if isinstance(entry, dict)],
        "counts": record.get("counts", {}) if isinstance(record.get("counts"), dict) else {},
        "timings": record.get("timings_seconds", {}) if isinstance(record.get("timings_seconds"), dict) else {},
        "skipped": [{"file": s.file, "stage": s.stage, "reason": s.reason} for s in skipped],
    }


def relative_href(target: Path, report_dir: Path) -> str:
    """A link from a page in `report_dir` to the file `target`: a relative path, each part URL-quoted.

    Quoting every part (no character kept but letters, digits and `_.-~`) is what keeps document names
    inert here: a file named "javascript:alert(1).pdf" gives "javascript%3Aalert%281%29.pdf", which a
    browser reads as a path, never as a scheme; "#", "?" and "%" in a name cannot start a fragment or a
    query or fake an escape. Empty parts are dropped, so the link never starts with "/" or "//".
    """
    relative = os.path.relpath(target, report_dir)
    return "/".join(quote(part, safe="") for part in PurePath(relative).parts if part not in ("", "/"))


def source_files(run_record: dict, report_dir: Path | None) -> dict[str, SourceFile]:
    """Document name, and document id (sha256) where recorded -> its file, from run.json's corpus folder.

    Each input's path inside the corpus folder is linked relative to `report_dir`, the folder of the page
    that links. Empty without a report folder (there is nothing to be relative to) or for a run.json that did not
    record where the files were: the report then names pages and headings without linking.
    """
    record = run_record if isinstance(run_record, dict) else {}
    folder = record.get("corpus_folder")
    if report_dir is None or not isinstance(folder, str) or not folder:
        return {}
    report_dir = Path(os.path.abspath(report_dir))
    sources = {}
    for entry in record.get("inputs", []):
        if not (isinstance(entry, dict) and isinstance(entry.get("file"), str) and isinstance(entry.get("path"), str)):
            continue
        target = Path(os.path.abspath(Path(folder) / entry["path"].lstrip("/")))
        source = SourceFile(href=relative_href(target, report_dir), path=entry["path"],
                            opens_at_page=target.suffix.lower() in PAGE_LINK_SUFFIXES)
        sources[entry["file"]] = source
        if isinstance(entry.get("sha256"), str):
            sources[entry["sha256"]] = source
    return sources


def shared_context(run: dict) -> dict:
    """What the index and every document page both show: statuses, legend symbols, labels."""
    return {
        "title": REPORT_TITLE,
        "run": run,
        "statuses": tuple(status.value for status in STATUS_ORDER),
        "symbols": {status.value: symbol for status, symbol in STATUS_SYMBOLS.items()},
        "stances": [stance.value for stance in Stance],
        "stance_marks": {stance.value: mark for stance, mark in STANCE_MARKS.items()},
        "commitments": [kind.value for kind in Commitment],
        "signal_meanings": SIGNAL_MEANINGS,
        "matched_labels": MATCHED_LABELS,
    }


def index_context(store: RunStore, reference: ReferenceSet, run_record: dict) -> dict:
    """The index's values: the corpus overview, heatmap pages, the document list and the run's details."""
    labels = framework_labels(run_record)
    entries = list(document_entries(store, reference, labels))
    columns = heatmap_columns(reference.items, reference.short_names())
    overview = item_counts(reference, store.status_counts(), len(entries), store.stance_counts())
    return {
        **shared_context(run_view(run_record, store.problems())),
        "labels": labels,
        "documents": entries,
        "heatmap_pages": heatmap_pages(entries),
        "columns": columns,
        "framework_spans": framework_spans(columns),
        "overview": overview,
        "never_covered": sum(1 for row in overview if not row.counts[Status.COVERED.value]),
        "frameworks": tuple(dict.fromkeys(item.framework for item in reference.items)),
        "groups": tuple(dict.fromkeys(item.group for item in reference.items)),
        "short_names": reference.short_names(),
        "agreement": agreement(store, reference),
    }


def render_index(store: RunStore, reference: ReferenceSet, run_record: dict, *, report_dir: Path | None = None) -> str:
    """report.html: the corpus at a glance, each document a link to its page; the same input gives the same page.

    `report_dir` is the folder report.html is written to (document pages are in its `report/` folder).
    """
    environment = template_environment()
    context = index_context(store, reference, run_record)
    return environment.get_template(INDEX_TEMPLATE).render(assets=page_assets(environment), **context)


#: Where a document page links back to the index, relative to the page.
DOCUMENT_INDEX_HREF = f"../{INDEX_FILE}"


def item_cells_html(environment: Environment, items: Iterable[ReferenceItem]) -> dict[str, Markup]:
    """Item id -> its gap-table cells, rendered once per run: every document's page shows them alike."""
    macro = environment.get_template(MACROS_TEMPLATE).module.gap_item_cells
    return {item.id: macro(item, DOCUMENT_INDEX_HREF) for item in items}


def document_context(info: DocumentInfo, coverages: list[Coverage], run: dict, labels: dict[str, str],
                     source: SourceFile | None, item_cells: dict[str, Markup]) -> dict:
    """One document page's values: its gap table (every item), counts per framework and its source file."""
    rows = tuple(gap_row(order, coverage) for order, coverage in enumerate(coverages))
    return {
        **shared_context(run),
        "document": info,
        "rows": rows,
        "counts": status_totals(coverage.status for coverage in coverages),
        "by_framework": framework_counts([(coverage.item.framework, coverage.status) for coverage in coverages],
                                         labels),
        "frameworks": tuple(dict.fromkeys(row.item.framework for row in rows)),
        "groups": tuple(dict.fromkeys(row.item.group for row in rows)),
        "short_names": framework_short_names(run),
        "source": source,
        "index_href": DOCUMENT_INDEX_HREF,
        "item_cells": item_cells,
    }


def render_document(environment: Environment, assets: PageAssets, info: DocumentInfo, coverages: list[Coverage],
                    *, run: dict, labels: dict[str, str], source: SourceFile | None,
                    item_cells: dict[str, Markup] | None = None) -> str:
    """One document's page: its gap table with evidence and near misses.

    `item_cells` are the items' rendered cells (`item_cells_html`), made once for a run's pages; without
    them, this page's own are rendered.
    """
    if item_cells is None:
        item_cells = item_cells_html(environment, (coverage.item for coverage in coverages))
    context = document_context(info, coverages, run, labels, source, item_cells)
    return environment.get_template(DOCUMENT_TEMPLATE).render(assets=assets, **context)


def document_pages(store: RunStore, reference: ReferenceSet, run_record: dict,
                   pages_dir: Path) -> Iterator[tuple[DocumentInfo, str]]:
    """Every mapped document with its page, rendered one at a time; `pages_dir` is where the pages will be."""
    environment = template_environment()
    assets = page_assets(environment)
    run = run_view(run_record, [])
    labels = framework_labels(run_record)
    sources = source_files(run_record, pages_dir)
    item_cells = item_cells_html(environment, reference.items)
    for info in store.documents():
        source = sources.get(info.id) or sources.get(info.name)
        yield info, render_document(environment, assets, info, store.coverages(info.id, reference), run=run,
                                    labels=labels, source=source, item_cells=item_cells)


def write_document_pages(out_dir: Path, store: RunStore, reference: ReferenceSet, run_record: dict) -> list[Path]:
    """Write `out_dir/report/<document id>.html` for every mapped document, one document in memory at a time."""
    pages_dir = Path(out_dir) / DOCUMENT_PAGES_FOLDER
    written = []
    for info, html in document_pages(store, reference, run_record, pages_dir):
        path = pages_dir / f"{page_stem(info.id)}.html"
        write_atomic(path, html.encode("utf-8"))
        written.append(path)
    return written


def render_comparison(comparison: Comparison, *, run_record: dict) -> str:
    """A page with the compare section: items covered in one document and missing in the other, with evidence."""
    environment = template_environment()
    return environment.get_template(COMPARE_TEMPLATE).render(
        assets=page_assets(environment), title=f"{REPORT_TITLE}: compare", comparison=comparison,
        run=run_view(run_record, []), stance_marks=STANCE_MARKS)
