"""Figures: readable at a glance (titles, labelled axes, every item id, colour-blind-safe colours), deterministic."""

import io
import re

import numpy as np
import pytest
from PIL import Image

from pipeline.palette import STATUS_COLOURS
from pipeline.plots import (
    DOCUMENT_LABEL_CHARS,
    HEATMAP_TITLE,
    PER_DOCUMENT_MAX,
    coverage_by_foundation,
    coverage_by_item,
    coverage_heatmap,
    figure_bytes,
    run_figures,
)
from pipeline.types import Coverage, Evidence, Signal, Status
from tests.report_store import doc_id, make_store

FOUNDATIONS = ["Voice", "Family", "Care", "People", "Scaffolding", "Inspection and Regulation"]


def fixture_coverages(reference_set, documents=("plan.txt", "roads.txt")):
    """plan.txt covers every Voice item and CARE-3, is partial on CARE-4; roads.txt covers nothing."""
    evidence = (Evidence(passage_id="p#1", page=1, heading="", text="t", score=0.9, signal=Signal.QUOTE, matched="t"),)
    coverages = []
    for document in documents:
        for item in reference_set.items:
            status = Status.MISSING
            if document == documents[0] and (item.group == "Voice" or item.id == "CARE-3"):
                status = Status.COVERED
            elif document == documents[0] and item.id == "CARE-4":
                status = Status.PARTIAL
            coverages.append(Coverage(doc=document, item=item, status=status,
                                      score=0.0 if status is Status.MISSING else 0.9,
                                      evidence=() if status is Status.MISSING else evidence))
    return coverages


def figure_texts(figure):
    return [text.get_text() for text in figure.findobj(lambda artist: hasattr(artist, "get_text"))]


def pixel_colour(figure, axes, x, y):
    """The RGB colour the saved PNG has at data point (x, y) of `axes`."""
    image = np.asarray(Image.open(io.BytesIO(figure_bytes(figure, "png"))).convert("RGB"))
    figure.canvas.draw()
    display_x, display_y = axes.transData.transform((x, y))
    return tuple(int(v) for v in image[image.shape[0] - int(round(display_y)), int(round(display_x))])


def hex_rgb(colour):
    return tuple(int(colour.lstrip("#")[i:i + 2], 16) for i in (0, 2, 4))


def test_heatmap_labels_every_item_grouped_by_foundation(reference_set):
    figure = coverage_heatmap(fixture_coverages(reference_set))
    axes = figure.axes[0]
    item_labels = [label.get_text() for label in axes.get_xticklabels()]
    assert sorted(item_labels) == sorted(item.id for item in reference_set.items)
    assert item_labels[:6] == [f"VOICE-{n}" for n in range(1, 7)] and item_labels[-1] == "IP-13"
    assert all(label.get_rotation() == 90 and label.get_fontsize() >= 7.5 for label in axes.get_xticklabels())
    assert [label.get_text() for label in axes.get_yticklabels()] == ["plan.txt", "roads.txt"]
    assert axes.get_xlabel() and axes.get_ylabel() == "Document"
    texts = figure_texts(figure)
    assert HEATMAP_TITLE in texts
    assert all(foundation in texts for foundation in FOUNDATIONS)
    assert {"covered", "partial", "missing"} <= set(texts)  # the legend


def test_heatmap_is_wide_enough_for_legible_item_ids(reference_set):
    figure = coverage_heatmap(fixture_coverages(reference_set))
    width, height = Image.open(io.BytesIO(figure_bytes(figure, "png"))).size
    axes_width_px = figure.axes[0].get_window_extent().width
    assert axes_width_px / len(reference_set.items) >= 25  # pixels per item column at the saved resolution
    assert width > height


def test_heatmap_cells_use_the_colour_blind_safe_status_colours(reference_set):
    figure = coverage_heatmap(fixture_coverages(reference_set))
    axes = figure.axes[0]
    ids = [label.get_text() for label in axes.get_xticklabels()]
    expected = {("CARE-3", 0): Status.COVERED, ("CARE-4", 0): Status.PARTIAL, ("CARE-5", 0): Status.MISSING,
                ("VOICE-1", 1): Status.MISSING, ("VOICE-1", 0): Status.COVERED}
    for (item_id, row), status in expected.items():
        colour = pixel_colour(figure, axes, ids.index(item_id) + 0.5, row + 0.5)
        assert np.abs(np.array(colour) - hex_rgb(STATUS_COLOURS[status])).max() <= 3, (item_id, row, colour)


