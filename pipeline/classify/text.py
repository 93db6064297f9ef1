"""Text as the classifier compares it: normalised, lemmatised, and annotated with domain concepts.

Normalisation folds what should not matter when deciding whether a passage
addresses an item: case, punctuation, hyphenation, possessives, and the place a
call is addressed to ("South Ayrshire", "the local authority" -> "scotland").
Lemmas come from spaCy's English lookup table (spacy-lookups-data, installed
with the package; nothing is downloaded). Concepts come from the curated
lexicon in reference/lexicon/domain.yaml.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from pipeline.clean import CHARACTER_TABLE
from pipeline.segment import HEADING_PATH_SEPARATOR
from pipeline.types import Passage
from pipeline.yamlfiles import load_yaml

#: Place names the 55-call list uses where the promise says "Scotland"; folded so quotations still align.
PLACE_SUBSTITUTIONS = (
    (re.compile(r"\bsouth ayrshire(?:'s|’s)"), "scotland's"),
    (re.compile(r"\b(?:south ayrshire|the local authority|the council|the partnership)\b"), "scotland"),
)
TOKEN = re.compile(r"[a-z0-9]+")
#: Ligatures, odd spaces and soft hyphens as extraction repairs them, and the hyphen characters that are not "-".
MATCHING_CHARACTERS = {**CHARACTER_TABLE, ord("\u2010"): "-", ord("\u2011"): "-"}
#: Words that carry no evidence on their own, for showing and highlighting what matched. scikit-learn's
#: English stop words, less those that name things a reviewer looks for ("stay together", "the whole system").
FUNCTION_WORDS = ENGLISH_STOP_WORDS - {
    "together", "system", "whole", "move", "home", "back", "call", "detail", "describe", "empty", "fill", "find",
    "fire", "found", "front", "full", "give", "interest", "keep", "name", "part", "serious", "show", "side", "take",
    "bill", "amount", "bottom", "alone"}
#: The domain lexicon's concept tokens start with this (`c_sibling`).
CONCEPT_PREFIX = "c_"
#: Item texts are a few plain sentences; a stop followed by space ends one.
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def item_text_sentences(text: str) -> list[str]:
    """The sentences of an item's text (short, plain prose, so splitting at full stops is enough)."""
    return SENTENCE_END.split(text)


@lru_cache(maxsize=4096)
def folded(character: str) -> str:
    """One character as matching reads it: "ﬁ" -> "fi", no-break space -> " ", "\u2011" -> "-", "é" -> "e".

    Extraction repairs characters in documents it reads, but `eval` and training read labelled text as given,
    where a PDF's ligature would otherwise split "beneﬁt" into "bene t".
    """
    if character.isascii():
        return character
    character = character.translate(MATCHING_CHARACTERS)
    return "".join(part for part in unicodedata.normalize("NFKD", character) if not unicodedata.combining(part))


def normalise_for_matching(text: str) -> str:
    """Fold characters, lower-case, fold place names to "scotland", join hyphenated words, drop punctuation.

    Both the quotation and the lexical signal compare texts in this form, so a
    quotation survives changes of case, punctuation, hyphenation and addressee.
    """
    if not text.isascii():
        text = "".join(map(folded, text))
    text = text.lower().replace("’", "'").replace("‘", "'")
    for pattern, replacement in PLACE_SUBSTITUTIONS:
        text = pattern.sub(replacement, text)
    text = re.sub(r"(?<=[a-z])-(?=[a-z])", "", text)  # "re-orientate" and "reorientate" compare equal
    text = re.sub(r"[^a-z0-9' ]+", " ", text)
    return re.sub(r"\s+", " ", text.replace("'", "")).strip()


@lru_cache(maxsize=1)
def lemma_table() -> dict:
    from spacy.lookups import load_lookups

    return load_lookups("en", ["lemma_lookup"]).get_table("lemma_lookup")


@lru_cache(maxsize=200_000)
def lemma(token: str) -> str:
    return lemma_table().get(token, token)


def lemmatise(normalised: str) -> str:
    """Lemmas of a normalised text ("childrens hearings" -> "childrens hearing").

    Possessives stay fused ("children's" -> "childrens"): folding them into the
    plain noun cost 0.02 cross-validated micro-F1, since "childrens" marks the
    institutions (Children's Hearings, children's services, children's rights).
    """
    return " ".join(lemma(token) for token in TOKEN.findall(normalised))


def passage_text(passage: Passage) -> str:
    """What the classifier reads: the passage with its nearest heading and the sentence that introduced it.

    The heading is read because a bullet such as "Spending time there must be as
    short as possible" only says what it is about through the heading above it.
    """
    nearest_heading = passage.heading.rsplit(HEADING_PATH_SEPARATOR, 1)[-1]
    return " ".join(part for part in (nearest_heading, passage.lead_in, passage.text) if part)


