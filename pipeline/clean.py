"""Text repairs every extractor needs: characters, line-break hyphens, wrapped lines, bullets.

Extractors hand over lines as the file laid them out; these functions turn
them into the sentences the author wrote, so that a quotation split across a
line break still reads as one quotation.
"""

from __future__ import annotations

import re
import unicodedata

LIGATURES = {"\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi", "\ufb04": "ffl", "\ufb05": "st",
             "\ufb06": "st", "\u0132": "IJ", "\u0133": "ij", "\u0152": "OE", "\u0153": "oe"}
SPACES = {"\u00a0": " ", "\u2002": " ", "\u2003": " ", "\u2009": " ", "\u202f": " ", "\u200b": "", "\ufeff": ""}
SOFT_HYPHEN = "\u00ad"

#: Glyphs that open a list item when they start a line.
BULLET_GLYPHS = "•▪■●◦○▶►▸‣⁃∙·–—*-"
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


def normalise_characters(text: str) -> str:
    """Replace ligatures and odd spaces, drop soft hyphens and control characters (form feeds mark pages)."""
    for old, new in {**LIGATURES, **SPACES}.items():
        text = text.replace(old, new)
    text = text.replace(SOFT_HYPHEN + "\n", "").replace(SOFT_HYPHEN, "")
    return "".join(ch for ch in text if ch in "\n\t\f" or unicodedata.category(ch) != "Cc")


def collapse_spaces(text: str) -> str:
    return re.sub(r"[ \t]+", " ", text).strip()


def join_wrapped_lines(lines: list[str]) -> str:
    r"""Join the lines of one paragraph, rejoining words split by a line-end hyphen.

    "inter-\\nvention" becomes "intervention"; "long-\\nterm" and "co-\\nregulation"
    keep their hyphen because the part before it is a prefix that takes one.
    """
    joined = ""
    for raw in lines:
        line = collapse_spaces(raw)
        if not line:
            continue
        if not joined:
            joined = line
            continue
        hyphen = LINE_END_HYPHEN.search(joined)
        if hyphen and line[:1].islower():
            prefix = hyphen.group(1).lower()
            joined = joined if prefix in HYPHENATED_PREFIXES else joined[:-1]
            joined += line
        else:
            joined += " " + line
    return joined


def bullet_start(line: str) -> int | None:
    """Where the item's text begins if `line` opens a list item, else None."""
    match = BULLET_PATTERN.match(line) or LOST_BULLET_PATTERN.match(line)
    return match.end() if match else None


def strip_bullet(line: str) -> str:
    start = bullet_start(line)
    return line[start:].strip() if start is not None else line.strip()
