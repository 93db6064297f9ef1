import pytest

from pipeline.classify import LexicalClassifier, load_lexicon, normalise_for_matching
from pipeline.classify.text import annotated, lemmatise, readable_terms
from pipeline.config import Settings
from pipeline.coverage import classify_document
from pipeline.extract.text import parse_text
from pipeline.segment import Segmenter
from pipeline.training import REPO
from pipeline.types import Passage, Signal, Status, assemble_document


@pytest.fixture(scope="module")
def classifier(reference_set):
    return LexicalClassifier().fit(reference_set.items)


def document_from_text(text, name="doc.txt"):
    blocks, pages = parse_text(text)
    return assemble_document(name=name, path=name, sha256="0" * 64, page_count=pages, blocks=blocks, extractor="t")


def passages_from_text(text, name="doc.txt"):
    return Segmenter().segment(document_from_text(text, name))


def classified(classifier, text):
    """The matches and verdicts of a one-document text, as a map makes them."""
    document = document_from_text(text)
    return classify_document(document, Segmenter().segment(document), classifier, classifier.items_, Settings())


def predict(classifier, text):
    return classified(classifier, text)[0]


def best(matches, item_id, signal=None):
    scores = [m.score for m in matches if m.item_id == item_id and (signal is None or m.signal is signal)]
    return max(scores, default=0.0)


def test_normalise_folds_places_case_punctuation_and_hyphens():
    assert normalise_for_matching("South Ayrshire's re-orientate, THE LOCAL AUTHORITY!") == \
        "scotlands reorientate scotland"


def test_quote_found_across_line_break_with_hyphen_split_and_scotland_for_south_ayrshire(classifier):
    text = ("In our plan we repeat the call: Scotland must limit the num-\nber of moves that children "
            "experience and support carers to con-\ntinue to care.")
    matches = predict(classifier, text)
    quote = [m for m in matches if m.item_id == "CARE-6" and m.signal is Signal.QUOTE]
    assert quote and quote[0].score >= 0.95
    assert "limit the number of moves" in quote[0].matched


def test_paraphrase_scores_on_tfidf_not_quote(classifier):
    matches = predict(classifier, "Brothers and sisters should stay together: the presumption must be implemented "
                                  "and monitored for every sibling group.")
    assert best(matches, "CARE-3", Signal.QUOTE) == 0.0
    assert best(matches, "CARE-3", Signal.TFIDF) > 0.3
    top = max(matches, key=lambda m: m.score)
    assert top.item_id == "CARE-3" and "brother" in top.matched


def test_short_fragment_is_not_a_quotation(classifier):
    matches = predict(classifier, "South Ayrshire must ensure that")
    assert not [m for m in matches if m.signal is Signal.QUOTE]


def test_unrelated_text_matches_nothing(classifier):
    matches, coverages = classified(classifier, "The bin collection timetable changes in May. Garden waste permits "
                                                "cost 40 pounds for the year.")
    assert matches == [] and all(c.status is Status.MISSING for c in coverages)


def test_classification_is_deterministic_and_in_passage_order(classifier):
    text = ("Children must not be placed in prison like settings for want of somewhere else to go.\n\nFoster carers "
            "must feel valued, cared for and supported to care for the children living with them.")
    first, second = classified(classifier, text), classified(classifier, text)
    assert first == second
    starts = [int(m.passage_id.rsplit(":", 1)[1].split("-")[0]) for m in first[0]]
    assert starts == sorted(starts)


def test_empty_inputs():
    with pytest.raises(ValueError):
        LexicalClassifier().fit([])


def test_no_passages_give_no_matches_and_every_item_missing(classifier):
    document = document_from_text("x")
    matches, coverages = classify_document(document, [], classifier, classifier.items_, Settings())
    assert matches == [] and len(coverages) == 68 and all(c.status is Status.MISSING for c in coverages)


def test_match_validates_itself():
    from pipeline.types import Match
    with pytest.raises(ValueError):
        Match(passage_id="p", item_id="CARE 2", score=0.5, signal=Signal.TFIDF, matched="")  # not an id
    assert Match(passage_id="p", item_id="CARE-23", score=0.5, signal=Signal.TFIDF, matched="").item_id == "CARE-23"
    with pytest.raises(ValueError):
        Match(passage_id="p", item_id="CARE-2", score=1.5, signal=Signal.TFIDF, matched="")
    with pytest.raises(ValueError):
        Passage(id="p", doc="d", page=1, start=5, end=5, heading="", text="x")


