"""Plain text and Markdown: paragraphs from blank lines, pages from form feeds or page markers.

A text file is one page unless it carries page markers (a form feed, or a line
such as "--- page 3 ---" or "[Page 3]"). Markdown structure (`#` headings,
lists, pipe tables, links, emphasis) is read in .txt files too, since text
exported from web pages and PDFs often carries it.
"""

from __future__ import annotations

import codecs
import re

from pipeline.clean import bullet_start, collapse_spaces, join_wrapped_lines, normalise_characters
from pipeline.types import Block, BlockKind

PAGE_MARKER = re.compile(r"^\s*(?:-{2,}\s*)?\[?\s*page\s+(\d{1,5})\s*\]?(?:\s*-{2,})?\s*$",
                         re.IGNORECASE | re.MULTILINE)
MD_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
MD_RULE = re.compile(r"^\s*(?:-{3,}|\*{3,}|_{3,}|={3,})\s*$")
MD_TABLE_ROW = re.compile(r"^\s*\|(.*)\|\s*$")
MD_TABLE_SEPARATOR = re.compile(r"^[\s|:\-]+$")
MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
MD_EMPHASIS = re.compile(r"(\*\*|__)(.+?)\1|(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])")
MD_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|])")
SECTION_NUMBER = re.compile(r"^\d+(?:\.\d+)*\.?\s+\S")
SENTENCE_END = re.compile(r"[.,;:!?\"”’)]$")
#: How a paragraph ends when it closes its sentence: a blank line after it is a real paragraph break.
SENTENCE_CLOSE = re.compile(r"[.!?:]['\"”’)]*$")

