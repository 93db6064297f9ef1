from collections.abc import Sequence

import pytest

from pipeline.segment import LIST_GROUP_CHARS, MAX_CHARS, Segmenter, list_group
from pipeline.types import Block, BlockKind, assemble_document


@pytest.fixture(scope="module")
def segmenter():
    return Segmenter()


def document(*blocks):
    return assemble_document(name="doc.txt", path="doc.txt", sha256="0" * 64, page_count=3, blocks=list(blocks),
                             extractor="test")


def test_empty_document_gives_no_passages(segmenter):
    assert segmenter.segment(document()) == []


def test_paragraph_is_one_passage_with_heading_path_page_and_span(segmenter):
    doc = document(Block("Regulation", 1, BlockKind.HEADING, level=1),
                   Block("24. Core Principles", 2, BlockKind.HEADING, level=2),
                   Block("Inspection must change. It must listen to children.", 2))
    [passage] = segmenter.segment(doc)
    assert passage.heading == "Regulation › 24. Core Principles"
    assert passage.page == 2 and passage.doc == doc.sha256
    assert doc.text[passage.start:passage.end] == passage.text
    assert passage.id == f"{doc.sha256}:{passage.start}-{passage.end}"  # document id plus span: stable


def test_sibling_heading_replaces_the_previous_one(segmenter):
    doc = document(Block("Part A", 1, BlockKind.HEADING, level=1), Block("1. First", 1, BlockKind.HEADING, level=2),
                   Block("Text one.", 1), Block("2. Second", 1, BlockKind.HEADING, level=2), Block("Text two.", 1),
                   Block("Part B", 1, BlockKind.HEADING, level=1), Block("Text three.", 1))
    assert [p.heading for p in segmenter.segment(doc)] == ["Part A › 1. First", "Part A › 2. Second", "Part B"]


def test_long_paragraph_is_cut_into_sentence_windows(segmenter):
    sentences = [f"Sentence number {n} says something about family support in the community." for n in range(10)]
    doc = document(Block(" ".join(sentences), 1))
    passages = segmenter.segment(doc)
    assert len(passages) == 4  # windows of three sentences
    assert passages[0].text == " ".join(sentences[:3])
    for passage in passages:
        assert doc.text[passage.start:passage.end] == passage.text
        assert len(passage.text) <= MAX_CHARS


def test_bullets_keep_their_lead_in_and_short_items_are_grouped(segmenter):
    long_item = ("Spending time in Secure Care must be as short as possible in order to avoid institutionalisation "
                 "and the harm it does.")
    doc = document(Block("The Promise recommends steps, including:", 1),
                   Block("Improving continuity of carers", 1, BlockKind.LIST_ITEM),
                   Block("Relationship-focussed inspections", 1, BlockKind.LIST_ITEM),
                   Block(long_item, 1, BlockKind.LIST_ITEM),
                   Block("A closing paragraph.", 1))
    passages = segmenter.segment(doc)
    assert [p.text for p in passages] == [
        "The Promise recommends steps, including:",
        "Improving continuity of carers\nRelationship-focussed inspections",
        long_item,
        "A closing paragraph.",
    ]
    assert passages[1].lead_in == passages[2].lead_in == "The Promise recommends steps, including:"
    assert passages[3].lead_in == ""


def test_headers_and_footers_never_become_passages(segmenter):
    doc = document(Block("Council Plan 2025", 1, BlockKind.HEADER), Block("Real content here.", 1),
                   Block("Page 1 of 3", 1, BlockKind.FOOTER))
    assert [p.text for p in segmenter.segment(doc)] == ["Real content here."]


def test_a_heading_is_never_a_passage_however_long_it_is_but_heads_the_passages_under_it(segmenter):
    """Issue 12: a bare heading covered items on its own; it is context for the passages under it."""
    heading = "The quality of relationships in residential settings must be prioritised"
    doc = document(Block(heading, 1, BlockKind.HEADING, level=1), Block("Body text under it.", 1))
    [passage] = segmenter.segment(doc)
    assert passage.text == "Body text under it." and passage.heading == heading