def test_lexicon_takes_the_longest_phrase_and_reads_documents_wording(tmp_path):
    path = tmp_path / "lexicon.yaml"
    path.write_text("version: t\nconcepts:\n"
                    "  c_residential: [residential care, children's house]\n"
                    "  c_care: [care]\n"
                    "  c_hearing: [Children's Hearings]\n", encoding="utf-8")
    lexicon = load_lexicon(path)

    def concepts_in(text):
        return list(lexicon.phrases_found(lemmatise(normalise_for_matching(text))))

    assert concepts_in("Residential care homes") == ["c_residential"]  # not c_care as well
    assert concepts_in("care in residential settings") == ["c_care"]
    assert concepts_in("Two children's houses and the Children's Hearings") == ["c_residential", "c_hearing"]
    assert concepts_in("the hearing aid") == []
    assert annotated("residential care", lexicon.phrases_found("residential care")) == "residential care c_residential"
    assert lexicon.phrases_found(lemmatise(normalise_for_matching("Children's Houses, a children's house and "
                                                                   "residential care"))) == {
        "c_residential": ("childrens house", "residential care")}


def test_readable_terms_show_the_passages_words_not_concept_tokens_or_function_words():
    phrases = {"c_sibling": ("brother and sister",), "c_hearing": ("childrens hearing", "panel")}
    terms = ["c_sibling", "to and", "sister", "need c_sibling", "c_hearing c_sibling", "c_hearing", "to placement",
             "stay placement", "they", "home"]
    assert readable_terms(terms, phrases, limit=4) == [
        "brother and sister",  # the concept as the passage says it; "to and" is only function words
        # "sister" was shown already; bigrams with a concept token join words that are not adjacent
        "childrens hearing / panel",
        "placement",  # "to" trimmed
        "stay placement",  # adds "stay"; the limit stops before "they" and "home"
    ]
    assert readable_terms(["c_unknown", "care"], {}, limit=6) == ["c_unknown", "care"]


def test_shipped_lexicon_gives_every_concept_a_usable_phrase():
    lexicon = load_lexicon(REPO / "reference" / "lexicon" / "domain.yaml")
    assert len(set(lexicon.concept_of_phrase.values())) == len(lexicon.order)


def test_labelled_text_is_read_like_extracted_text():
    """Gold and training texts are not repaired by extraction: ligatures, odd spaces and hyphens, and accents
    must not split or hide words ("beneﬁt" must not become "bene t")."""
    assert (normalise_for_matching("Beneﬁt ﬂexible, South\u00a0Ayrshire must re\u2011orientate; café naïve")
            == "benefit flexible scotland must reorientate cafe naive")


def test_tfidf_rows_from_counted_terms_are_the_vectorizers_own_bit_for_bit(trained_classifier):
    """The item, relevance and domain models' rows come from one count of each passage's terms: the same
    values as each vectorizer's transform, to the last bit (so no verdict can move)."""
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer

    from pipeline.classify.vectorize import CountedTerms

    model = trained_classifier.model_
    paragraphs = [p for path in sorted((REPO / "corpora" / "sample").iterdir())
                  for p in path.read_text(encoding="utf-8").split("\n\n")]
    prepared = [model.lexical_.prepare(text) for text in paragraphs + ["", "x", "the the the", "Kinship carers."]]
    vectorizers = (model.words_, trained_classifier.relevance_.vectorizer_, trained_classifier.domain_.vectorizer_)
    counted = CountedTerms(vectorizers, prepared)
    for vectorizer in vectorizers:
        fast, slow = counted.rows_for(vectorizer), vectorizer.transform(prepared)
        assert fast.shape == slow.shape and fast.dtype == slow.dtype
        for part in ("indptr", "indices", "data"):
            assert np.array_equal(getattr(fast, part), getattr(slow, part)), part
    other = TfidfVectorizer(token_pattern=r"[a-z]+").fit(prepared)
    assert counted.rows_for(other) is None  # split otherwise: it transforms the texts itself
