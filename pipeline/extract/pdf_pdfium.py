"""Read PDF pages with pypdfium2: text lines with their geometry, ruled tables, and whether OCR is needed.

pdfium gives a page's text in content order with line breaks in one C call,
which is fast; the geometry a layout needs (where each line starts and ends,
its font size and weight, whether it is rotated) is read for a few characters
per line only, never for every character. Characters are read one by one only
for a line that pdfium joined across a column gutter, to cut it at the gutter.

Ruled tables are found with pdfplumber's table finder (its edge merging,
intersection and cell functions) run on the page's vector lines as pdfium
reports them, so no page has to be parsed twice.
"""

from __future__ import annotations

import ctypes
import math
import re
from dataclasses import dataclass, replace

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from pdfplumber.table import Table, cells_to_tables, edges_to_intersections, intersections_to_cells, merge_edges

from pipeline.clean import join_wrapped_lines, normalise_characters
from pipeline.extract.pdf_layout import Gutter, PageText, TextLine, place_tables, reading_order

#: pdfium marks a hyphen it found at a line end with U+FFFE (older builds: U+0002) and joins the two lines.
HYPHEN_MARKS = "\ufffe\x02"
HYPHEN_MARK_PATTERN = re.compile("[\ufffe\x02]")
WHITESPACE = re.compile(r"\s")
#: Control characters, private-use glyphs without a mapping, surrogates and U+FFFD: what an unmapped font yields.
UNREADABLE = re.compile("[\x00\x01\x03-\x08\x0b\x0e-\x1f\x7f-\x9f\ud800-\uf8ff\ufffd\uffff]")
LINE_BREAKS = re.compile("\r\n|\r|\n|(?<=[\ufffe\x02])")
#: A page whose non-space characters are less than this share readable has no usable text layer.
MIN_READABLE_SHARE = 0.5
#: Font weight from which a line counts as bold.
BOLD_WEIGHT = 600
#: Text rotated more than this many degrees against the page is margin text (or a rotated label).
MAX_UPRIGHT_DEGREES = 10.0

#: Vector shapes thinner than this (points) are rules: table borders and lines.
RULE_THICKNESS = 2.5
#: pdfplumber's defaults for snapping, joining and intersecting table edges.
TABLE_SNAP_TOLERANCE = 3.0
TABLE_JOIN_TOLERANCE = 3.0
TABLE_INTERSECTION_TOLERANCE = 3.0
TABLE_EDGE_MIN_LENGTH = 3.0
#: Pages with more path segments than this are drawings or charts; their tables are not searched for.
MAX_PATH_SEGMENTS = 4000
MAX_TABLE_EDGES = 600
#: Shapes smaller than this both ways (icons, glyph-like drawings) cannot hold a table.
MIN_TABLE_SHAPE = 15.0
PAGEOBJ_PATH = 2
SEGMENT_LINETO = pdfium_c.FPDF_SEGMENT_LINETO
SEGMENT_MOVETO = pdfium_c.FPDF_SEGMENT_MOVETO


class PdfiumPasswordError(Exception):
    """The file is encrypted and neither the given password nor the empty one opens it."""


def open_document(path: str, password: str | None) -> pdfium.PdfDocument:
    """Open with the given password, else the empty one; raise PdfiumPasswordError if neither opens it."""
    attempts = [password, None] if password else [None]
    last_error: Exception | None = None
    for attempt in attempts:
        try:
            return pdfium.PdfDocument(path, password=attempt)
        except pdfium.PdfiumError as error:
            if "password" not in str(error).lower():
                raise
            last_error = error
    given = "the password given" if password else "no password was given and the empty password"
    raise PdfiumPasswordError(f"encrypted PDF: {given} does not open it ({last_error})")


