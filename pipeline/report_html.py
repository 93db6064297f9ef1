"""The HTML gap report: one self-contained page a policy reviewer can read and trust on their own, opened from disk.

What a reviewer needs, in one file with no network: an overview heatmap of
documents x reference items; per-document gap tables they can filter and sort;
the evidence behind every covered or partial verdict (with the sentence that
introduced it, which the classifier read too), with the matched words
highlighted; a page per item listing which documents cover it; the items no
document covers; and the run's metadata (date, reference versions,
thresholds, files that failed and why).

Document text is untrusted. Every piece of it (file names, headings,
passages, matched words, failure reasons) goes through Jinja2's autoescaping.
Highlighted evidence is handed to the template as (text, is_match) segments
that are escaped one by one, so the only markup in the page is ours. The one
inline script is our own file; a Content-Security-Policy meta tag allows only
its hash (and the stylesheet's), so even markup that slipped through could
not run.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from difflib import SequenceMatcher
from importlib import resources
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, NamedTuple
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from pipeline.classify.text import FUNCTION_WORDS, PLACE_SUBSTITUTIONS, folded, lemma
from pipeline.display import shortened, visible_controls
from pipeline.palette import (
    STATUS_COLOURS,
    STATUS_ORDER,
    STATUS_RANK,
    STATUS_SYMBOLS,
    STATUS_TEXT_COLOUR,
    framework_short_name,
)
from pipeline.types import Coverage, Evidence, ReferenceItem, Signal, Skipped, Status

if TYPE_CHECKING:
    from pipeline.compare import Comparison

TEMPLATE_PACKAGE = "pipeline"
TEMPLATE_FOLDER = "templates"
REPORT_TEMPLATE = "report.html.j2"
COMPARE_TEMPLATE = "compare.html.j2"
STYLE_TEMPLATE = "report.css.j2"
SCRIPT_FILE = "report.js"
#: A run of at least this many consecutive words shared with a quotation is highlighted as quoted.
QUOTE_MIN_RUN_WORDS = 3
#: Heading of the report; the run's date and reference versions follow it.
REPORT_TITLE = "promise-map gap report"
#: Settings shown as their own table rather than in the list of other settings.
SETTINGS_SHOWN_ELSEWHERE = ("thresholds", "password")
#: What each signal's score measures, for the thresholds table a reviewer reads first.
SIGNAL_MEANINGS = {
    Signal.QUOTE.value: "near-verbatim quotation of one of the item's sentences (alignment ratio)",
    Signal.TFIDF.value: "shared distinctive wording between passage and item (TF-IDF cosine similarity)",
    "model": "a classifier trained on labelled passages (calibrated probability)",
}
#: File types whose viewers open at the page a link names (`file.pdf#page=4`, PDF's open parameters, which
#: browsers' PDF viewers follow); other files are linked whole and their passages located by heading path.
PAGE_LINK_SUFFIXES = (".pdf",)
#: How the report introduces `Evidence.matched`, by signal.
MATCHED_LABELS = {Signal.TFIDF.value: "shared words", "model": "words that weighed most"}


class Word(NamedTuple):
    """A word as the classifier compares it, with the span of the original text it came from."""

    text: str
    start: int
    end: int


@dataclass(frozen=True)
class EvidenceView:
    """One evidence passage as the report shows it: where, why, and the text split around matched words.

    `lead_in_segments` is the sentence that introduced the passage, split the
    same way, or empty when there is none: the classifier read it with the
    text, so the words behind a match may be there and nowhere else.
    """

    rank: int
    page: int
    heading: str
    signal: str
    score: str
    matched: str
    segments: tuple[tuple[str, bool], ...]
    lead_in_segments: tuple[tuple[str, bool], ...] = ()
    heading_segments: tuple[tuple[str, bool], ...] = ()


@dataclass(frozen=True)
class GapRow:
    """One row of a document's gap table, with the data attributes the filter and sort script reads."""

    anchor: str
    order: int
    item: ReferenceItem
    status: str
    status_rank: int
    symbol: str
    score: str
    signal: str
    pages: str
    first_page: int
    evidence: tuple[EvidenceView, ...]

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
class DocumentView:
    """A document's section: its gap table and the choices its filters offer."""

    index: int
    anchor: str
    name: str
    rows: tuple[GapRow, ...]
    counts: dict[str, int]
    by_framework: tuple[FrameworkCount, ...]
    frameworks: tuple[str, ...]
    groups: tuple[str, ...]

    @property
    def row_by_item(self) -> dict[str, GapRow]:
        return {row.item.id: row for row in self.rows}