def test_foundation_figure_shows_the_share_covered_per_foundation(reference_set):
    figure = coverage_by_foundation(fixture_coverages(reference_set))
    axes = figure.axes[0]
    foundations = [label.get_text().split("\n(")[0].replace("\n", " ") for label in axes.get_xticklabels()]
    assert foundations == FOUNDATIONS
    cells = [text.get_text() for text in axes.texts]
    assert cells[:6] == ["6/6\n100%", "0/8\n0%", "1/22\n5%", "0/8\n0%", "0/11\n0%", "0/13\n0%"]
    assert cells[6:] == ["0/6\n0%", "0/8\n0%", "0/22\n0%", "0/8\n0%", "0/11\n0%", "0/13\n0%"]
    assert axes.images[0].get_cmap().name == "cividis"
    assert axes.get_xlabel() and axes.get_ylabel() == "Document"
    assert "share of the foundation's items covered" in figure_texts(figure)


@pytest.fixture
def figures_of(reference_set, tmp_path):
    """run_figures of a store holding the fixture's documents."""
    stores = []

    def draw(documents=("plan.txt", "roads.txt")):
        store = make_store(tmp_path / f"run-{len(stores)}.sqlite", fixture_coverages(reference_set, documents))
        stores.append(store)
        return run_figures(store, reference_set)

    yield draw
    for store in stores:
        store.close()


def test_figures_are_byte_identical_when_redrawn(figures_of):
    first, second = figures_of(), figures_of()
    assert set(first) == {"coverage_by_item.png", "coverage_heatmap.png", "coverage_heatmap.svg",
                          "coverage_by_foundation.png"}
    for name in first:
        assert first[name] == second[name], name


def test_svg_keeps_text_as_text_and_carries_no_date(figures_of, reference_set):
    svg = figures_of()["coverage_heatmap.svg"].decode("utf-8")
    for item in reference_set.items:
        assert f">{item.id}<" in svg, item.id
    assert HEATMAP_TITLE in svg and "plan.txt" in svg and doc_id("plan.txt") not in svg  # rows named, not ids
    assert "<dc:date>" not in svg and not re.search(r"20\d\d-\d\d-\d\dT", svg)


def test_png_has_no_software_stamp(figures_of):
    for name, data in figures_of().items():
        if name.endswith(".png"):
            assert data.startswith(b"\x89PNG") and b"matplotlib" not in data.lower(), name


def test_item_figure_stacks_the_documents_of_each_status_per_item(reference_set):
    counts = {"VOICE-1": {"covered": 3, "partial": 1, "missing": 6}, "IP-13": {"missing": 10}}
    figure = coverage_by_item(counts, reference_set, 10)
    axes = figure.axes[0]
    assert [label.get_text() for label in axes.get_yticklabels()][:2] == ["VOICE-1", "VOICE-2"]
    covered, partial, missing = (container.patches for container in axes.containers)
    assert (covered[0].get_width(), partial[0].get_width(), missing[0].get_width()) == (3, 1, 6)
    assert partial[0].get_x() == 3 and missing[-1].get_width() == 10
    assert axes.get_xlim() == (0, 10)


def test_a_large_run_gets_figures_sized_for_their_content_not_a_row_per_document(figures_of):
    """Regression: 1,000 documents gave a 17.5 MB heatmap PNG; past a page of rows, documents are counted."""
    small = figures_of()
    large = figures_of(tuple(f"doc-{n:03d}.txt" for n in range(PER_DOCUMENT_MAX + 1)))
    assert set(large) == {"coverage_by_item.png", "coverage_by_foundation.png"}
    size = Image.open(io.BytesIO(large["coverage_by_item.png"])).size
    assert size == Image.open(io.BytesIO(small["coverage_by_item.png"])).size
    assert all(len(data) < 1_000_000 for data in large.values())


def test_long_document_names_are_shortened_on_the_axis(reference_set):
    long_name = "a" * 200 + ".pdf"
    figure = coverage_heatmap(fixture_coverages(reference_set, documents=(long_name, "b.txt")))
    label = figure.axes[0].get_yticklabels()[0].get_text()
    assert len(label) == DOCUMENT_LABEL_CHARS and label.endswith("…")


@pytest.mark.parametrize("draw", [coverage_heatmap, coverage_by_foundation])
def test_a_run_without_documents_gets_a_figure_that_says_so(draw):
    figure = draw([])
    assert any("No document could be mapped" in text for text in figure_texts(figure))
    assert figure_bytes(figure, "png").startswith(b"\x89PNG")


def test_many_documents_make_a_taller_figure_not_a_denser_one(reference_set):
    few = coverage_heatmap(fixture_coverages(reference_set, documents=("a", "b")))
    many_documents = tuple(f"doc-{n:02d}.txt" for n in range(30))
    many = coverage_heatmap(fixture_coverages(reference_set, documents=many_documents))
    few_row = few.axes[0].get_window_extent().height / 2
    many_row = many.axes[0].get_window_extent().height / 30
    assert many_row == pytest.approx(few_row, rel=0.01)
