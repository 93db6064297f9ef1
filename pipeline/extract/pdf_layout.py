"""PDF layout from line geometry: column gutters, reading order, running heads, headings, paragraphs.

The PDF readers (`pdf_pdfium`, `pdf_plumber`) turn pages into `TextLine`s with
display coordinates (x to the right, `top` downwards, as a reader sees the
page). Everything here is plain Python over those values, so the same rules
apply whichever library read the file, and the rules can be tested without a PDF.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from statistics import median

from pipeline.clean import bullet_start, document_vocabulary, join_wrapped_lines
from pipeline.types import Block, BlockKind

#: Share of the page height at the top and bottom where running heads, footers and page numbers live.
MARGIN_BAND = 0.1
#: A text line in a margin band is a running head when its text (digits ignored) repeats on this many pages;
#: documents of up to SHORT_DOCUMENT_PAGES pages need only two.
RUNNING_HEAD_MIN_PAGES = 3
SHORT_DOCUMENT_PAGES = 4
#: The first and last row of text on a page are furniture candidates when they lie in this outer share of the page.
EDGE_ROW_SHARE = 0.2
PAGE_NUMBER = re.compile(
    r"^(?:page\s+)?(?:\d{1,4}|[ivxlc]{1,7})(?:\s*(?:of|/)\s*\d{1,4})?$|^[-–—]\s*\d{1,4}\s*[-–—]$", re.IGNORECASE)

#: A line whose font is this much larger than the body text is a heading.
HEADING_SIZE_RATIO = 1.15
#: Font sizes closer than this ratio share one heading level.
HEADING_SIZE_TOLERANCE = 1.04
#: Headings are short: a larger-font run longer than this is a pull quote or a cover blurb, not a heading.
HEADING_MAX_CHARS = 200
#: A heading has at least this many letters (a large maths symbol is not a heading).
HEADING_MIN_LETTERS = 3
#: A bold line at body size is a heading only when it stands alone and is this short.
BOLD_HEADING_MAX_CHARS = 90

#: A step from one line to the next this many times the usual line pitch starts a new paragraph.
PARAGRAPH_PITCH_RATIO = 1.3
#: A line that starts this many font sizes to the right of the previous one opens a paragraph (first-line indent).
INDENT_SIZES = 0.8
#: A line ending a sentence this far (share of column width) short of the column's right edge ends its paragraph.
SHORT_LINE_SHARE = 0.15

#: The narrowest white band between columns that counts as a gutter, in points.
MIN_GUTTER_WIDTH = 7.0
#: A column is at least this share of the text area's width (narrower "columns" are table columns).
MIN_COLUMN_SHARE = 0.18
#: Each side of a gutter needs this many lines, and lines crossing it may be at most this share of them.
MIN_COLUMN_LINES = 5
MAX_CROSSING_SHARE = 0.25
#: Lines on each side of a gutter must fill their column to this share on average (else it is a table or a form).
MIN_COLUMN_FILL = 0.55

LETTER = re.compile(r"[^\W\d_]")
SENTENCE_END = re.compile(r"[.!?:;…][\"'”’)\]]*$")


@dataclass(frozen=True)
class TextLine:
    """One line (or one column's part of a line) of text with the geometry needed to place it.

    Coordinates are display points: `x0`/`x1` from the left edge, `top`/`bottom` from the top edge.
    `size` is the font size as the reader measured it (comparable within one document only).
    `flow` numbers the column runs of a page in reading order; `cells` is set for table rows;
    `span` is where the reader found the line in its own page text, so it can look at the characters again.
    """

    text: str
    page: int
    x0: float
    x1: float
    top: float
    bottom: float
    size: float
    bold: bool = False
    rotated: bool = False
    flow: int = 0
    cells: tuple[str, ...] = ()
    span: tuple[int, int] = (0, 0)

    @property
    def height(self) -> float:
        return max(self.bottom - self.top, 1.0)


@dataclass
class PageText:
    """What a reader found on one page: its lines in reading order, and whether its text layer is usable."""

    number: int
    width: float
    height: float
    lines: list[TextLine] = field(default_factory=list)
    needs_ocr: bool = False


@dataclass(frozen=True)
class Gutter:
    """A vertical white band between two columns, x0..x1 in display points."""

    x0: float
    x1: float

    @property
    def centre(self) -> float:
        return (self.x0 + self.x1) / 2


Box = tuple[float, float, float, float]  # x0, x1, top, bottom
LineSplitter = Callable[[TextLine, list[Gutter]], list[TextLine]]


# --- columns and reading order ---------------------------------------------------------------------

def find_gutters(boxes: Sequence[Box], page_width: float, page_height: float) -> list[Gutter]:
    """Candidate column gutters: x bands that text boxes (runs of text) almost never cross.

    Boxes in the top and bottom margin bands are ignored, since running heads
    often span the whole width. A candidate still has to pass `check_columns`
    once lines are split at it.
    """
    body = [box for box in boxes if box[2] >= page_height * MARGIN_BAND * 0.7
            and box[3] <= page_height * (1 - MARGIN_BAND * 0.7) and box[1] > box[0]]
    if len(body) < 2 * MIN_COLUMN_LINES:
        return []
    left = max(0.0, min(box[0] for box in body))
    right = min(page_width, max(box[1] for box in body))
    width = right - left
    if width < 100:
        return []
    bins = int(width) + 2
    coverage = [0] * (bins + 1)
    for x0, x1, _, _ in body:
        start = int(min(max(x0, left), right) - left)
        end = int(max(min(x1, right), left) - left)
        coverage[start] += 1
        coverage[min(end + 1, bins)] -= 1
    rows = len({round(box[2] / 2) for box in body})  # boxes may be words: count text rows, not boxes
    allowed = max(1, int(rows * MAX_CROSSING_SHARE * 0.5))
    lo, hi = int(width * MIN_COLUMN_SHARE), int(width * (1 - MIN_COLUMN_SHARE))
    gutters: list[Gutter] = []
    running, run_start = 0, None
    for position in range(bins):
        running += coverage[position]
        open_band = lo <= position <= hi and running <= allowed
        if open_band and run_start is None:
            run_start = position
        elif not open_band and run_start is not None:
            if position - run_start >= MIN_GUTTER_WIDTH:
                gutter = tighten(Gutter(left + run_start, left + position), body)
                if gutter is not None:
                    gutters.append(gutter)
            run_start = None
    return gutters[:2]


def tighten(gutter: Gutter, boxes: Sequence[Box]) -> Gutter | None:
    """The white band itself: from the right end of the text left of the gutter to the start of the text right of it.

    The band found by counting may include the end of a line or two (a few
    crossings are allowed for titles); the cut has to fall between the columns.
    """
    x0, x1 = gutter.x0, gutter.x1
    ends = [box[1] for box in boxes if gutter.x0 - 2 <= box[1] <= gutter.x1 and box[0] < gutter.x0]
    starts = [box[0] for box in boxes if gutter.x0 <= box[0] <= gutter.x1 + 2 and box[1] > gutter.x1]
    x0 = max(ends, default=x0)
    x1 = min(starts, default=x1)
    return Gutter(x0, x1) if x1 - x0 >= 2.0 else None


def check_columns(lines: Sequence[TextLine], gutters: list[Gutter]) -> bool:
    """Whether lines split at `gutters` look like text columns rather than a table or a form.

    Rationale: a table without rules also has white bands, but its cells are
    short; text columns have many lines that fill their column's width.
    """
    if not gutters:
        return False
    body = [line for line in lines if not line.rotated]
    if not body:
        return False
    edges = [min(line.x0 for line in body), *(g.centre for g in gutters), max(line.x1 for line in body)]
    crossing = 0
    per_column: list[list[TextLine]] = [[] for _ in range(len(gutters) + 1)]
    for line in body:
        if any(line.x0 < g.x0 and line.x1 > g.x1 for g in gutters):
            crossing += 1
            continue
        per_column[column_of(line, gutters)].append(line)
    for index, members in enumerate(per_column):
        if len(members) < MIN_COLUMN_LINES:
            return False
        column_width = edges[index + 1] - edges[index]
        widths = sorted(line.x1 - line.x0 for line in members)
        if median(widths) < MIN_COLUMN_FILL * column_width:
            return False
    smallest = min(len(members) for members in per_column)
    return crossing <= max(2, MAX_CROSSING_SHARE * 4 * smallest)


def column_of(line: TextLine, gutters: list[Gutter]) -> int:
    centre = (line.x0 + line.x1) / 2
    return sum(centre > gutter.centre for gutter in gutters)


def order_columns(lines: list[TextLine], gutters: list[Gutter]) -> list[TextLine]:
    """Reading order for a multi-column page: bands between full-width lines, each read column by column.

    A line that crosses a gutter (a title, a full-width figure caption) closes the
    band above it; within a band, column 1 is read top to bottom, then column 2.
    Each column run gets its own `flow` number so paragraphs never join across columns.
    """
    ordered: list[TextLine] = []
    band: list[TextLine] = []
    flow = 0

    def flush_band() -> None:
        nonlocal flow, band
        by_column: dict[int, list[TextLine]] = {}
        for line in band:
            by_column.setdefault(column_of(line, gutters), []).append(line)
        for column in sorted(by_column):
            flow += 1
            ordered.extend(replace(line, flow=flow) for line in sorted(by_column[column], key=lambda ln: ln.top))
        band = []

    for line in sorted(lines, key=lambda ln: (ln.top, ln.x0)):
        if any(line.x0 < g.x0 and line.x1 > g.x1 for g in gutters):
            flush_band()
            flow += 1
            ordered.append(replace(line, flow=flow))
        else:
            band.append(line)
    flush_band()
    return ordered


def reading_order(lines: list[TextLine], boxes: Sequence[Box], page_width: float, page_height: float,
                  split_line: LineSplitter) -> list[TextLine]:
    """The page's lines in reading order: unchanged for one column, column by column for two or three.

    `boxes` are runs of text (pdfium's text rectangles, or words) used to find
    gutters; `split_line` cuts a line that the reader joined across a gutter
    (two columns drawn line by line) into its column parts.
    """
    gutters = find_gutters(boxes, page_width, page_height)
    if not gutters:
        return lines
    pieces = [piece for line in lines
              for piece in (split_line(line, gutters) if crosses(line, gutters) else [line])]
    if not check_columns(pieces, gutters):
        return lines
    return order_columns(pieces, gutters)


def crosses(line: TextLine, gutters: list[Gutter]) -> bool:
    return not line.rotated and any(line.x0 < g.x0 and line.x1 > g.x1 for g in gutters)


def place_tables(lines: list[TextLine], rows: list[TextLine]) -> list[TextLine]:
    """Put table rows into the line sequence where the table stands, dropping the lines inside the table.

    `rows` carry the table's horizontal extent in x0/x1; a line whose centre falls
    inside a row's box is that row's text read a second time.
    """
    if not rows:
        return lines
    def inside(line: TextLine) -> bool:
        cx, cy = (line.x0 + line.x1) / 2, (line.top + line.bottom) / 2
        return any(row.x0 <= cx <= row.x1 and row.top <= cy <= row.bottom for row in rows)

    kept = [line for line in lines if not inside(line)]
    pending = sorted(rows, key=lambda row: row.top)
    merged: list[TextLine] = []
    for line in kept:
        while pending and pending[0].top <= line.top and not line.rotated:
            merged.append(replace(pending.pop(0), flow=line.flow))
        merged.append(line)
    merged.extend(pending)
    return merged


# --- running heads, footers and margin text -------------------------------------------------------------

def furniture_key(text: str) -> str:
    """Text with digits masked, so "Page 3 of 9" and "Page 4 of 9" count as one running line."""
    return re.sub(r"\d+", "#", " ".join(text.lower().split()))


def edge_lines(page: PageText) -> list[tuple[int, BlockKind]]:
    """(line index, HEADER or FOOTER) for the lines that could be page furniture on this page.

    Those are the lines in the top or bottom MARGIN_BAND of the page, and the
    first and last row of text (a page number under a tall text block can sit
    well above the bottom band), as long as that row is in the outer EDGE_ROW_SHARE of the page.
    """
    upright = [(i, line) for i, line in enumerate(page.lines) if not line.rotated and not line.cells]
    if not upright:
        return []
    first_top = min(line.top for _, line in upright)
    last_bottom = max(line.bottom for _, line in upright)
    found = []
    for index, line in upright:
        if line.bottom <= page.height * MARGIN_BAND or (
                line.top <= first_top + line.height * 0.5 and line.bottom <= page.height * EDGE_ROW_SHARE):
            found.append((index, BlockKind.HEADER))
        elif line.top >= page.height * (1 - MARGIN_BAND) or (
                line.bottom >= last_bottom - line.height * 0.5 and line.top >= page.height * (1 - EDGE_ROW_SHARE)):
            found.append((index, BlockKind.FOOTER))
    return found


def find_furniture(pages: Sequence[PageText]) -> dict[tuple[int, int], BlockKind]:
    """(page, line index) -> HEADER or FOOTER for running heads, footers, page numbers and rotated margin text.

    A line is furniture when it is at the top or bottom edge of its page (see
    `edge_lines`) and either looks like a page number or repeats (digits
    masked) on several pages, one of them at least with body text besides it;
    text rotated against the page is margin text wherever it stands.

    Rationale: a running head runs above a body. A line that is the only text of
    every page it stands on (a word per page, a deck of slide titles) is the
    document's text; taking it for furniture left such files with no text at all,
    reported as scanned. A page left blank but for the head still has it tagged,
    since the same head stands above a body on other pages.
    """
    candidates: list[tuple[int, int, BlockKind, str]] = []
    for page in pages:
        for index, line in enumerate(page.lines):
            if line.rotated:
                candidates.append((page.number, index, BlockKind.HEADER, ""))
        for index, kind in edge_lines(page):
            candidates.append((page.number, index, kind, furniture_key(page.lines[index].text)))
    pages_per_key: dict[str, set[int]] = {}
    for page_number, _, _, key in candidates:
        pages_per_key.setdefault(key, set()).add(page_number)
    body_pages = pages_with_body(pages, {(page_number, index) for page_number, index, _, _ in candidates})
    min_pages = 2 if len(pages) <= SHORT_DOCUMENT_PAGES else RUNNING_HEAD_MIN_PAGES
    furniture: dict[tuple[int, int], BlockKind] = {}
    lines_by_page = {page.number: page.lines for page in pages}
    for page_number, index, kind, key in candidates:
        text = lines_by_page[page_number][index].text.strip()
        if not key or PAGE_NUMBER.match(text) or (len(pages_per_key[key]) >= min_pages
                                                  and not pages_per_key[key].isdisjoint(body_pages)):
            furniture[(page_number, index)] = kind
    return furniture


def pages_with_body(pages: Sequence[PageText], candidates: set[tuple[int, int]]) -> set[int]:
    """Numbers of the pages holding a line that is not a furniture candidate: text a running head could run above."""
    return {page.number for page in pages
            if any((page.number, index) not in candidates for index in range(len(page.lines)))}


# --- headings -----------------------------------------------------------------------------------------

def body_font_size(lines: Sequence[TextLine]) -> float:
    """The size most of the text is set in (weighted by characters), the yardstick for headings."""
    weights: Counter[float] = Counter()
    for line in lines:
        if not line.cells and not line.rotated:
            weights[round(line.size * 2) / 2] += len(line.text)
    return weights.most_common(1)[0][0] if weights else 0.0


def heading_levels(sizes: Sequence[float]) -> dict[float, int]:
    """Heading level for each heading font size: the largest size is level 1, the next distinct size 2, ...

    Sizes within HEADING_SIZE_TOLERANCE of each other share a level, so 15.9 pt
    and 16.1 pt headings are one level.
    """
    levels: dict[float, int] = {}
    level, anchor = 0, None
    for size in sorted(set(sizes), reverse=True):
        if anchor is None or anchor / size > HEADING_SIZE_TOLERANCE:
            level += 1
            anchor = size
        levels[size] = level
    return levels


def heading_style(line: TextLine, body_size: float) -> str:
    """Heading style of a line: "large" (set larger than the body text), "bold" (short, bold, body size) or ""."""
    if body_size <= 0:
        return ""
    style = ""
    if line.size >= body_size * HEADING_SIZE_RATIO and len(line.text) <= HEADING_MAX_CHARS:
        style = "large"
    elif line.bold and line.size >= body_size * 0.97 and len(line.text) <= BOLD_HEADING_MAX_CHARS:
        style = "bold"
    return style if style and len(LETTER.findall(line.text)) >= HEADING_MIN_LETTERS else ""


# --- blocks -------------------------------------------------------------------------------------------

@dataclass
class _Group:
    """Lines gathered into one block so far, and what the first of them decided about the block."""

    kind: BlockKind
    lines: list[TextLine]
    size: float
    text_x0: float
    style: str = ""


def lines_to_blocks(pages: Sequence[PageText]) -> list[Block]:
    """Turn every page's ordered lines into headings, paragraphs, list items, table rows and furniture."""
    furniture = find_furniture(pages)
    content = [line for page in pages for i, line in enumerate(page.lines) if (page.number, i) not in furniture]
    body_size = body_font_size(content)
    vocabulary = document_vocabulary(line.text for line in content)
    pitches = typical_pitches(pages, furniture)
    groups: list[_Group | Block] = []
    for page in pages:
        group: _Group | None = None
        previous: TextLine | None = None
        column_right = max((ln.x1 for ln in page.lines if not ln.rotated), default=page.width)
        for index, line in enumerate(page.lines):
            kind = furniture.get((page.number, index))
            if kind is not None:
                groups.append(Block(text=line.text.strip(), page=page.number, kind=kind))
                continue
            if line.cells:
                group = None
                groups.append(Block(text=line.text, page=page.number, kind=BlockKind.TABLE_ROW))
                previous = None
                continue
            style = heading_style(line, body_size)
            bullet_at = bullet_start(line.text)
            pitch = pitches.get(round(line.size * 2) / 2, line.height * 1.2)
            if group is None or starts_new_block(group, previous, line, style, bullet_at, pitch, column_right):
                kind = (BlockKind.HEADING if style else BlockKind.LIST_ITEM if bullet_at is not None
                        else BlockKind.PARAGRAPH)
                text_x0 = line.x0 + (line.x1 - line.x0) * (bullet_at or 0) / max(len(line.text), 1)
                group = _Group(kind=kind, lines=[], size=line.size, text_x0=text_x0, style=style)
                groups.append(group)
            text = line.text[bullet_at:].strip() if bullet_at is not None and not group.lines else line.text
            group.lines.append(line if text == line.text else replace(line, text=text))
            previous = line
    return groups_to_blocks(groups, vocabulary)


def starts_new_block(group: _Group, previous: TextLine | None, line: TextLine, style: str,
                     bullet_at: int | None, pitch: float, column_right: float) -> bool:
    """Whether `line` opens a new block rather than continuing `group` (the lines just above it)."""
    if previous is None or bullet_at is not None:
        return True
    if previous.flow != line.flow:
        return not continues_across_columns(group, previous, line, style)
    if style != group.style:
        return True
    if style:
        return abs(line.size - group.size) > 0.5 or line.top - previous.top > max(pitch, line.height) * 2.2
    step = line.top - previous.top
    if step <= 0 and line.x0 > previous.x0 + line.size:  # the next column, in a page read in content order
        return not continues_across_columns(group, previous, line, style)
    if step <= 0 or step > pitch * PARAGRAPH_PITCH_RATIO:
        return True
    if group.kind is BlockKind.LIST_ITEM:
        return line.x0 < group.text_x0 - line.size * 0.5 and SENTENCE_END.search(previous.text) is not None
    if line.size * INDENT_SIZES < line.x0 - previous.x0 < line.size * 6:
        return True
    width = max(column_right - min(previous.x0, line.x0), 1.0)
    ends_short = (column_right - previous.x1) > width * SHORT_LINE_SHARE and previous.x1 < line.x1 - width * 0.1
    return ends_short and SENTENCE_END.search(previous.text) is not None and line.text[:1].isupper()


def continues_across_columns(group: _Group, previous: TextLine, line: TextLine, style: str) -> bool:
    """Whether a paragraph cut at the foot of a column goes on at the head of the next one (mid-sentence)."""
    return (group.kind is not BlockKind.HEADING and not style and line.text[:1].islower()
            and SENTENCE_END.search(previous.text) is None and abs(line.size - previous.size) < 0.5)


def groups_to_blocks(groups: Sequence[_Group | Block], vocabulary: set[str]) -> list[Block]:
    """Join each group's wrapped lines (hyphenation repaired) and give headings their level by size rank.

    A bold "heading" of more than two lines, or one that ends a sentence, was a
    bold paragraph after all and becomes one.
    """
    texts: list[tuple[_Group, str]] = []
    for group in groups:
        if isinstance(group, _Group):
            text = join_wrapped_lines([line.text for line in group.lines], known_words=vocabulary)
            if group.style == "bold" and (len(group.lines) > 2 or SENTENCE_END.search(text)):
                group.kind = BlockKind.PARAGRAPH
            texts.append((group, text))
    levels = heading_levels([round(group.size, 1) for group, _ in texts if group.kind is BlockKind.HEADING])
    blocks: list[Block] = []
    text_of = {id(group): text for group, text in texts}
    for group in groups:
        if isinstance(group, Block):
            blocks.append(group)
            continue
        text = text_of[id(group)]
        if text:
            level = levels.get(round(group.size, 1), 0) if group.kind is BlockKind.HEADING else 0
            blocks.append(Block(text=text, page=group.lines[0].page, kind=group.kind, level=level))
    return blocks


def typical_pitches(pages: Sequence[PageText], furniture: dict[tuple[int, int], BlockKind]) -> dict[float, float]:
    """The usual top-to-top distance between consecutive lines of each font size (the leading)."""
    steps: dict[float, list[float]] = {}
    for page in pages:
        previous: TextLine | None = None
        for index, line in enumerate(page.lines):
            if (page.number, index) in furniture or line.cells:
                previous = None
                continue
            if previous is not None and previous.flow == line.flow and abs(previous.size - line.size) < 0.3:
                step = line.top - previous.top
                if 0 < step < line.height * 3:
                    steps.setdefault(round(line.size * 2) / 2, []).append(step)
            previous = line
    return {size: sorted(values)[len(values) // 3] for size, values in steps.items() if len(values) >= 3}
