"""Where in a passage's own text the words behind a match are: character spans, recorded by the classifier.

The classifier compares normalised, lemmatised text ("childrens hearing", "scotland" for "South
Ayrshire"); a reviewer reads the passage as written. `normalised_words` replays the classifier's
normalisation while remembering which characters each word came from, so the matched terms and an aligned
quotation can be found in the original text. It runs once per evidence passage, when the verdict is made,
and the spans travel with the evidence (`Evidence.spans`): a report only has to draw them.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from difflib import SequenceMatcher
from typing import NamedTuple

from pipeline.classify.text import FUNCTION_WORDS, PLACE_SUBSTITUTIONS, folded, lemma
from pipeline.types import Signal

#: A run of at least this many consecutive words shared with a quotation is highlighted as quoted.
QUOTE_MIN_RUN_WORDS = 3


class Word(NamedTuple):
    """A word as the classifier compares it, with the span of the original text it came from."""

    text: str
    start: int
    end: int


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


#: A word as the classifier reads it, in text folded one character for one: letters and digits, with
#: apostrophes and hyphens between two letters dropped inside it ("children's" -> "childrens", "re-orientate").
WORD = re.compile(r"[a-z0-9]+(?:(?:'|(?<=[a-z])-(?=[a-z]))+[a-z0-9]+)*")


@functools.lru_cache(maxsize=4096)
def folded_lower(character: str) -> str:
    """One character as the classifier compares it: folded, lower case, curly apostrophes straight."""
    return folded(character).lower().replace("’", "'").replace("‘", "'")


def one_for_one(text: str) -> str | None:
    """`text` folded and lower-cased when every character stays one character (so positions carry over), else None."""
    if text.isascii():
        return text.lower()
    parts = [folded_lower(character) for character in text]
    return "".join(parts) if all(len(part) == 1 for part in parts) else None


def normalised_words(text: str) -> list[Word]:
    """The words of `normalise_for_matching(text)`, each with the span of `text` it came from.

    The classifier records matched words and quoted spans in its normalised
    form (lower case, characters folded, place names folded to "scotland",
    hyphenated words joined, punctuation and apostrophes dropped). To highlight
    them in the text a reader sees, this applies the same steps while
    remembering where each character came from. Most passages fold one
    character for one and name no folded place: their words are found in
    place, positions unchanged; the rest carry a span per character.
    `" ".join(w.text for w in normalised_words(t))` equals
    `normalise_for_matching(t)`; the tests hold it to that.
    """
    lowered = one_for_one(text)
    if lowered is not None and not any(pattern.search(lowered) for pattern, _ in PLACE_SUBSTITUTIONS):
        return [Word(word_text(match), match.start(), match.end()) for match in WORD.finditer(lowered)]
    chars: list[str] = []
    spans: list[tuple[int, int]] = []
    for index, char in enumerate(text):
        for lowered_char in folded_lower(char):
            chars.append(lowered_char)
            spans.append((index, index + 1))
    chars, spans = place_substituted(chars, spans)
    return [Word(word_text(match), spans[match.start()][0], spans[match.end() - 1][1])
            for match in WORD.finditer("".join(chars))]


def word_text(match: re.Match) -> str:
    """A word as compared: the apostrophes and joining hyphens inside it dropped."""
    return match.group().replace("'", "").replace("-", "")


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
    if not wanted:
        return []
    return [(word.start, word.end) for word in words if recorded_among(word, text, wanted)]


def recorded_among(word: Word, text: str, wanted: set[str]) -> bool:
    """Whether the word is among `wanted` in a form it may have been recorded in.

    The forms: as normalised, its lemma, or either without a possessive 's. Checked form by form, cheapest
    first, since every word of a passage is asked for each match it is evidence of.
    """
    if word.text in wanted or lemma(word.text) in wanted:
        return True
    if text[word.start:word.end].lower().endswith(("'s", "’s")):
        stem = word.text[:-1]
        return stem in wanted or lemma(stem) in wanted
    return False


def merged(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    result: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if result and start <= result[-1][1]:
            result[-1] = (result[-1][0], max(end, result[-1][1]))
        else:
            result.append((start, end))
    return result


@functools.lru_cache(maxsize=256)
def passage_words(text: str) -> tuple[Word, ...]:
    """normalised_words, remembered: one passage is often the evidence or near miss of several items."""
    return tuple(normalised_words(text))


def match_spans(text: str, matched: str, signal: Signal | str) -> tuple[tuple[int, int], ...]:
    """The spans of `text` to highlight for a match: the quoted run for a quotation, else the matched words."""
    if not matched:
        return ()
    words = passage_words(text)
    kind = signal.value if isinstance(signal, Signal) else signal
    spans = quote_spans(words, matched) if kind == Signal.QUOTE.value else term_spans(words, matched, text)
    return tuple(merged(spans))