@dataclass(frozen=True)
class PageFrame:
    """Maps pdfium's PDF user space (y up, any origin, page /Rotate) to display points (y down from the top)."""

    left: float
    bottom: float
    right: float
    top: float
    rotation: int

    @property
    def width(self) -> float:
        return self.top - self.bottom if self.rotation in (90, 270) else self.right - self.left

    @property
    def height(self) -> float:
        return self.right - self.left if self.rotation in (90, 270) else self.top - self.bottom

    def point(self, x: float, y: float) -> tuple[float, float]:
        if self.rotation == 0:
            return x - self.left, self.top - y
        if self.rotation == 90:
            return y - self.bottom, x - self.left
        if self.rotation == 180:
            return self.right - x, y - self.bottom
        if self.rotation == 270:
            return self.top - y, self.right - x
        return x - self.left, self.top - y

    def box(self, left: float, bottom: float, right: float, top: float) -> tuple[float, float, float, float]:
        """(x0, x1, top, bottom) in display points of a user-space rectangle."""
        if self.rotation == 0:
            return left - self.left, right - self.left, self.top - top, self.top - bottom
        ax, ay = self.point(left, bottom)
        bx, by = self.point(right, top)
        return min(ax, bx), max(ax, bx), min(ay, by), max(ay, by)

    def user_box(self, x0: float, x1: float, top: float, bottom: float) -> tuple[float, float, float, float]:
        """(left, bottom, right, top) in user space of a display rectangle: the inverse of `box`."""
        if self.rotation == 90:
            xs, ys = (self.left + top, self.left + bottom), (self.bottom + x0, self.bottom + x1)
        elif self.rotation == 180:
            xs, ys = (self.right - x1, self.right - x0), (self.bottom + top, self.bottom + bottom)
        elif self.rotation == 270:
            xs, ys = (self.right - bottom, self.right - top), (self.top - x1, self.top - x0)
        else:
            xs, ys = (self.left + x0, self.left + x1), (self.top - bottom, self.top - top)
        return min(xs), min(ys), max(xs), max(ys)


class CharProbe:
    """Per-character look-ups on one text page, with the ctypes buffers reused across calls."""

    def __init__(self, textpage: pdfium.PdfTextPage, frame: PageFrame, text: str) -> None:
        self.handle = textpage.raw
        self.frame = frame
        self.rect = pdfium_c.FS_RECTF()
        self.doubles = [ctypes.c_double() for _ in range(4)]
        self.font_name = ctypes.create_string_buffer(96)
        self.flags = ctypes.c_int()
        self.identity = len(text) == pdfium_c.FPDFText_CountChars(self.handle) and text.isascii()

    def char_index(self, text_index: int) -> int:
        if self.identity:
            return text_index
        return pdfium_c.FPDFText_GetCharIndexFromTextIndex(self.handle, text_index)

    def loose_box(self, char_index: int) -> tuple[float, float, float, float]:
        pdfium_c.FPDFText_GetLooseCharBox(self.handle, char_index, self.rect)
        return self.frame.box(self.rect.left, self.rect.bottom, self.rect.right, self.rect.top)

    def tight_box(self, char_index: int) -> tuple[float, float, float, float]:
        left, right, bottom, top = self.doubles
        pdfium_c.FPDFText_GetCharBox(self.handle, char_index, left, right, bottom, top)
        return self.frame.box(left.value, bottom.value, right.value, top.value)

    def bold(self, char_index: int) -> bool:
        if pdfium_c.FPDFText_GetFontWeight(self.handle, char_index) >= BOLD_WEIGHT:
            return True
        pdfium_c.FPDFText_GetFontInfo(self.handle, char_index, self.font_name, len(self.font_name), self.flags)
        name = self.font_name.value.lower()
        return b"bold" in name or b"black" in name or b"heavy" in name

    def rotated(self, char_index: int) -> bool:
        angle = pdfium_c.FPDFText_GetCharAngle(self.handle, char_index)
        if angle < 0:
            return False
        degrees = (math.degrees(angle) - self.frame.rotation) % 360
        return min(degrees, 360 - degrees) > MAX_UPRIGHT_DEGREES