@dataclass(frozen=True)
class ItemStatus:
    """How one document stands on one item, for the item's page."""

    document: str
    document_anchor: str
    row_anchor: str
    status: str
    score: str
    signal: str
    pages: str


@dataclass(frozen=True)
class ItemView:
    """An item's page: its text and how every document stands on it."""

    item: ReferenceItem
    anchor: str
    statuses: tuple[ItemStatus, ...]
    covered: int
    partial: int

    @property
    def best_status(self) -> str:
        if self.covered:
            return Status.COVERED.value
        return Status.PARTIAL.value if self.partial else Status.MISSING.value


@dataclass(frozen=True)
class GroupColumns:
    """A block of heatmap columns: the items of one foundation (group) within one framework."""

    framework: str
    framework_label: str
    group: str
    items: tuple[ReferenceItem, ...]


@dataclass(frozen=True)
class SourceFile:
    """A document's file as the report links to it: a URL relative to the report's folder, every part quoted.

    `path` is the file's path inside the corpus folder, as shown; `opens_at_page` says whether a link can
    name the passage's page (PDF) or only the file (DOCX, HTML, text: the heading path locates the passage).
    """

    href: str
    path: str
    opens_at_page: bool

    def page_href(self, page: int) -> str:
        return f"{self.href}#page={int(page)}" if self.opens_at_page else self.href


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


def place_substituted(chars: list[str], spans: list[tuple[int, int]]) -> tuple[list[str], list[tuple[int, int]]]:
    """Apply the classifier's place-name folding, each new character keeping the span of what it replaced."""
    for pattern, replacement in PLACE_SUBSTITUTIONS:
        joined = "".join(chars)
        new_chars: list[str] = []
        new_spans: list[tuple[int, int]] = []
        position = 0
        for match in pattern.finditer(joined):
            new_chars.extend(chars[position:match.start()])
            new_spans.extend(spans[position:match.start()])
            replaced = (spans[match.start()][0], spans[match.end() - 1][1])
            new_chars.extend(replacement)
            new_spans.extend([replaced] * len(replacement))
            position = match.end()
        chars, spans = new_chars + chars[position:], new_spans + spans[position:]
    return chars, spans


def normalised_words(text: str) -> list[Word]:
    """The words of `normalise_for_matching(text)`, each with the span of `text` it came from.

    The classifier records matched words and quoted spans in its normalised
    form (lower case, place names folded to "scotland", hyphenated words
    joined, punctuation and apostrophes dropped). To highlight them in the text
    a reader sees, this replays the same steps while remembering where each
    character came from. `" ".join(w.text for w in normalised_words(t))`
    equals `normalise_for_matching(t)`; the tests hold it to that.
    """
    chars: list[str] = []
    spans: list[tuple[int, int]] = []
    for index, char in enumerate(text):
        for lowered in folded(char).lower().replace("’", "'").replace("‘", "'"):
            chars.append(lowered)
            spans.append((index, index + 1))
    chars, spans = place_substituted(chars, spans)
    words: list[Word] = []
    letters: list[str] = []
    start = end = 0
    for position, char in enumerate(chars):
        joins_hyphenated = (char == "-" and 0 < position < len(chars) - 1
                            and "a" <= chars[position - 1] <= "z" and "a" <= chars[position + 1] <= "z")
        if joins_hyphenated or char == "'":
            continue  # dropped without splitting the word, as the classifier does
        if "a" <= char <= "z" or "0" <= char <= "9":
            if not letters:
                start = spans[position][0]
            letters.append(char)
            end = spans[position][1]
        elif letters:
            words.append(Word("".join(letters), start, end))
            letters = []
    if letters:
        words.append(Word("".join(letters), start, end))
    return words