@dataclass(frozen=True)
class Lexicon:
    """Concept tokens and the lemmatised phrases (as word tuples) that evoke them."""

    version: str
    concept_of_phrase: dict[tuple[str, ...], str]
    order: tuple[str, ...]
    #: For each word that starts a phrase, the length of the longest phrase it starts.
    longest_from: dict[str, int]

    def phrases_found(self, lemmatised: str) -> dict[str, tuple[str, ...]]:
        """Each concept found in a lemmatised text, in lexicon order, with the phrases of the text that evoked it.

        Scans word by word and takes the longest phrase starting at each word, then continues after it (so
        "residential care" wins over "care"): a dictionary lookup per word, and per length only where a
        phrase can start, where one regular expression of some 1,400 alternatives took nearly half the
        classifier's time. The phrases let a match name the passage's own words rather than a concept
        token a reviewer cannot find in the text.
        """
        words = lemmatised.split()
        found: dict[str, list[str]] = {}
        start = 0
        while start < len(words):
            for length in range(min(self.longest_from.get(words[start], 0), len(words) - start), 0, -1):
                phrase = tuple(words[start:start + length])
                concept = self.concept_of_phrase.get(phrase)
                if concept is not None:
                    phrases = found.setdefault(concept, [])
                    if " ".join(phrase) not in phrases:
                        phrases.append(" ".join(phrase))
                    start += length
                    break
            else:
                start += 1
        return {concept: tuple(found[concept]) for concept in self.order if concept in found}


def load_lexicon(path: Path | str) -> Lexicon:
    """Read reference/lexicon/domain.yaml; phrases are lemmatised here so they are written naturally in the file."""
    data = load_yaml(path)
    concept_of_phrase: dict[tuple[str, ...], str] = {}
    for concept, phrases in data["concepts"].items():
        forms = {tuple(lemmatise(normalise_for_matching(phrase)).split()) for phrase in phrases} - {()}
        if not forms:
            raise ValueError(f"{path}: concept {concept} has no usable phrase")
        for form in sorted(forms):
            concept_of_phrase.setdefault(form, concept)
    longest_from: dict[str, int] = {}
    for form in concept_of_phrase:
        longest_from[form[0]] = max(longest_from.get(form[0], 0), len(form))
    return Lexicon(version=str(data.get("version", "")), concept_of_phrase=concept_of_phrase,
                   order=tuple(data["concepts"]), longest_from=longest_from)


def annotated(lemmatised: str, phrases: dict[str, tuple[str, ...]]) -> str:
    """A lemmatised text with the tokens of the concepts found in it (`Lexicon.phrases_found`) appended.

    The original words stay, so a passage matches an item by its own words and by shared concepts.
    """
    return f"{lemmatised} {' '.join(phrases)}" if phrases else lemmatised


def readable_terms(terms: Iterable[str], phrases: dict[str, tuple[str, ...]], limit: int) -> list[str]:
    """Up to `limit` matched terms in words a reviewer can find in the passage, in the order given.

    `terms` is read only as far as needed: a passage has a hundred weighted terms, and six are shown.

    A concept token becomes the passage's phrase(s) that evoked it (`c_sibling` -> "brother and sister",
    several joined by " / "). A bigram with a concept token in it is left out: the tokens are appended after
    the passage's words, so such a bigram ("need c_sibling", "c_voice c_decision") joins words that are
    not next to each other in the passage.
    A term made only of function words ("to and", "they") is left out, and function words at the ends of
    a term are dropped ("ensure the" -> "ensure"): a model may weigh them, but they tell a reviewer nothing
    and the report does not highlight them. A term whose words are all shown already is left out too, so
    the few terms shown name different evidence.
    """
    shown: list[str] = []
    shown_words: set[str] = set()
    for term in terms:
        tokens = term.split()
        if len(tokens) > 1 and any(token.startswith(CONCEPT_PREFIX) for token in tokens):
            continue  # a bigram across the appended concept tokens is not a phrase of the passage
        readable = " / ".join(phrases.get(term, (term,))) if term.startswith(CONCEPT_PREFIX) else trimmed(term)
        content = set(readable.split()) - FUNCTION_WORDS - {"/"}
        if content - shown_words:  # a term adds a word not already shown ("sister" after "brother and sister")
            shown.append(readable)
            shown_words |= content
        if len(shown) == limit:
            break
    return shown


def trimmed(term: str) -> str:
    """The term without function words at either end ("to blanket" -> "blanket"); "" if it has only those."""
    words = term.split()
    while words and words[0] in FUNCTION_WORDS:
        words.pop(0)
    while words and words[-1] in FUNCTION_WORDS:
        words.pop()
    return " ".join(words)