#: Byte-order marks and the codec each announces. UTF-32's come first: UTF-32 LE's mark begins with UTF-16 LE's.
BYTE_ORDER_MARKS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
                    (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
#: How much of a file the text check reads: enough to tell text from binary data, little enough to be quick.
TEXT_CHECK_BYTES = 64 * 1024
#: Control characters that text does not hold (all but tab, line feed, carriage return and form feed).
BINARY_CONTROLS = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")
#: A file whose characters are more than this share such control characters is binary (random bytes: 11 %).
MAX_CONTROL_SHARE = 0.05
#: A paragraph reads as a heading when it is one short line that does not end a sentence.
HEADING_MAX_CHARS = 100
HEADING_MAX_WORDS = 14


class NotTextError(ValueError):
    """The bytes are binary data, not text: a file of another kind under a text file's name."""


def decode_text(data: bytes) -> str:
    """Decode bytes as the byte-order mark says (UTF-8, UTF-16, UTF-32), else UTF-8, falling back to Windows-1252.

    Windows tools (Notepad's "Unicode", PowerShell's Out-File) write UTF-16 with
    a byte-order mark; every second byte of its ASCII text is NUL, so the mark
    is read before the check that tells binary files from text.
    """
    check_text(data)
    encoding = byte_order_mark_encoding(data)
    if encoding is not None:
        return data.decode(encoding, errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def check_text(data: bytes) -> None:
    """Raise NotTextError unless the start of `data` reads as text.

    Binary data shows itself by NUL bytes (text has none, unless a byte-order
    mark says it is UTF-16 or UTF-32) or by control characters: text has almost
    none besides tab, line breaks and form feed, random bytes about one in nine.
    Only the first TEXT_CHECK_BYTES are read, decoded the way decode_text would.
    """
    sample = data[:TEXT_CHECK_BYTES]
    encoding = byte_order_mark_encoding(sample)
    if encoding is None and b"\x00" in sample:
        raise NotTextError("not a text file: binary content (NUL bytes)")
    text = decode_sample(sample, encoding)
    controls = len(BINARY_CONTROLS.findall(text))
    if text and controls / len(text) > MAX_CONTROL_SHARE:
        raise NotTextError(f"not a text file: binary content ({controls / len(text):.0%} of its first "
                           f"{len(text):,} characters are control characters)")


def decode_sample(sample: bytes, encoding: str | None) -> str:
    """The start of a file decoded for the text check; a character cut at the sample's end is left out."""
    try:
        return codecs.getincrementaldecoder(encoding or "utf-8")(errors="replace" if encoding else "strict").decode(
            sample, final=False)
    except UnicodeDecodeError:
        return sample.decode("cp1252", errors="replace")


def byte_order_mark_encoding(data: bytes) -> str | None:
    """The codec a leading byte-order mark announces (it consumes the mark), or None when there is none."""
    for mark, encoding in BYTE_ORDER_MARKS:
        if data.startswith(mark):
            return encoding
    return None


def parse_text(text: str) -> tuple[list[Block], int]:
    """Split text into blocks with page numbers; returns (blocks, page_count)."""
    pages = split_pages(normalise_characters(text.replace("\r\n", "\n").replace("\r", "\n")))
    blocks = [block for number, page_text in pages for block in parse_page(page_text, number)]
    return join_continuations(blocks), max((number for number, _ in pages), default=1)


def join_continuations(blocks: list[Block]) -> list[Block]:
    """Rejoin a paragraph that a stray blank line cut mid-sentence ("...looking at the same" / "things and...").

    A block that starts in lower case continues the paragraph or list item
    before it, when that one does not end a sentence. The pieces of one
    paragraph are gathered first and joined once, so a text cut by thousands of
    blank lines is rejoined in linear time.
    """
    runs: list[list[Block]] = []
    for block in blocks:
        if runs and continues(runs[-1], block):
            runs[-1].append(block)
        else:
            runs.append([block])
    return [run[0] if len(run) == 1 else Block(text=join_wrapped_lines([piece.text for piece in run]),
                                               page=run[0].page, kind=run[0].kind) for run in runs]


def continues(run: list[Block], block: Block) -> bool:
    """Whether `block` goes on with the paragraph or list item whose pieces so far are `run`."""
    return (block.kind is BlockKind.PARAGRAPH and block.text[:1].islower()
            and run[0].kind in (BlockKind.PARAGRAPH, BlockKind.LIST_ITEM)
            and not SENTENCE_CLOSE.search(run[-1].text))


def split_pages(text: str) -> list[tuple[int, str]]:
    """Cut at form feeds and explicit page markers; a marker names the page that follows it."""
    pieces: list[tuple[int, str]] = []
    number, position = 1, 0
    for marker in PAGE_MARKER.finditer(text):
        pieces.append((number, text[position:marker.start()]))
        number, position = int(marker.group(1)), marker.end()
    pieces.append((number, text[position:]))
    pages: list[tuple[int, str]] = []
    for start_number, piece in pieces:
        for offset, sheet in enumerate(piece.split("\f")):
            pages.append((max(1, start_number + offset), sheet))
    return [(n, sheet) for n, sheet in pages if sheet.strip()] or [(1, "")]


def parse_page(text: str, page: int) -> list[Block]:
    blocks: list[Block] = []
    for chunk in re.split(r"\n[ \t]*\n", text):
        blocks.extend(parse_chunk(chunk.split("\n"), page))
    return blocks


def parse_chunk(lines: list[str], page: int) -> list[Block]:
    """Turn the lines between two blank lines into headings, list items, table rows and paragraphs."""
    blocks: list[Block] = []
    paragraph: list[str] = []
    item: list[str] | None = None

    def flush() -> None:
        nonlocal paragraph, item
        if paragraph:
            blocks.append(Block(text=inline_markdown(join_wrapped_lines(paragraph)), page=page))
        if item:
            blocks.append(Block(text=inline_markdown(join_wrapped_lines(item)), page=page, kind=BlockKind.LIST_ITEM))
        paragraph, item = [], None

    lines = [line for line in lines if line.strip() and not MD_RULE.match(line)]
    if len(lines) > 1 and is_run_in_heading(lines[0], lines[1]):
        blocks.append(Block(text=inline_markdown(lines[0]), page=page, kind=BlockKind.HEADING,
                            level=2 if SECTION_NUMBER.match(lines[0].strip()) else 1))
        lines = lines[1:]
    for line in lines:
        heading = MD_HEADING.match(line)
        table_row = MD_TABLE_ROW.match(line)
        bullet_at = bullet_start(line)
        if heading:
            flush()
            title = inline_markdown(heading.group(2))
            if title:
                blocks.append(Block(text=title, page=page, kind=BlockKind.HEADING, level=len(heading.group(1))))
        elif table_row:
            flush()
            if not MD_TABLE_SEPARATOR.match(table_row.group(1)):
                cells = [inline_markdown(collapse_spaces(cell)) for cell in table_row.group(1).split("|")]
                blocks.append(Block(text=" | ".join(c for c in cells if c), page=page, kind=BlockKind.TABLE_ROW))
        elif bullet_at is not None:
            flush()
            item = [line[bullet_at:]]
        elif item is not None:
            item.append(line)
        else:
            paragraph.append(line)
    flush()
    return [promote_heading(block) for block in blocks if block.text]


def is_run_in_heading(first: str, second: str) -> bool:
    """A short title line directly above an unwrapped paragraph line (web-page text) is a heading.

    In wrapped text every line is short, so the line below must be far longer
    than any heading for the first line to count.
    """
    return looks_like_heading(first.strip()) and len(second.strip()) > 2 * HEADING_MAX_CHARS \
        and bullet_start(first) is None and not MD_HEADING.match(first) and not MD_TABLE_ROW.match(first)


def promote_heading(block: Block) -> Block:
    """A lone short line that does not end like a sentence is a heading in plain text."""
    if block.kind is not BlockKind.PARAGRAPH or not looks_like_heading(block.text):
        return block
    level = 2 if SECTION_NUMBER.match(block.text) else 1
    return Block(text=block.text, page=block.page, kind=BlockKind.HEADING, level=level)


def looks_like_heading(text: str) -> bool:
    if len(text) > HEADING_MAX_CHARS or len(text.split()) > HEADING_MAX_WORDS:
        return False
    if SENTENCE_END.search(text) or "://" in text or not text[0].isalnum():
        return False
    return text[0].isupper() or bool(SECTION_NUMBER.match(text))


def inline_markdown(text: str) -> str:
    """Drop link targets, emphasis markers and escapes, keeping the words."""
    text = MD_LINK.sub(lambda m: m.group(1), text)
    for _ in range(2):
        text = MD_EMPHASIS.sub(lambda m: m.group(2) or m.group(3) or "", text)
    return collapse_spaces(MD_ESCAPE.sub(r"\1", text))