def quote_spans(words: list[Word], quoted: str) -> list[tuple[int, int]]:
    """Spans of the text that take part in the quotation: runs of words shared, in order, with the quoted span.

    The quoted span was aligned against the passage with its heading and
    lead-in, so it may start outside the passage text; matching word runs
    (rather than the whole span) highlights exactly the part that is here.
    """
    quoted_words = quoted.split()
    if not quoted_words or not words:
        return []
    min_run = min(QUOTE_MIN_RUN_WORDS, len(quoted_words))
    matcher = SequenceMatcher(None, quoted_words, [word.text for word in words], autojunk=False)
    return [(words[block.b].start, words[block.b + block.size - 1].end)
            for block in matcher.get_matching_blocks() if block.size >= min_run]


def term_spans(words: list[Word], terms: str, text: str) -> list[tuple[int, int]]:
    """Spans of every word that belongs to one of the matched terms ("sibling, brother sister").

    Terms are normalised words or their lemmas ("children" is recorded as
    "child"), so a word is highlighted when either form is among them.
    (The classifier writes a domain concept as the passage's phrase that
    evoked it, so those words are highlighted too.) Function words
    ("the", "on", "they") that a learned model lists inside bigrams are not
    highlighted: marking every "the" hides the words that carry the match.
    """
    wanted = {word for term in terms.split(",") for word in term.split()} - FUNCTION_WORDS
    return [(word.start, word.end) for word in words if word_forms(word, text) & wanted]


def word_forms(word: Word, text: str) -> set[str]:
    """The forms a word may have been recorded in: as normalised, its lemma, and without a possessive 's."""
    forms = {word.text, lemma(word.text)}
    if text[word.start:word.end].lower().endswith(("'s", "’s")):
        forms |= {word.text[:-1], lemma(word.text[:-1])}
    return forms


def highlight_segments(text: str, matched: str, signal: Signal | str) -> tuple[tuple[str, bool], ...]:
    """Split `text` into (piece, is_match) segments around the words behind a match, case-insensitively.

    The template escapes each piece and wraps the matched ones in <mark>, so
    markup is built only around escaped text. Example: text "Brothers and
    Sisters stay together", tfidf terms "brothers sisters, together" ->
    ("Brothers", True), (" and ", False), ("Sisters", True), (" stay ", False), ("together", True).
    """
    words = normalised_words(text)
    if Signal(signal) is Signal.QUOTE:
        spans = quote_spans(words, matched)
    else:
        spans = term_spans(words, matched, text)
    segments: list[tuple[str, bool]] = []
    position = 0
    for start, end in merged(spans):
        if start > position:
            segments.append((text[position:start], False))
        segments.append((text[start:end], True))
        position = end
    if position < len(text):
        segments.append((text[position:], False))
    return tuple(segments)