def readable_share(text: str) -> float:
    """Share of the non-space characters that are real text, not control characters or unmapped glyphs."""
    visible = len(text) - len(WHITESPACE.findall(text)) - len(HYPHEN_MARK_PATTERN.findall(text))
    if visible <= 0:
        return 0.0
    return 1.0 - len(UNREADABLE.findall(text)) / visible


def read_page(document: pdfium.PdfDocument, index: int) -> PageText:
    """One page as lines in reading order (table rows included), closing everything it opened."""
    page = document[index]
    try:
        left, bottom, right, top = page.get_bbox()
        frame = PageFrame(left, bottom, right, top, page.get_rotation() % 360)
        result = PageText(number=index + 1, width=frame.width, height=frame.height)
        textpage = page.get_textpage()
        try:
            text = textpage.get_text_range()
            if readable_share(text) < MIN_READABLE_SHARE:
                result.needs_ocr = pdfium_c.FPDFPage_CountObjects(page.raw) > 0
                return result
            probe = CharProbe(textpage, frame, text)
            lines = page_lines(text, probe, index + 1)
            rows = ruled_table_rows(page, textpage, frame, index + 1)
            boxes = text_boxes(textpage, frame)
            lines = reading_order(lines, boxes, frame.width, frame.height,
                                  lambda line, gutters: split_at_gutters(line, gutters, probe, text))
            result.lines = place_tables(lines, rows)
            return result
        finally:
            textpage.close()
    finally:
        page.close()


def page_lines(text: str, probe: CharProbe, page_number: int) -> list[TextLine]:
    """Pdfium's lines with the geometry of their first, middle and last characters."""
    lines: list[TextLine] = []
    start = 0
    for match in LINE_BREAKS.finditer(text + "\n"):
        end = match.start()
        line = make_line(text, start, end, probe, page_number)
        if line is not None:
            lines.append(line)
        start = match.end()
    return lines


def make_line(text: str, start: int, end: int, probe: CharProbe, page_number: int) -> TextLine | None:
    raw = text[start:end]
    stripped = raw.strip()
    if not stripped:
        return None
    first = start + (len(raw) - len(raw.lstrip()))
    last = start + len(raw.rstrip()) - 1
    if text[last] in HYPHEN_MARKS and last > first:
        last -= 1
    middle = first + (last - first) // 2
    first_ci, middle_ci, last_ci = probe.char_index(first), probe.char_index(middle), probe.char_index(last)
    boxes = [probe.loose_box(first_ci), probe.loose_box(middle_ci), probe.loose_box(last_ci)]
    clean = normalise_characters(stripped.replace("\ufffe", "-").replace("\x02", "-"))
    if not clean.strip():
        return None
    heights = sorted(box[3] - box[2] for box in boxes)
    return TextLine(text=clean.strip(), page=page_number, x0=min(b[0] for b in boxes), x1=max(b[1] for b in boxes),
                    top=min(b[2] for b in boxes), bottom=max(b[3] for b in boxes), size=round(heights[1], 2),
                    bold=probe.bold(middle_ci), rotated=probe.rotated(middle_ci), span=(first, last + 1))


def text_boxes(textpage: pdfium.PdfTextPage, frame: PageFrame) -> list[tuple[float, float, float, float]]:
    """Pdfium's text rectangles (one per run of text in one text object), for finding column gutters."""
    boxes = []
    for index in range(textpage.count_rects()):
        left, bottom, right, top = textpage.get_rect(index)
        boxes.append(frame.box(left, bottom, right, top))
    return boxes


