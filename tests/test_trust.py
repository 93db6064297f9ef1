"""Verdicts a reviewer can trust (issue 12): nothing covered where nothing is said, headings are context,
`eval` and `map` agree, and a missing item names its closest call. These use the map's default classifier."""

import dataclasses

import pytest

from pipeline.config import Settings
from pipeline.coverage import classify_document
from pipeline.evaluate import LabelledPassage, document_verdicts
from pipeline.extract import extract_file
from pipeline.extract.text import parse_text
from pipeline.segment import Segmenter
from pipeline.training import DEFAULT_LABELLED_DIR, DEFAULT_LEXICON, load_training_data
from pipeline.types import Status, assemble_document

pytestmark = pytest.mark.slow  # they need the trained model

#: Off-topic text in several registers, written for this test (not in any training set), several of them using
#: the items' words in other senses.
OFF_TOPIC = {
    "roads.txt": """Carriageway Resurfacing Programme 2026/27

The Council will resurface 38 kilometres of the A and B road network this year. Priority is set by the
condition survey: sections scoring red on the Road Condition Index are treated first, then amber sections on
bus routes. Our duty of care to road users means that defects over 40 mm deep are made safe within 24 hours.

Residents told us through the annual survey that they want fewer temporary repairs. Listening to residents,
we have moved budget from patching to planned resurfacing, which lasts ten to fifteen years.

Contractors are appointed through the Scotland Excel framework. Performance is reviewed quarterly against
the contract's key performance indicators, and data on every repair is published on the open data portal.
""",
    "news.html": """<html><body><article><h1>United edge derby in late drama</h1>
<p>A header in the 89th minute gave the visitors a 2-1 win on Saturday, lifting them to third in the table.
The manager praised the character of a young squad after a week in which two senior players were injured.</p>
<p>"The relationship between the players and the supporters is special," he said. "They stayed with us when
we went behind, and the lads responded." The club's academy graduates now make up half the first team.</p>
<p>The hosts, who have a game in hand, face a tough trip to the league leaders next weekend.</p>
</article></body></html>""",
    "encyclopaedia.md": """# Loch Lomond

Loch Lomond is a freshwater loch in Scotland, crossing the Highland Boundary Fault. It is 36 kilometres long
and between 1 and 8 kilometres wide, with a surface area of 71 square kilometres, the largest inland stretch
of water in Great Britain by surface area.

The loch contains some thirty islands. Inchmurrin, the largest, has been inhabited since at least the early
medieval period; a monastery founded there in the seventh century was abandoned before the Reformation.

Since 2002 the loch has formed part of the Loch Lomond and The Trossachs National Park, whose authority
regulates moorings, speed limits and camping on the shores between March and September.
""",
    "software.md": """## Installing the client

The client library supports Python 3.10 and later. Install it with pip, then create a configuration file
with your API key. Each child process inherits the parent's connection pool, so call `reset()` after a fork.

Requests are retried up to three times with exponential back-off. A 429 response means the rate limit was
reached: wait for the number of seconds in the Retry-After header before sending the next request.

Release 4.2 drops support for the legacy v1 endpoints and adds streaming responses for large exports.
""",
}


def document(name, text, folder=None):
    """The Document a map would read: through the extractor of the file's type when a folder is given."""
    if folder is not None:
        path = folder / name
        path.write_text(text, encoding="utf-8")
        return extract_file(path)
    blocks, pages = parse_text(text)
    return assemble_document(name=name, path=name, sha256="0" * 64, page_count=pages, blocks=blocks, extractor="t")


def verdicts(classifier, doc):
    passages = Segmenter().segment(doc)
    return passages, classify_document(doc, passages, classifier, classifier.items_, Settings())[1]


@pytest.mark.parametrize("name", sorted(OFF_TOPIC))
def test_off_topic_documents_cover_nothing(trained_classifier, name, tmp_path):
    _, coverages = verdicts(trained_classifier, document(name, OFF_TOPIC[name], tmp_path))
    assert [c.item.id for c in coverages if c.status is Status.COVERED] == []


def test_a_document_made_only_of_headings_covers_nothing(trained_classifier):
    text = "\n\n".join(["# Listening to care experienced young people", "## Brothers and sisters stay together",
                        "## What the service has done since the last inspection", "# Keeping The Promise"])
    passages, coverages = verdicts(trained_classifier, document("headings.md", text))
    assert passages == [] and all(c.status is Status.MISSING for c in coverages)


RELEVANT = ("Brothers and sisters will live together wherever it is safe. Where a sibling group has to be "
            "separated, the social worker will record why and arrange family time every week, and the decision "
            "is reviewed at every looked after review so that children are brought back together as soon as "
            "they can be.")