def merged(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    result: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if result and start <= result[-1][1]:
            result[-1] = (result[-1][0], max(end, result[-1][1]))
        else:
            result.append((start, end))
    return result


def evidence_view(rank: int, evidence: Evidence) -> EvidenceView:
    """The evidence as shown, its heading and lead-in highlighted like its text (a blank lead-in shows nothing).

    The classifier read all three, so the words behind a match may be in any of them.
    """
    lead_in = evidence.lead_in.strip()
    return EvidenceView(rank=rank, page=evidence.page, heading=evidence.heading, signal=evidence.signal.value,
                        score=f"{evidence.score:.3f}", matched=evidence.matched,
                        segments=highlight_segments(evidence.text, evidence.matched, evidence.signal),
                        lead_in_segments=highlight_segments(lead_in, evidence.matched, evidence.signal),
                        heading_segments=highlight_segments(evidence.heading, evidence.matched, evidence.signal))


def pages_text(coverage: Coverage) -> str:
    return ", ".join(str(page) for page in sorted({evidence.page for evidence in coverage.evidence}))


def row_anchor(document_index: int, item_id: str) -> str:
    """Anchors are built from positions and validated item ids, never from document names."""
    return f"d{document_index}-{item_id}"


def gap_row(document_index: int, order: int, coverage: Coverage) -> GapRow:
    best = coverage.evidence[0] if coverage.evidence else None
    return GapRow(
        anchor=row_anchor(document_index, coverage.item.id), order=order, item=coverage.item,
        status=coverage.status.value, status_rank=STATUS_RANK[coverage.status],
        symbol=STATUS_SYMBOLS[coverage.status], score=f"{coverage.score:.3f}",
        signal=best.signal.value if best else "", pages=pages_text(coverage),
        first_page=min((evidence.page for evidence in coverage.evidence), default=0),
        evidence=tuple(evidence_view(rank, evidence) for rank, evidence in enumerate(coverage.evidence, start=1)),
    )


def coverages_by_document(coverages: list[Coverage]) -> dict[str, list[Coverage]]:
    """Coverages grouped by document, documents and items in the order the coverage stage produced them."""
    grouped: dict[str, list[Coverage]] = {}
    for coverage in coverages:
        grouped.setdefault(coverage.doc, []).append(coverage)
    return grouped


def framework_labels(run_record: dict) -> dict[str, str]:
    """Framework id -> "name (version)" from run.json, so a figure names the reference set it counts against."""
    frameworks = run_record.get("reference", {}).get("frameworks", []) if isinstance(run_record, dict) else []
    return {fw["id"]: f"{fw.get('name', fw['id'])} ({fw.get('version', 'version not recorded')})"
            for fw in frameworks if isinstance(fw, dict) and "id" in fw}


def document_views(coverages: list[Coverage], labels: dict[str, str]) -> tuple[DocumentView, ...]:
    views = []
    for index, (name, doc_coverages) in enumerate(coverages_by_document(coverages).items(), start=1):
        rows = tuple(gap_row(index, order, coverage) for order, coverage in enumerate(doc_coverages))
        frameworks = tuple(dict.fromkeys(coverage.item.framework for coverage in doc_coverages))
        by_framework = []
        for framework in frameworks:
            statuses = Counter(c.status.value for c in doc_coverages if c.item.framework == framework)
            by_framework.append(FrameworkCount(framework=framework, label=labels.get(framework, framework),
                                               counts={s.value: statuses[s.value] for s in STATUS_ORDER},
                                               total=sum(statuses.values())))
        totals = Counter(coverage.status.value for coverage in doc_coverages)
        views.append(DocumentView(
            index=index, anchor=f"doc-{index}", name=name, rows=rows,
            counts={status.value: totals[status.value] for status in STATUS_ORDER},
            by_framework=tuple(by_framework), frameworks=frameworks,
            groups=tuple(dict.fromkeys(coverage.item.group for coverage in doc_coverages)),
        ))
    return tuple(views)


def reference_items(coverages: list[Coverage]) -> tuple[ReferenceItem, ...]:
    """The items of the run, in reference order (the order the first document lists them)."""
    return tuple({coverage.item.id: coverage.item for coverage in coverages}.values())


def item_views(coverages: list[Coverage], documents: tuple[DocumentView, ...]) -> tuple[ItemView, ...]:
    rows_by_key = {(document.name, row.item.id): (document, row) for document in documents for row in document.rows}
    views = []
    for item in reference_items(coverages):
        statuses = []
        for document in documents:
            found = rows_by_key.get((document.name, item.id))
            if found is None:
                continue
            _, row = found
            statuses.append(ItemStatus(document=document.name, document_anchor=document.anchor, row_anchor=row.anchor,
                                       status=row.status, score=row.score, signal=row.signal, pages=row.pages))
        views.append(ItemView(item=item, anchor=f"item-{item.id}", statuses=tuple(statuses),
                              covered=sum(s.status == Status.COVERED.value for s in statuses),
                              partial=sum(s.status == Status.PARTIAL.value for s in statuses)))
    return tuple(views)


def heatmap_columns(items: tuple[ReferenceItem, ...]) -> tuple[GroupColumns, ...]:
    """Items grouped by framework, then by foundation, keeping reference order inside each group."""
    groups: dict[tuple[str, str], list[ReferenceItem]] = {}
    for item in items:
        groups.setdefault((item.framework, item.group), []).append(item)
    return tuple(GroupColumns(framework=framework, framework_label=framework_short_name(framework), group=group,
                              items=tuple(group_items)) for (framework, group), group_items in groups.items())


#: Most item columns in one printed block of the heatmap: with the document column they fit across an A4 page
#: (portrait, 12 mm margins), so printing shows every item instead of cutting the table at the paper's edge.
PRINT_HEATMAP_MAX_ITEMS = 24


def print_chunks(columns: tuple[GroupColumns, ...], *,
                 max_items: int = PRINT_HEATMAP_MAX_ITEMS) -> tuple[tuple[GroupColumns, ...], ...]:
    """The heatmap's column blocks packed into printable tables of at most `max_items` items each.

    Foundations stay whole where they fit (Voice + Family, Care, People + Scaffolding, Inspection); one
    larger than a page is cut into pieces of `max_items`.
    """
    pieces = [GroupColumns(framework=column.framework, framework_label=column.framework_label, group=column.group,
                           items=column.items[start:start + max_items])
              for column in columns for start in range(0, len(column.items), max_items)]
    chunks: list[list[GroupColumns]] = []
    for piece in pieces:
        if chunks and sum(len(column.items) for column in chunks[-1]) + len(piece.items) <= max_items:
            chunks[-1].append(piece)
        else:
            chunks.append([piece])
    return tuple(tuple(chunk) for chunk in chunks)


def framework_spans(columns: tuple[GroupColumns, ...]) -> list[tuple[str, int]]:
    """(framework label, number of item columns) for the heatmap's top header row."""
    spans: list[tuple[str, int]] = []
    for column in columns:
        if spans and spans[-1][0] == column.framework_label:
            spans[-1] = (column.framework_label, spans[-1][1] + len(column.items))
        else:
            spans.append((column.framework_label, len(column.items)))
    return spans


def described(value: object) -> str:
    """A run.json value as a line of text: mappings as "key: value; ...", lists joined by commas."""
    if isinstance(value, dict):
        return "; ".join(f"{key}: {described(entry)}" for key, entry in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(described(entry) for entry in value)
    return str(value)


FRAMEWORK_KEYS = ("id", "name", "version", "items", "source")
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


def report_context(*, coverages: list[Coverage], skipped: list[Skipped], run_record: dict) -> dict:
    labels = framework_labels(run_record)
    documents = document_views(coverages, labels)
    items = item_views(coverages, documents)
    columns = heatmap_columns(reference_items(coverages))
    run = run_view(run_record, skipped)
    return {
        "title": REPORT_TITLE,
        "run": run,
        "labels": labels,
        "documents": documents,
        "items": items,
        "columns": columns,
        "framework_spans": framework_spans(columns),
        "print_chunks": print_chunks(columns),
        "never_covered": tuple(item for item in items if not item.covered),
        "statuses": tuple(status.value for status in STATUS_ORDER),
        "symbols": {status.value: symbol for status, symbol in STATUS_SYMBOLS.items()},
        "signal_meanings": SIGNAL_MEANINGS,
        "matched_labels": MATCHED_LABELS,
        "short_names": {column.framework: framework_short_name(column.framework) for column in columns},
        "short_texts": {item.id: shortened(item.text) for item in reference_items(coverages)},
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
    """Document name -> its file, from run.json's corpus folder and each input's path inside it.

    Empty without a report folder (there is nothing to be relative to) or for a run.json that did not
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
        sources[entry["file"]] = SourceFile(href=relative_href(target, report_dir), path=entry["path"],
                                            opens_at_page=target.suffix.lower() in PAGE_LINK_SUFFIXES)
    return sources


def render_report(*, coverages: list[Coverage], skipped: list[Skipped], run_record: dict,
                  report_dir: Path | None = None) -> str:
    """The whole report as one HTML page; the same input gives the same page (its date comes from the record).

    `report_dir` is the folder the page is written to: evidence then links to its source file (and page),
    relative to it, so the report and the corpus can be opened from a shared drive as they are.
    """
    environment = template_environment()
    context = report_context(coverages=coverages, skipped=skipped, run_record=run_record)
    context["sources"] = source_files(run_record, report_dir)
    return environment.get_template(REPORT_TEMPLATE).render(assets=page_assets(environment), **context)


def render_comparison(comparison: Comparison, *, run_record: dict) -> str:
    """A page with the compare section: items covered in one document and missing in the other, with evidence."""
    environment = template_environment()
    return environment.get_template(COMPARE_TEMPLATE).render(
        assets=page_assets(environment), title=f"{REPORT_TITLE}: compare", comparison=comparison,
        run=run_view(run_record, []))
