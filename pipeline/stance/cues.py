"""Cues of stance and commitment, as features for the learned models (pipeline/stance/model.py).

A cue here never decides alone: negation scope, modal verbs, reporting frames, conditions and dates become
numbers a linear model weighs against each other and against the passage's words, learned from the labelled
passages of corpora/labelled/stance.jsonl. Two kinds, both read from the passage's tokens (`counted_cues`):

- **scoped words**: the passage's words, where every word inside a negation's scope (from "not", "no",
  "cannot", "n't"... to the end of the clause) is written `not_<word>`, so "we do not support" and "we support"
  give the model different words (the classic negation marking of sentiment analysis);
- **cue counts**: per named cue (a list of words and phrases), how often it occurs, and whether cues occur
  together in one sentence (a first person with "must" is an intention; an addressee with "must" is a call on
  others; an owner with "will" and a date is a commitment).

Cues are looked up token by token in a table (a phrase only where the passage has its first two words), not
searched for with one regular expression each: 22 expressions cost 0.34 ms a passage, and made the stance
stage 0.27 of classification's time in `make bench`; the table reads the same cues in 0.06 ms.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

TOKEN = re.compile(r"[a-z0-9£%]+(?:['’][a-z]+)?|[.,;:!?()]")
#: Words that open a negation's scope; the scope runs to the next clause boundary.
NEGATORS = frozenset({"not", "no", "never", "cannot", "nor", "neither", "without", "nothing", "none", "hardly",
                      "don't", "doesn't", "didn't", "won't", "can't", "isn't", "aren't", "wasn't", "shouldn't",
                      "wouldn't", "couldn't", "mustn't", "haven't", "hasn't"})
CLAUSE_BOUNDARIES = frozenset({".", ",", ";", ":", "!", "?", "(", ")", "but", "however", "although", "though",
                               "yet", "whereas", "while", "because", "and"})
SENTENCE_ENDS = frozenset({".", "!", "?", ";"})
NEGATED_PREFIX = "not_"

#: Token shapes: numbers, years, money and percentages are looked up by kind, not by value.
NUMBER, YEAR, MONEY, PERCENT = "<number>", "<year>", "<money>", "<percent>"
MONEY_AMOUNT = re.compile(r"\d[\d,.]*(m|bn|k)")
MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december")

#: Named cues: words and phrases of the lower-cased passage (`*` in a three-word phrase: any one word;
#: <number>, <year>, <money>, <percent>: any token of that kind).
CUES: dict[str, tuple[str, ...]] = {
    "support": ("support", "supports", "supported", "supporting", "welcome", "welcomes", "welcomed", "endorse",
                "endorses", "endorsed", "agree", "agrees", "agreed", "back", "backs", "backed", "backing", "commend",
                "applaud", "share the ambition", "share this ambition", "share that ambition", "share the aim",
                "share this aim", "share the vision", "in favour", "champion", "right that", "fully behind"),
    "oppose": ("oppose", "opposes", "opposed", "opposing", "opposition", "disagree", "disagrees", "disagreed",
               "reject", "rejects", "rejected", "object", "objects", "objected", "against", "unworkable",
               "unrealistic", "unnecessary", "misguided", "counterproductive", "flawed", "cannot work",
               "would not work"),
    "concern": ("concern", "concerns", "concerned", "worry", "worried", "worries", "fear", "fears", "feared", "warn",
                "warns", "warned", "warning", "risk", "risks", "doubt", "doubts", "doubted", "sceptical",
                "scepticism", "question whether", "questions whether", "questioned whether", "not persuaded",
                "not yet persuaded", "not convinced"),
    "harm": ("harm", "harms", "harmful", "harmed", "danger", "dangerous", "endanger", "unsafe", "at risk",
             "undermine", "undermines", "undermined"),
    "condition": ("only if", "provided that", "provided it", "providing", "subject to", "on condition", "as long as",
                  "in principle", "so long as", "unless", "caveat", "with reservations", "with reservation"),
    "contrast": ("but", "however", "although", "though", "yet", "whereas", "nevertheless", "nonetheless",
                 "on the other hand"),
    "reported": ("respondent", "respondents", "witnesses", "stakeholders", "participants", "submission",
                 "submissions", "some", "others", "a minority", "many", "most", "several", "the committee",
                 "members", "providers", "told", "heard", "argued", "said", "says", "felt", "suggested", "noted",
                 "raised", "expressed", "claimed", "view", "views", "according to"),
    "both_sides": ("other", "others", "a minority", "while others", "on both sides", "divided", "mixed views"),
    "will": ("will", "shall", "going to", "we'll", "it'll", "they'll"),
    "intend": ("intend", "intends", "intention", "aim", "aims", "aimed to", "aiming to", "plan", "plans", "planning",
               "aspire", "aspires", "aspired", "aspiration", "ambition", "committed to", "commit to", "commits to",
               "seek", "seeks", "strive", "determined", "pledge", "pledges", "pledged", "vision", "priority",
               "priorities", "prioritise", "hope", "hopes", "hope to", "would like to", "wish to", "want to",
               "wants to", "looking to", "explore", "exploring", "consider", "considering"),
    "oblige": ("must", "should", "need to", "needs to", "ought", "urge", "urges", "urged", "call on", "calls on",
               "called on", "call for", "calls for", "called for", "recommend", "recommends", "recommended",
               "recommendation", "recommendations", "require", "requires", "required", "ask", "asks",
               "area for improvement", "areas for improvement", "expect", "expects"),
    "first_person": ("we", "our", "us", "ours", "the council", "the partnership", "the board", "this plan"),
    "addressee": ("government", "minister", "ministers", "the scottish government", "councils", "local authorities",
                  "services", "regulator", "regulators", "scotland", "the care inspectorate", "parliament",
                  "providers", "partners", "agencies"),
    "date": (*(f"by {month}" for month in MONTHS), "by spring", "by summer", "by autumn", "by winter", "by <year>",
             "by the end", YEAR, "q1", "q2", "q3", "q4", "quarter", "within months", "within years", "within weeks",
             "within month", "within year", "within week", "within * months", "within * years", "within * weeks",
             *(f"from {month}" for month in MONTHS), *(f"in {month}" for month in MONTHS if month != "may"),
             "next year", "this year", "later this year", "later in the year", "in the autumn", "in the spring",
             "in the summer", "in the winter", "from <year>", "in <year>", "during <year>", "each year",
             "every year", "annually", "quarterly", "monthly"),
    "resource": (MONEY, "<number> million", "<number> billion", "funding", "budget", "investment", "investing",
                 "invest", "post", "posts", "workers", "staff", "fte", "officer", "officers", "grant", "grants",
                 "allocate", "allocated", "allocation"),
    "number": (NUMBER, YEAR),
    "action": ("roll out", "set up"),
    "past": ("delivered", "completed", "launched", "funded", "introduced", "established", "achieved", "published"),
    "statistic": (PERCENT, "per cent", "percent", "rate", "rates", "statistic", "statistics", "figure", "figures"),
    "describe": ("is", "are", "was", "were", "describe", "describes", "set out", "sets out", "explain", "explains",
                 "found", "finds", "show", "shows", "according", "define", "defines", "section <number>",
                 "act <year>", "duty", "statutory"),
    "quote": (),
    "question": (),
}
#: Stems of action verbs: a token starting with one is an action ("recruit", "recruitment", "recruiting").
ACTION_STEMS = ("recruit", "publish", "launch", "introduce", "deliver", "establish", "appoint", "train", "review",
                "implement", "create", "develop", "open", "fund", "provide", "expand", "embed", "monitor", "report")
#: "has been extended", "were trained": an auxiliary, perhaps "been", and a past participle.
PAST_AUXILIARIES = frozenset({"has", "have", "had", "was", "were"})
QUOTE_MARKS = ("\"", "“", "”", "‘", "'")
#: Cues that matter together in one sentence: what the pair says, not either word alone.
PAIRS = (("first_person", "oblige"), ("addressee", "oblige"), ("first_person", "will"), ("will", "date"),
         ("will", "resource"), ("will", "number"), ("reported", "oppose"), ("reported", "support"),
         ("reported", "concern"), ("support", "condition"), ("support", "contrast"), ("concern", "harm"),
         ("oppose", "first_person"), ("support", "first_person"), ("intend", "date"), ("action", "date"))
#: Cues counted again when negated ("not supported", "no objection").
NEGATABLE = ("support", "oppose", "concern")
CUE_NAMES = tuple(CUES) + tuple(f"{a}+{b}" for a, b in PAIRS) + tuple(f"negated_{name}" for name in NEGATABLE) + (
    "negations", "sentences")

CUE_INDEX = {name: position for position, name in enumerate(CUES)}
PAIR_INDICES = tuple((CUE_INDEX[a], CUE_INDEX[b]) for a, b in PAIRS)
PAIRED_CUES = frozenset(index for pair in PAIR_INDICES for index in pair)
EMPTY: frozenset[int] = frozenset()


def phrase_table() -> tuple[dict[str, tuple[int, ...]], dict[str, tuple[int, ...]], frozenset[str]]:
    """Single words -> their cues; phrases (space-joined) -> their cues; the words that start a phrase."""
    words: dict[str, list[int]] = {}
    phrases: dict[str, list[int]] = {}
    for name, entries in CUES.items():
        for entry in entries:
            table = phrases if " " in entry else words
            table.setdefault(entry, []).append(CUE_INDEX[name])
    starts = frozenset(phrase.split()[0] for phrase in phrases)
    return ({word: tuple(cues) for word, cues in words.items()},
            {phrase: tuple(cues) for phrase, cues in phrases.items()}, starts)


WORD_CUES, PHRASE_CUES, PHRASE_STARTS = phrase_table()
#: First words of phrases with a wildcard second word ("within * months").
WILDCARD_STARTS = frozenset(phrase.split()[0] for phrase in PHRASE_CUES if phrase.split()[1] == "*")
#: The first two words of every phrase ("the council" -> ("the", "council")): a phrase is looked for only where
#: the passage has one, so a common first word ("the", "in", "by") costs a set lookup, not a search.
PHRASE_OPENINGS = frozenset(tuple(phrase.split()[:2]) for phrase in PHRASE_CUES)
PHRASE_LENGTHS = tuple(sorted({len(phrase.split()) for phrase in PHRASE_CUES}))
#: How many tokens from a phrase's start the phrase cues look at (the longest phrase; "past" needs three).
MAX_PHRASE_LENGTH = max(*PHRASE_LENGTHS, 3)
NEGATABLE_WORDS = tuple(frozenset(word for word in CUES[name] if " " not in word) for name in NEGATABLE)
ACTION, PAST = CUE_INDEX["action"], CUE_INDEX["past"]


@lru_cache(maxsize=1 << 16)
def shape(token: str) -> str:
    """The form a token is looked up by: its kind for a number, year, sum or percentage; else the word.

    A possessive is dropped ("council's" -> "council").
    """
    if "£" in token or MONEY_AMOUNT.fullmatch(token):
        return MONEY
    if token.endswith("%") and token[:-1].isdigit():
        return PERCENT
    if token.isdigit():
        return YEAR if len(token) == 4 and token[:2] in ("19", "20") else NUMBER
    if token.endswith("'s"):
        return token[:-2]
    return token


#: What a token does to a negation's scope: nothing, ends it (a clause boundary), ends it and the sentence, opens it.
WORD, BOUNDARY, SENTENCE_END, NEGATOR = 0, 1, 2, 3


def token_cues(token: str) -> tuple[str, tuple[int, ...], bool, tuple[int, ...], int]:
    """What one token says (TOKEN_TABLE remembers it for each distinct token, so a passage's loop looks it up).

    Its shape, the cues it is by itself, whether a phrase or a past form may start at it, which negatable cues
    it is (counted again as `negated_<cue>` inside a negation's scope), and what it does to that scope.
    """
    form = shape(token)
    cues = WORD_CUES.get(form, ()) + ((ACTION,) if form.startswith(ACTION_STEMS) else ())
    negatable = tuple(index for index, words in enumerate(NEGATABLE_WORDS) if form in words)
    scope = (SENTENCE_END if token in SENTENCE_ENDS else BOUNDARY if token in CLAUSE_BOUNDARIES
             else NEGATOR if token in NEGATORS or token.endswith("n't") else WORD)
    return form, cues, form in PHRASE_STARTS or form in PAST_AUXILIARIES, negatable, scope


class TokenTable(dict):
    """`token_cues` of every token seen, worked out on first sight.

    `map(TOKEN_TABLE.__getitem__, tokens)` looks up a passage's tokens at C speed, where a cache's wrapper
    costs a Python call per token. Emptied when it holds TOKEN_TABLE_LIMIT tokens: a long run's memory stays
    bounded.
    """

    def __missing__(self, token: str) -> tuple[str, tuple[int, ...], bool, tuple[int, ...], int]:
        if len(self) >= TOKEN_TABLE_LIMIT:
            self.clear()
        entry = self[token] = token_cues(token)
        return entry


TOKEN_TABLE_LIMIT = 1 << 17
TOKEN_TABLE = TokenTable()


@dataclass(frozen=True)
class PassageCues:
    """What the models read of one passage: its scoped words (for the word model) and its cue features."""

    scoped_words: str
    cues: np.ndarray


def read_cues(text: str) -> PassageCues:
    """The passage's scoped words and one row of cue features (see CUE_NAMES)."""
    words, counts = counted_cues(text)
    return PassageCues(scoped_words=" ".join(words), cues=np.log1p(np.array(counts, dtype=np.float64)))


def read_batch(texts: list[str]) -> tuple[list[list[str]], np.ndarray]:
    """`read_cues` of every passage: their scoped words (as lists), and the cue rows as one [passages, cues] array."""
    read = [counted_cues(text) for text in texts]
    rows = np.array([counts for _, counts in read], dtype=np.float64).reshape(len(texts), len(CUE_NAMES))
    return [scoped for scoped, _ in read], np.log1p(rows)


def counted_cues(text: str) -> tuple[list[str], list[int]]:
    """The passage's scoped words and its raw cue counts (CUE_NAMES order), from its tokens.

    Two passes over what `token_cues` says of each token: the negation scope (`scoped_runs`), and the cues,
    looked at only where a token is a cue or may start one. (Timed against one loop doing both: the same.)
    """
    lowered = text.lower().replace("’", "'")
    tokens = TOKEN.findall(lowered)
    read = list(map(TOKEN_TABLE.__getitem__, tokens))
    words, sentence_ends, negated, negations = scoped_runs(tokens, read)
    last = len(read) - 1
    counts = [0] * len(CUES)
    sentences_of: dict[int, set[int]] = {}  # of the cues PAIRS counts together, the sentences each is in
    for position in [position for position, entry in enumerate(read) if entry[1] or entry[2]]:
        form, found, starts_phrase = read[position][:3]
        if starts_phrase and (form in PAST_AUXILIARIES or (form, read[position + 1][0] if position < last
                                                           else "") in PHRASE_OPENINGS or form in WILDCARD_STARTS):
            found += phrase_cues_at([entry[0] for entry in read[position:position + MAX_PHRASE_LENGTH]])
        if found:
            sentence = bisect_left(sentence_ends, position)
            for cue in found:
                counts[cue] += 1
                if cue in PAIRED_CUES:
                    sentences_of.setdefault(cue, set()).add(sentence)
    counts[CUE_INDEX["quote"]] = sum(lowered.count(mark) for mark in QUOTE_MARKS)
    counts[CUE_INDEX["question"]] = lowered.count("?")
    pairs = [len(sentences_of.get(a, EMPTY) & sentences_of.get(b, EMPTY)) for a, b in PAIR_INDICES]
    return words, [*counts, *pairs, *negated, negations, len(sentence_ends) + 1]


def scoped_runs(tokens: list[str], read: list[tuple]) -> tuple[list[str], list[int], list[int], int]:
    """The scoped words, the positions of sentence ends, negated cue counts and negations of a passage's tokens.

    A negator opens a scope (and is kept as a word); a clause boundary or sentence end closes it (and is
    dropped); every word inside a scope is `not_<word>`, and a negatable cue there is counted as negated.
    """
    words: list[str] = []
    sentence_ends: list[int] = []
    negated = [0] * len(NEGATABLE)
    negations = 0
    in_scope = False
    previous = -1
    for position in [position for position, entry in enumerate(read) if entry[4] != WORD] + [len(tokens)]:
        if in_scope:
            words.extend([NEGATED_PREFIX + token for token in tokens[previous + 1:position]])
            for entry in read[previous + 1:position]:
                for index in entry[3]:
                    negated[index] += 1
        else:
            words.extend(tokens[previous + 1:position])
        if position == len(tokens):
            break
        scope = read[position][4]
        in_scope = scope == NEGATOR
        if in_scope:
            negations += 1
            words.append(tokens[position])
        elif scope == SENTENCE_END:
            sentence_ends.append(position)
        previous = position
    return words, sentence_ends, negated, negations


def phrase_cues_at(shapes: list[str]) -> tuple[int, ...]:
    """The cues of the phrases starting at `shapes[0]`, and "past" after an auxiliary ("has been extended").

    `shapes` are the shapes of the tokens from the phrase's start on: MAX_PHRASE_LENGTH of them, or to the
    passage's end.
    """
    first = shapes[0]
    found: tuple[int, ...] = ()
    if first in PHRASE_STARTS:
        for length in PHRASE_LENGTHS:
            following = shapes[:length]
            if len(following) < length:
                break
            found += PHRASE_CUES.get(" ".join(following), ())
            if length == 3:
                found += PHRASE_CUES.get(f"{following[0]} * {following[2]}", ())
    if first in PAST_AUXILIARIES:
        following = shapes[1:3]
        if following and (following[0].endswith("ed") or (following[0] == "been" and len(following) > 1
                                                           and following[1].endswith("ed"))):
            found += (PAST,)
    return found


def scoped_words(text: str) -> str:
    """The passage's words, lower-cased, with each word inside a negation's scope marked `not_<word>`."""
    return read_cues(text).scoped_words


def cue_counts(text: str) -> np.ndarray:
    """One row of cue features for a passage (see CUE_NAMES): log counts, pair counts, negated cues."""
    return read_cues(text).cues
