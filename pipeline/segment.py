"""Stage 2, segment: Document -> Passages the classifier can judge one at a time.

A passage should be small enough that a match points a reviewer at the right
sentences, and large enough to carry one idea with its context:
- a paragraph is one passage unless it is long; long paragraphs are cut into
  windows of a few sentences (spaCy's rule-based sentencizer);
- list items keep the sentence that introduced the list (`lead_in`), and short
  consecutive items are read together;
- headings are never passages, however long: a heading alone covers nothing, it is context for
  the passages under it, which carry it as their heading path (shown to the reviewer, not scored).

A passage is named by its document's id (the content sha256) and its character span, so its id is the
same in every run and under any file name.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from pipeline.types import Block, BlockKind, Document, Passage


@contextmanager
def torch_hidden() -> Iterator[None]:
    """Within the block, `import torch` fails (unless torch is loaded already), then works again.

    Rationale: spaCy's machine-learning library (thinc) imports torch whenever it is installed, to offer
    GPU models we never use (spacy.blank with rule-based parts). torch is installed for the zero-shot
    embedding model, and loading it in every process that segments would cost each worker some 200 MB
    and 4 s, and push it over the memory at which workers are replaced (pipeline/extract/worker.py).
    The embedding model imports torch itself, normally, when a run needs it.
    """
    hide = "torch" not in sys.modules
    if hide:
        sys.modules["torch"] = None  # a None entry makes the import raise ImportError
    try:
        yield
    finally:
        if hide and sys.modules.get("torch", ...) is None:
            del sys.modules["torch"]


with torch_hidden():
    import spacy
    from spacy.language import Language

#: Paragraphs up to this many sentences and characters stay whole.
MAX_SENTENCES = 4
MAX_CHARS = 900
#: Sentences per window when a paragraph is cut.
WINDOW_SENTENCES = 3
#: Consecutive short list items (each under LIST_SHORT_ITEM_CHARS) are read together up to this length;
#: longer items stand alone so that evidence points at the one item that matched.
LIST_GROUP_CHARS = 400
LIST_SHORT_ITEM_CHARS = 100
HEADING_PATH_SEPARATOR = " › "
#: Longest text handed to spaCy in one call. spaCy refuses a text over `nlp.max_length` (1,000,000 characters,
#: error E088), and one paragraph can be longer (a text file without blank lines, a PDF page run together), so
#: a longer paragraph is read in pieces; well under the limit, so a piece never costs much memory either.
SENTENCIZER_MAX_CHARS = 100_000
#: Where a piece may end: after a sentence end and the white space that follows it, where the sentencizer
#: would cut anyway; failing that, after white space; failing both, anywhere.
SENTENCE_END_CUT = re.compile(r"[.!?…][\"'”’)\]]*\s+")
WHITE_SPACE_CUT = re.compile(r"\s+")
LEADING_SPACE = re.compile(r"\s*")


def build_sentencizer() -> Language:
    """A blank English pipeline with the rule-based sentencizer: no model, nothing downloaded."""
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    return nlp


@dataclass
class Segmenter:
    """Cuts Documents into Passages; holds the spaCy pipeline so it is built once per run."""

    nlp: Language | None = None

    def __post_init__(self) -> None:
        if self.nlp is None:
            self.nlp = build_sentencizer()

    def segment(self, document: Document) -> list[Passage]:
        passages: list[Passage] = []
        headings: list[Block] = []
        lead_in = ""
        blocks = [block for block in document.blocks if block.kind not in (BlockKind.HEADER, BlockKind.FOOTER)]
        index = 0
        while index < len(blocks):
            block = blocks[index]
            if block.kind is BlockKind.HEADING:
                headings = [h for h in headings if h.level < block.level] + [block]
                lead_in = ""
                index += 1
                continue
            path = heading_path(headings)
            if block.kind is BlockKind.LIST_ITEM:
                group = list_group(blocks, index)
                passages.append(self.make_passage(document, passages, group, path, lead_in=lead_in))
                index += len(group)
                continue
            passages.extend(self.paragraph_passages(document, passages, block, path))
            lead_in = block.text if block.text.rstrip().endswith(":") else ""
            index += 1
        return passages

    def paragraph_passages(self, document: Document, passages: list[Passage], block: Block,
                           path: str) -> list[Passage]:
        """A paragraph whole, or cut into windows of sentences when it is long."""
        sentences = self.sentence_spans(block.text)
        if len(sentences) <= MAX_SENTENCES and len(block.text) <= MAX_CHARS:
            return [self.make_passage(document, passages, [block], path)]
        made: list[Passage] = []
        for first in range(0, len(sentences), WINDOW_SENTENCES):
            window = sentences[first:first + WINDOW_SENTENCES]
            start, end = window[0][0], window[-1][1]
            made.append(Passage(
                id=passage_id(document, block.start + start, block.start + end), doc=document.sha256,
                page=block.page, start=block.start + start, end=block.start + end, heading=path,
                text=block.text[start:end].strip(),
            ))
        return made

    def sentence_spans(self, text: str) -> list[tuple[int, int]]:
        """(start, end) of each sentence in `text`, read by spaCy in pieces short enough for it."""
        limit = min(SENTENCIZER_MAX_CHARS, self.nlp.max_length)
        return [(offset + sentence.start_char, offset + sentence.end_char)
                for offset, piece in text_pieces(text, limit)
                for sentence in self.nlp(piece).sents if sentence.text.strip()]

    @staticmethod
    def make_passage(document: Document, passages: list[Passage], blocks: list[Block], path: str, *,
                     lead_in: str = "") -> Passage:
        return Passage(id=passage_id(document, blocks[0].start, blocks[-1].end), doc=document.sha256,
                       page=blocks[0].page, start=blocks[0].start, end=blocks[-1].end, heading=path,
                       text="\n".join(block.text for block in blocks), lead_in=lead_in)


def text_pieces(text: str, limit: int) -> Iterator[tuple[int, str]]:
    """`text` as consecutive (offset, piece) pairs of at most `limit` characters, cut where a sentence ends.

    Each piece's offset is where it starts in `text`, so spans found in a piece
    map back to the paragraph by adding it. Text within the limit is one piece.
    """
    start = 0
    while len(text) - start > limit:
        end = cut_point(text, start, start + limit)
        yield start, text[start:end]
        start = LEADING_SPACE.match(text, end).end()  # space cut through belongs to neither piece
    if start < len(text):
        yield start, text[start:]


def cut_point(text: str, start: int, stop: int) -> int:
    """Where the piece text[start:stop] should end: the last sentence end in its second half, else the last space.

    Only the second half is searched, so every piece is at least half the limit
    long and the whole paragraph is scanned about once.
    """
    middle = start + (stop - start) // 2
    for pattern in (SENTENCE_END_CUT, WHITE_SPACE_CUT):
        ends = [match.end() for match in pattern.finditer(text, middle, stop)]
        if ends:
            return ends[-1]
    return stop


def list_group(blocks: Sequence[Block], index: int) -> list[Block]:
    """The list item at `index` and, if it is short, the short items after it that fit in one passage.

    Only the blocks that join the group (and the one that ends it) are read:
    slicing off the rest of the document for each item made a document of many
    list items quadratic.
    """
    group = [blocks[index]]
    size = len(blocks[index].text)
    if size >= LIST_SHORT_ITEM_CHARS:
        return group
    for following in range(index + 1, len(blocks)):
        block = blocks[following]
        if (block.kind is not BlockKind.LIST_ITEM or len(block.text) >= LIST_SHORT_ITEM_CHARS
                or size + len(block.text) > LIST_GROUP_CHARS):
            break
        group.append(block)
        size += len(block.text)
    return group


def heading_path(headings: list[Block]) -> str:
    return HEADING_PATH_SEPARATOR.join(heading.text for heading in headings)


def passage_id(document: Document, start: int, end: int) -> str:
    """A passage is named by its document's id (content sha256) and its span: stable across runs and renames."""
    return f"{document.sha256}:{start}-{end}"


def segment_documents(documents: list[Document], segmenter: Segmenter | None = None) -> list[Passage]:
    """Every document's passages, in document order."""
    segmenter = segmenter or Segmenter()
    return [passage for document in documents for passage in segmenter.segment(document)]
