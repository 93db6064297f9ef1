"""Text repairs every extractor needs: characters, line-break hyphens, wrapped lines, bullets.

Extractors hand over lines as the file laid them out; these functions turn
them into the sentences the author wrote, so that a quotation split across a
line break still reads as one quotation.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

LIGATURES = {"\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi", "\ufb04": "ffl", "\ufb05": "st",
             "\ufb06": "st", "\u0132": "IJ", "\u0133": "ij", "\u0152": "OE", "\u0153": "oe"}
SPACES = {"\u00a0": " ", "\u2002": " ", "\u2003": " ", "\u2009": " ", "\u202f": " ", "\u200b": "", "\ufeff": ""}
SOFT_HYPHEN = "\u00ad"
#: One translate table for ligatures, odd spaces and soft hyphens (str.translate is one pass in C).
CHARACTER_TABLE = str.maketrans({**LIGATURES, **SPACES, SOFT_HYPHEN: ""})
#: Control characters (Unicode category Cc) except the newline, tab and form feed that carry layout.
CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b\x0d-\x1f\x7f-\x9f]")

#: Glyphs that open a list item when they start a line; the \uf0xx ones are Symbol/Wingdings bullets
#: that PDFs without a text mapping for them hand over as private-use characters.
BULLET_GLYPHS = "•▪■●◦○▶►▸‣⁃∙·–—*-◆◇❖➢➤✓✔□\uf0b7\uf0a7\uf0d8\uf0fc\uf076\uf06e\uf0a8\uf0d7"
BULLET_PATTERN = re.compile(rf"^\s*[{re.escape(BULLET_GLYPHS)}]\s+(?=\S)")
#: A bullet glyph lost in PDF-to-text conversion often survives as a lone "e" before a capital.
LOST_BULLET_PATTERN = re.compile(r"^\s*e\s+(?=[A-Z‘'\"])")

#: Prefixes whose hyphen is part of the word even at a line end ("co-\nregulation" stays "co-regulation").
HYPHENATED_PREFIXES = frozenset({
    "co", "non", "self", "long", "short", "well", "cross", "multi", "inter", "anti",
    "ex", "high", "low", "full", "part", "decision", "child", "trauma",
    "care", "rights", "age", "life", "one", "two", "three", "four", "five", "first", "second",
})
LINE_END_HYPHEN = re.compile(r"(\w+)-$")
#: The word before a line-end hyphen is judged by at most this many of its last characters: no real word is
#: longer, and the bound keeps joining linear when one "word" runs on over thousands of glued lines.
LONGEST_WORD_CHARS = 100
WORD_PATTERN = re.compile(r"\w+(?:-\w+)*")


def normalise_characters(text: str) -> str:
    """Replace ligatures and odd spaces, drop soft hyphens and control characters (form feeds mark pages)."""
    if text.isascii() and (text.isprintable() or not CONTROL_CHARACTERS.search(text)):
        return text
    text = text.replace(SOFT_HYPHEN + "\n", "").translate(CHARACTER_TABLE)
    return CONTROL_CHARACTERS.sub("", text)


def collapse_spaces(text: str) -> str:
    return re.sub(r"[ \t]+", " ", text).strip()


def join_wrapped_lines(lines: list[str], *, known_words: set[str] | None = None) -> str:
    r"""Join the lines of one paragraph, rejoining words split by a line-end hyphen.

    "inter-\\nvention" becomes "intervention"; "long-\\nterm" and "co-\\nregulation"
    keep their hyphen because the part before it is a prefix that takes one.
    With `known_words` (the document's own vocabulary, see `document_vocabulary`)
    the document decides first: a hyphen stays when the document writes the word
    with a hyphen elsewhere and never without one, and goes when it writes it closed up.

    The lines are collected as pieces and joined once, and each line is searched
    for its hyphen once: searching the text joined so far made a paragraph of many
    lines (a text file without blank lines) quadratic.
    """
    pieces: list[str] = []
    hyphenated: str | None = None  # the word before the hyphen that ends the text so far, if it ends in one
    for raw in lines:
        line = collapse_spaces(raw)
        if not line:
            continue
        continued = ""
        if hyphenated is not None and line[:1].islower():
            if not keeps_hyphen(hyphenated, line, known_words):
                pieces[-1] = pieces[-1][:-1]
                continued = hyphenated
        elif pieces:
            pieces.append(" ")
        pieces.append(line)
        hyphenated = word_before_hyphen(line, continued)
    return "".join(pieces)


def word_before_hyphen(line: str, continued: str) -> str | None:
    """The word a hyphen at the end of `line` follows, or None; `continued` is the word the line carries on.

    A line glued to the one before (its hyphen dropped) carries on that line's
    word: in "lo-" / "ng-" / "term" the second hyphen follows "long". The word is
    kept to its last LONGEST_WORD_CHARS characters.
    """
    match = LINE_END_HYPHEN.search(line)
    if match is None:
        return None
    word = continued + match.group(1) if match.start() == 0 else match.group(1)
    return word[-LONGEST_WORD_CHARS:]


def keeps_hyphen(before: str, next_line: str, known_words: set[str] | None) -> bool:
    """Whether the hyphen between `before` (end of a line) and the next line's first word is a real one."""
    if known_words:
        after = WORD_PATTERN.match(next_line)
        if after:
            closed = (before + after.group(0)).lower()
            hyphenated = f"{before}-{after.group(0)}".lower()
            if closed in known_words and hyphenated not in known_words:
                return False
            if hyphenated in known_words and closed not in known_words:
                return True
    return before.lower() in HYPHENATED_PREFIXES


def document_vocabulary(lines: Iterable[str]) -> set[str]:
    """Lower-cased words and hyphenated compounds written within lines (not across a line break)."""
    vocabulary: set[str] = set()
    for line in lines:
        body = line[:-1] if line.endswith("-") else line
        vocabulary.update(word.lower() for word in WORD_PATTERN.findall(body))
    return vocabulary


def bullet_start(line: str) -> int | None:
    """Where the item's text begins if `line` opens a list item, else None."""
    match = BULLET_PATTERN.match(line) or LOST_BULLET_PATTERN.match(line)
    return match.end() if match else None


def strip_bullet(line: str) -> str:
    start = bullet_start(line)
    return line[start:].strip() if start is not None else line.strip()