def test_a_document_of_headings_alone_has_no_passages(segmenter):
    doc = document(Block("4.1 Listening to care experienced young people", 1, BlockKind.HEADING, level=2),
                   Block("What the service has done since the last inspection", 1, BlockKind.HEADING, level=2))
    assert segmenter.segment(doc) == []


# --- paragraphs longer than spaCy reads in one go (issue 11: E088 crashed the run) ---------------------

def sentence_paragraph(length: int) -> str:
    """Numbered sentences up to `length` characters, so a passage can be checked to hold whole sentences."""
    sentences, size, number = [], 0, 0
    while size < length:
        sentence = f"Sentence {number} says that brothers and sisters should stay together."
        sentences.append(sentence)
        size += len(sentence) + 1
        number += 1
    return " ".join(sentences)


def check_spans_and_whole_sentences(doc, passages):
    for passage in passages:
        assert doc.text[passage.start:passage.end] == passage.text
        assert passage.text.startswith("Sentence ") and passage.text.endswith("together."), passage.text[:80]


def test_a_paragraph_over_a_million_characters_is_cut_into_windows_not_a_crash(segmenter):
    text = sentence_paragraph(1_500_000)
    doc = document(Block("Heading", 1, BlockKind.HEADING, level=1), Block(text, 2))
    passages = segmenter.segment(doc)
    check_spans_and_whole_sentences(doc, passages)
    assert sum(passage.text.count("Sentence ") for passage in passages) == text.count("Sentence ")
    assert {passage.page for passage in passages} == {2}


def test_pieces_fed_to_spacy_stay_under_its_limit_and_offsets_stay_right():
    segmenter = Segmenter()
    segmenter.nlp.max_length = 2_000  # a small limit makes the cutting visible on a small paragraph
    text = sentence_paragraph(20_000)
    doc = document(Block("Before.", 1), Block(text, 1))
    passages = segmenter.segment(doc)
    check_spans_and_whole_sentences(doc, passages[1:])
    assert sum(passage.text.count("Sentence ") for passage in passages) == text.count("Sentence ")


def test_a_long_paragraph_without_spaces_or_sentence_ends_is_still_segmented():
    segmenter = Segmenter()
    segmenter.nlp.max_length = 2_000
    text = "x" * 9_999
    doc = document(Block(text, 1))
    passages = segmenter.segment(doc)
    assert "".join(passage.text for passage in passages) == text
    for passage in passages:
        assert doc.text[passage.start:passage.end] == passage.text


# --- list items read in linear time (issue 11: 100k DOCX paragraphs took minutes in the parent) ------

class CountingBlocks(Sequence):
    """Blocks that count how many of them are read, whether one by one or as a slice."""

    def __init__(self, blocks):
        self.blocks = blocks
        self.read = 0

    def __len__(self):
        return len(self.blocks)

    def __getitem__(self, index):
        found = self.blocks[index]
        self.read += len(found) if isinstance(index, slice) else 1
        return found


def test_grouping_list_items_reads_a_bounded_number_of_blocks_per_item():
    blocks = CountingBlocks([Block(f"Item {n}", 1, BlockKind.LIST_ITEM if n % 2 else BlockKind.PARAGRAPH)
                             for n in range(20_000)])
    groups = [list_group(blocks, index) for index in range(1, len(blocks), 2)]
    assert all(len(group) == 1 for group in groups)
    assert blocks.read <= 3 * len(blocks), "each list item copied the rest of the document"


def test_short_list_items_are_still_grouped_up_to_the_limit():
    blocks = [Block("Short item", 1, BlockKind.LIST_ITEM) for _ in range(100)]
    group = list_group(blocks, 0)
    assert len(group) == LIST_GROUP_CHARS // len("Short item")