def split_at_gutters(line: TextLine, gutters: list[Gutter], probe: CharProbe, text: str) -> list[TextLine]:
    """Cut a line that runs across a gutter into its column parts, unless its characters really cross it.

    This is the seed document's failure: two columns drawn line by line, which
    pdfium (and every other reader) joins into one line per row. Characters
    within a line run left to right, so the cut is found by bisection on their
    x positions, a handful of look-ups per line rather than one per character.
    """
    start, end = line.span
    cuts = []
    for gutter in gutters:
        cut = first_char_right_of(gutter.centre, start, end, probe, text)
        if cut is None:
            continue
        before = previous_visible(cut, start, text)
        if before is None:
            continue
        left_box = probe.tight_box(probe.char_index(before))
        right_box = probe.tight_box(probe.char_index(cut))
        if left_box[1] <= gutter.x0 + 1 and right_box[0] >= gutter.x1 - 1:
            cuts.append(cut)
    if not cuts:
        return [line]
    pieces = []
    bounds = [start, *sorted(cuts), end]
    for piece_start, piece_end in zip(bounds, bounds[1:], strict=False):
        piece = make_line(text, piece_start, piece_end, probe, line.page)
        if piece is not None:
            pieces.append(replace(piece, top=line.top, bottom=line.bottom))
    return pieces or [line]


def first_char_right_of(x: float, start: int, end: int, probe: CharProbe, text: str) -> int | None:
    """Text index of the first visible character in start..end whose left edge is right of `x`."""
    low, high = start, end
    while low < high:
        middle = (low + high) // 2
        visible = next_visible(middle, high, text)
        if visible is None:
            high = middle
            continue
        if probe.tight_box(probe.char_index(visible))[0] > x:
            high = middle
        else:
            low = visible + 1
    found = next_visible(low, end, text)
    return found


def next_visible(index: int, end: int, text: str) -> int | None:
    while index < end and text[index].isspace():
        index += 1
    return index if index < end else None


def previous_visible(index: int, start: int, text: str) -> int | None:
    index -= 1
    while index >= start and text[index].isspace():
        index -= 1
    return index if index >= start else None


# --- ruled tables --------------------------------------------------------------------------------------

def ruled_table_rows(page: pdfium.PdfPage, textpage: pdfium.PdfTextPage, frame: PageFrame,
                     page_number: int) -> list[TextLine]:
    """Rows of the page's ruled tables, each as a TextLine whose `cells` hold the cell texts in order."""
    edges = vector_edges(page, frame)
    if len(edges) < 4 or len(edges) > MAX_TABLE_EDGES:
        return []
    merged = merge_edges(edges, TABLE_SNAP_TOLERANCE, TABLE_SNAP_TOLERANCE, TABLE_JOIN_TOLERANCE,
                         TABLE_JOIN_TOLERANCE)
    merged = [edge for edge in merged
              if (edge["x1"] - edge["x0"] if edge["orientation"] == "h" else edge["bottom"] - edge["top"])
              >= TABLE_EDGE_MIN_LENGTH]
    intersections = edges_to_intersections(merged, TABLE_INTERSECTION_TOLERANCE, TABLE_INTERSECTION_TOLERANCE)
    cells = intersections_to_cells(intersections)
    rows: list[TextLine] = []
    for table_cells in cells_to_tables(cells):
        table = Table(None, table_cells)  # type: ignore[arg-type]  # rows need only the cells, not the page
        table_rows = table.rows
        if len(table_rows) < 2 or max(len([c for c in row.cells if c]) for row in table_rows) < 2:
            continue
        x0, _, x1, _ = table.bbox
        for row in table_rows:
            texts = [cell_text(textpage, frame, cell) if cell else None for cell in row.cells]
            kept = [text for text in texts if text is not None]
            if not any(kept):
                continue
            _, row_top, _, row_bottom = row.bbox
            rows.append(TextLine(text=" | ".join(kept), page=page_number, x0=x0, x1=x1, top=row_top,
                                 bottom=row_bottom, size=0.0, cells=tuple(kept)))
    return rows


def cell_text(textpage: pdfium.PdfTextPage, frame: PageFrame, cell: tuple[float, float, float, float]) -> str:
    x0, top, x1, bottom = cell
    left, low, right, high = frame.user_box(x0, x1, top, bottom)
    raw = textpage.get_text_bounded(left, low, right, high)
    lines = [normalise_characters(part.replace("\ufffe", "-")) for part in LINE_BREAKS.split(raw)]
    return join_wrapped_lines(lines)


