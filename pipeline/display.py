r"""Untrusted names as a person sees them: control and bidirectional-formatting characters made visible.

A file name is chosen by whoever wrote the file, and it reaches the terminal
(the summary table, errors) and the HTML report. Two kinds of character in it
act instead of showing:
- control characters: `\x1b[2J` clears a terminal, `\x1b]0;title\x07` renames its
  window, a carriage return moves the cursor back over what was printed;
- bidirectional formatting characters: U+202E (right-to-left override) shows
  "report\u202egnp.exe" as "reportexe.png", so the name looks like another file.
Each becomes its escape, written as Python writes it (`\x1b`, `\u202e`), so the
name reads as what it is. Data files (CSV, XLSX, run.json) keep names exactly.
"""

from __future__ import annotations

import unicodedata

#: Unicode's bidirectional formatting characters (UAX #9): marks, embeddings, overrides and isolates.
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
#: General categories of characters that act rather than show: C0/DEL/C1 controls, line and paragraph separators.
ACTING_CATEGORIES = frozenset({"Cc", "Zl", "Zp"})
#: The escapes Python writes for these controls, shorter and better known than their `\xNN`.
NAMED_ESCAPES = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}
#: Code points up to here are escaped as `\xNN`, the rest as `\uNNNN`.
BYTE_ESCAPE_LIMIT = 0xFF


def acts(char: str) -> bool:
    """Whether `char` changes how the text around it is shown instead of showing itself."""
    return char in BIDI_CONTROLS or unicodedata.category(char) in ACTING_CATEGORIES


def escape_char(char: str) -> str:
    if char in NAMED_ESCAPES:
        return NAMED_ESCAPES[char]
    code = ord(char)
    return f"\\x{code:02x}" if code <= BYTE_ESCAPE_LIMIT else f"\\u{code:04x}"


def visible_controls(text: object, *, keep: str = "") -> str:
    r"""`text` with every acting character written as its escape (`keep` lists ones left as they are, e.g. "\n").

    Example: a name holding ESC "[2J" is printed as `plan\x1b[2J.txt`, and clears nothing.
    """
    return "".join(escape_char(char) if acts(char) and char not in keep else char for char in str(text))


#: Longest short form of an item's text in a table cell or tooltip; the full text is a hover or a click away.
SHORT_TEXT_CHARS = 120
ELLIPSIS = "…"


def shortened(text: str, limit: int = SHORT_TEXT_CHARS) -> str:
    """`text` on one line, cut at a word boundary to at most `limit` characters (ellipsis included) if longer.

    Example: CARE-22's 751 characters become its first ~100, ending "…"; VOICE-2's 100 stay whole.
    """
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit - len(ELLIPSIS) + 1]
    cut = cut[:cut.rfind(" ")] if " " in cut else cut[:-1]
    return cut.rstrip(" ,;:.") + ELLIPSIS