def test_a_heading_above_a_relevant_paragraph_does_not_change_the_evidence(trained_classifier):
    bare = verdicts(trained_classifier, document("bare.md", RELEVANT))[1]
    headed = verdicts(trained_classifier, document("headed.md", "# Our promise to brothers and sisters\n\n"
                                                                + RELEVANT))[1]
    for plain, with_heading in zip(bare, headed, strict=True):
        assert plain.status is with_heading.status
        assert [(e.text, e.score) for e in plain.evidence] == [(e.text, e.score) for e in with_heading.evidence]
    care3 = next(c for c in headed if c.item.id == "CARE-3")
    assert care3.status is Status.COVERED and care3.evidence[0].heading == "Our promise to brothers and sisters"


def filler_paragraphs():
    """The off-topic fixtures' paragraphs of plain prose (no headings, no markup)."""
    return [paragraph.strip().replace("\n", " ") for name in ("roads.txt", "encyclopaedia.md", "software.md")
            for paragraph in OFF_TOPIC[name].split("\n\n") if len(paragraph.split()) > 20]


def test_a_long_document_about_something_else_is_not_covered_by_scattered_care_paragraphs(trained_classifier):
    """A book that turns to brothers and sisters now and then: each such paragraph reads as care text on its
    own (and there are enough of them for the document gate), but the stretch around each is about something
    else, so none is evidence; the same paragraphs among care text are."""
    filler = filler_paragraphs() * 4
    scattered = [paragraph for at, text in enumerate(filler)
                 for paragraph in ([RELEVANT, text] if at % 8 == 4 else [text])]
    assert scattered.count(RELEVANT) >= 3 and trained_classifier.rule.domain_window == 2
    passages, coverages = verdicts(trained_classifier, document("book.txt", "\n\n".join(scattered)))
    scores = trained_classifier.score([p.text for p in passages]).scores
    care_rows = [row for row, passage in enumerate(passages) if passage.text == RELEVANT]
    assert (scores.domain[care_rows] >= trained_classifier.rule.domain_at).all()  # alone: in the domain
    assert not trained_classifier.rule.in_domain_stretch(scores)[care_rows].any()
    assert [c.item.id for c in coverages if c.status is Status.COVERED] == []
    care3 = next(c for c in coverages if c.item.id == "CARE-3")
    assert care3.near_miss.text == RELEVANT and care3.near_miss.score > care3.threshold
    assert care3.near_miss_reason == "the passages around it are not about children's care"
    without_stretch = dataclasses.replace(trained_classifier.rule, domain_window=0)
    assert without_stretch.item_verdicts(scores)[[i.id for i in trained_classifier.items_].index("CARE-3")].status \
        is Status.COVERED  # what the rule said before the stretch
    together = verdicts(trained_classifier, document("plan.txt", "\n\n".join([RELEVANT] * 3 + filler[:4])))[1]
    assert next(c for c in together if c.item.id == "CARE-3").status is Status.COVERED


def test_eval_and_map_give_the_same_verdicts_for_the_same_passages(trained_classifier, reference_set):
    data = load_training_data(DEFAULT_LABELLED_DIR, reference_set, DEFAULT_LEXICON)
    segmenter = Segmenter()

    def read_whole(text):  # a paragraph the map reads as one passage (longer ones are cut into windows)
        return [passage.text for passage in segmenter.segment(document("one.txt", text))] == [text]

    gold = [p for p in data.real_register if 200 < len(p.text) < 700 and "\n" not in p.text and read_whole(p.text)]
    gold = gold[:40]
    doc = document("gold.txt", "\n\n".join(p.text for p in gold))
    passages, coverages = verdicts(trained_classifier, doc)
    assert [p.text for p in passages] == [p.text for p in gold]  # the map reads exactly the gold texts
    decisions, _ = trained_classifier.decide([p.text for p in gold])
    matches, _ = classify_document(doc, passages, trained_classifier, trained_classifier.items_, Settings())
    rule = trained_classifier.rule
    covered_in_map = {(m.passage_id, m.item_id) for m in matches
                      if m.signal.value == "quote" or m.score >= rule.covered_at[0]}
    covered_in_eval = {(passages[row].id, reference_set.items[column].id)
                       for row, column in zip(*decisions.nonzero(), strict=True)}
    assert covered_in_map == covered_in_eval
    as_one_document = [LabelledPassage(id=p.id, text=p.text, labels=p.labels, doc="gold.txt") for p in gold]
    scores = trained_classifier.score([p.text for p in gold]).scores
    in_eval = document_verdicts(as_one_document, scores, rule)["gold.txt"]
    assert [c.status is Status.COVERED for c in coverages] == in_eval.tolist()


def test_a_missing_item_names_its_best_near_miss(trained_classifier):
    _, coverages = verdicts(trained_classifier, document("plan.md", RELEVANT))
    missing = [c for c in coverages if c.status is Status.MISSING]
    assert missing and all(c.near_miss is not None and c.near_miss.page == 1 for c in missing)
    assert all(c.threshold is not None and c.margin < 0 for c in missing)