def vector_edges(page: pdfium.PdfPage, frame: PageFrame) -> list[dict]:
    """Horizontal and vertical rules (and rectangle sides) on the page, as pdfplumber edge dicts."""
    edges: list[dict] = []
    left, bottom, right, top = ctypes.c_float(), ctypes.c_float(), ctypes.c_float(), ctypes.c_float()
    segments_seen = 0
    for object_index in range(pdfium_c.FPDFPage_CountObjects(page.raw)):
        handle = pdfium_c.FPDFPage_GetObject(page.raw, object_index)
        if pdfium_c.FPDFPageObj_GetType(handle) != PAGEOBJ_PATH:
            continue
        if not pdfium_c.FPDFPageObj_GetBounds(handle, left, bottom, right, top):
            continue
        x0, x1, y0, y1 = frame.box(left.value, bottom.value, right.value, top.value)
        width, height = x1 - x0, y1 - y0
        if width < MIN_TABLE_SHAPE and height < MIN_TABLE_SHAPE:
            continue
        if height <= RULE_THICKNESS and width >= TABLE_EDGE_MIN_LENGTH:
            edges.append(edge("h", x0, x1, (y0 + y1) / 2, (y0 + y1) / 2))
            continue
        if width <= RULE_THICKNESS and height >= TABLE_EDGE_MIN_LENGTH:
            edges.append(edge("v", (x0 + x1) / 2, (x0 + x1) / 2, y0, y1))
            continue
        count = pdfium_c.FPDFPath_CountSegments(handle)
        segments_seen += max(count, 0)
        if segments_seen > MAX_PATH_SEGMENTS:
            return []
        if 0 < count <= 6:
            edges.extend([edge("h", x0, x1, y0, y0), edge("h", x0, x1, y1, y1),
                          edge("v", x0, x0, y0, y1), edge("v", x1, x1, y0, y1)])
        elif count > 6:
            edges.extend(path_edges(handle, count, frame))
    return edges


def path_edges(handle, count: int, frame: PageFrame) -> list[dict]:
    """Straight horizontal and vertical segments of a path with many segments (a grid drawn as one path)."""
    matrix = pdfium_c.FS_MATRIX()
    if not pdfium_c.FPDFPageObj_GetMatrix(handle, matrix):
        return []
    x, y = ctypes.c_float(), ctypes.c_float()
    found: list[dict] = []
    start_point = previous = None
    for index in range(count):
        segment = pdfium_c.FPDFPath_GetPathSegment(handle, index)
        if not pdfium_c.FPDFPathSegment_GetPoint(segment, x, y):
            continue
        user_x = matrix.a * x.value + matrix.c * y.value + matrix.e
        user_y = matrix.b * x.value + matrix.d * y.value + matrix.f
        point = frame.point(user_x, user_y)
        kind = pdfium_c.FPDFPathSegment_GetType(segment)
        if kind == SEGMENT_MOVETO or previous is None:
            start_point = point
        elif kind == SEGMENT_LINETO:
            found.extend(straight_edge(previous, point))
        if pdfium_c.FPDFPathSegment_GetClose(segment) and start_point is not None:
            found.extend(straight_edge(point, start_point))
        previous = point
    return found


def straight_edge(a: tuple[float, float], b: tuple[float, float]) -> list[dict]:
    (ax, ay), (bx, by) = a, b
    if abs(ay - by) <= 1 and abs(ax - bx) >= TABLE_EDGE_MIN_LENGTH:
        return [edge("h", min(ax, bx), max(ax, bx), (ay + by) / 2, (ay + by) / 2)]
    if abs(ax - bx) <= 1 and abs(ay - by) >= TABLE_EDGE_MIN_LENGTH:
        return [edge("v", (ax + bx) / 2, (ax + bx) / 2, min(ay, by), max(ay, by))]
    return []


def edge(orientation: str, x0: float, x1: float, top: float, bottom: float) -> dict:
    return {"orientation": orientation, "x0": x0, "x1": x1, "top": top, "bottom": bottom,
            "width": x1 - x0, "height": bottom - top, "object_type": "line"}
