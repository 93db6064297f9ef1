"""Figures of a run: documents per item by status, and for a small run the heatmap (documents x items).

Sized for their content, not the corpus: `coverage_by_item.png` (for each item, how many documents cover
it, partially cover it, miss it) has one bar per item whatever the number of documents. The heatmap and
the per-document foundation shares have a row per document, so they are drawn only for runs of at most
`PER_DOCUMENT_MAX` documents (a 1,000-row heatmap was a 17.5 MB PNG no one could read); a larger run gets
`coverage_by_foundation.png` as a distribution instead (per foundation, how many documents cover none,
some, most or all of its items), and the HTML index's paged heatmap for the rows.

Made for reading at a glance, in a report or on a slide: a title that says
what is shown, labelled axes, every item id legible (items are grouped by
framework and foundation, ids rotated, the figure sized to the number of
items and documents) and a colour-blind-safe palette (Okabe-Ito for status,
cividis for shares), with status also readable from position and legend.

Figures are drawn on a matplotlib Figure with the Agg canvas, never through
pyplot: no backend is switched globally, nothing needs a display, and nothing
happens at import. Saved files carry no date or software version and SVG ids
are salted with a constant, so the same run gives the same bytes.
"""

from __future__ import annotations

import io
import textwrap
from typing import TYPE_CHECKING

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import PercentFormatter

from pipeline.display import visible_controls
from pipeline.palette import STATUS_COLOURS, STATUS_ORDER, STATUS_RANK
from pipeline.types import Coverage, ReferenceItem, ReferenceSet, Status

if TYPE_CHECKING:
    from pipeline.run.store import RunStore

DPI = 150
#: Width of one item column and height of one document row in the heatmap, in inches.
HEATMAP_COLUMN_INCHES = 0.21
HEATMAP_ROW_INCHES = 0.32
#: Width of one foundation column and height of one document row in the per-foundation figure, in inches.
FOUNDATION_COLUMN_INCHES = 1.25
FOUNDATION_ROW_INCHES = 0.5
#: Document names longer than this are shortened in axis labels (the report and tables carry them in full).
DOCUMENT_LABEL_CHARS = 48
#: Approximate width of one label character at the tick font size, for sizing the left margin.
LABEL_CHAR_INCHES = 0.072
ITEM_FONT_SIZE = 8
#: Foundation names are wrapped at this many characters under their column.
FOUNDATION_LABEL_CHARS = 14
LABEL_FONT_SIZE = 9
TITLE_FONT_SIZE = 13
INK = "#1b1b1b"
SHARE_COLOURMAP = "cividis"
SVG_HASH_SALT = "promise-map"


def short_label(name: str, limit: int = DOCUMENT_LABEL_CHARS) -> str:
    """A document name for an axis: control and bidi characters shown as escapes (no font draws them), then cut."""
    name = visible_controls(name)
    return name if len(name) <= limit else name[: limit - 1] + "…"


def run_documents(coverages: list[Coverage]) -> list[str]:
    return list(dict.fromkeys(coverage.doc for coverage in coverages))


def document_labels(documents: list[str], names: dict[str, str] | None) -> list[str]:
    """Axis labels for documents (ids in a store's coverages): their names where known, shortened."""
    names = names or {}
    return [short_label(names.get(document, document)) for document in documents]


def grouped_items(coverages: list[Coverage]) -> list[tuple[str, str, list[ReferenceItem]]]:
    """(framework, foundation, items) in reference order: the column blocks of both figures."""
    groups: dict[tuple[str, str], list[ReferenceItem]] = {}
    for item in {coverage.item.id: coverage.item for coverage in coverages}.values():
        groups.setdefault((item.framework, item.group), []).append(item)
    return [(framework, group, items) for (framework, group), items in groups.items()]


def status_matrix(coverages: list[Coverage], documents: list[str], items: list[ReferenceItem]) -> np.ndarray:
    """Documents x items, 2 covered / 1 partial / 0 missing (an item a document was not assessed on counts as 0).

    An item a reviewer said does not apply is NaN: an empty cell, neither a gap nor coverage.
    """
    status_by_key = {(coverage.doc, coverage.item.id): coverage.status for coverage in coverages}
    ranks = np.array([[STATUS_RANK[status_by_key.get((document, item.id), Status.MISSING)] for item in items]
                      for document in documents], dtype=float)
    ranks[ranks < 0] = np.nan
    return ranks


def new_figure(width: float, height: float) -> Figure:
    figure = Figure(figsize=(width, height), dpi=DPI, facecolor="white")
    FigureCanvasAgg(figure)
    return figure


def empty_figure(title: str) -> Figure:
    """What a run with no readable document gets instead of an empty plot: a figure that says so."""
    figure = new_figure(8, 2.5)
    figure.text(0.5, 0.7, title, ha="center", va="center", fontsize=TITLE_FONT_SIZE, weight="bold", color=INK)
    figure.text(0.5, 0.4, "No document could be mapped in this run: see errors.csv for the files that failed and why.",
                ha="center", va="center", fontsize=LABEL_FONT_SIZE, color=INK)
    return figure


def left_margin(labels: list[str]) -> float:
    longest = max((len(label) for label in labels), default=10)
    return 0.9 + longest * LABEL_CHAR_INCHES


HEATMAP_TITLE = "Coverage of the reference items, by document"


def coverage_heatmap(coverages: list[Coverage], names: dict[str, str] | None = None,
                     short_names: dict[str, str] | None = None) -> Figure:
    """Documents (rows) x reference items (columns), each cell coloured by status; columns grouped by foundation.

    `names` maps a coverage's `doc` (a document id) to the name its row is labelled with; `short_names` a
    framework id to the label over its columns (the framework file's `short_name`).
    """
    documents = run_documents(coverages)
    labels = document_labels(documents, names)
    groups = grouped_items(coverages)
    items = [item for _, _, group_items in groups for item in group_items]
    if not documents or not items:
        return empty_figure(HEATMAP_TITLE)
    left, right, top, bottom = left_margin(labels), 0.4, 1.5, 1.5
    cells_width = len(items) * HEATMAP_COLUMN_INCHES
    cells_height = max(len(documents) * HEATMAP_ROW_INCHES, 0.6)
    width, height = left + cells_width + right, top + cells_height + bottom
    figure = new_figure(width, height)
    axes = figure.add_axes((left / width, bottom / height, cells_width / width, cells_height / height))

    colours = ListedColormap([STATUS_COLOURS[Status.MISSING], STATUS_COLOURS[Status.PARTIAL],
                              STATUS_COLOURS[Status.COVERED]])
    axes.pcolormesh(status_matrix(coverages, documents, items), cmap=colours,
                    norm=BoundaryNorm([-0.5, 0.5, 1.5, 2.5], colours.N), edgecolors="white", linewidth=0.6)
    axes.set_xlim(0, len(items))
    axes.set_ylim(len(documents), 0)  # first document at the top, as in the tables
    axes.set_xticks(np.arange(len(items)) + 0.5, labels=[item.id for item in items], rotation=90,
                    fontsize=ITEM_FONT_SIZE)
    axes.set_yticks(np.arange(len(documents)) + 0.5, labels=labels, fontsize=LABEL_FONT_SIZE)
    axes.tick_params(length=0)
    for spine in axes.spines.values():
        spine.set_visible(False)
    axes.set_xlabel("Reference item, grouped by framework and foundation", fontsize=LABEL_FONT_SIZE + 1)
    axes.set_ylabel("Document", fontsize=LABEL_FONT_SIZE + 1)
    label_column_groups(axes, groups, short_names or {})

    figure.text(left / width, 1 - 0.22 / height, HEATMAP_TITLE, fontsize=TITLE_FONT_SIZE, weight="bold",
                color=INK, va="top")
    figure.text(left / width, 1 - 0.55 / height,
                f"{len(documents)} document{'s' if len(documents) != 1 else ''} × {len(items)} items; "
                "a missing cell means the classifier found no passage, not proof of absence",
                fontsize=LABEL_FONT_SIZE, color=INK, va="top")
    figure.legend(handles=[Patch(facecolor=STATUS_COLOURS[status], edgecolor="#8c8c8c", label=status.value)
                           for status in STATUS_ORDER],
                  loc="upper right", bbox_to_anchor=(1 - right / width, 1 - 0.12 / height), ncols=3,
                  frameon=False, fontsize=LABEL_FONT_SIZE, title="status", title_fontsize=LABEL_FONT_SIZE)
    return figure


def label_column_groups(axes, groups: list[tuple[str, str, list[ReferenceItem]]], short_names: dict[str, str]) -> None:
    """Foundation names over their columns, framework names over those, and a rule between foundations."""
    start = 0
    framework_starts: dict[str, tuple[int, int]] = {}
    for framework, group, items in groups:
        end = start + len(items)
        if start:
            axes.axvline(start, color=INK, linewidth=1.6)
        axes.annotate(group, xy=((start + end) / 2, 1), xycoords=("data", "axes fraction"), xytext=(0, 4),
                      textcoords="offset points", ha="center", va="bottom", fontsize=LABEL_FONT_SIZE, weight="bold")
        first, _ = framework_starts.get(framework, (start, end))
        framework_starts[framework] = (first, end)
        start = end
    for framework, (first, end) in framework_starts.items():
        axes.annotate(short_names.get(framework, framework), xy=((first + end) / 2, 1),
                      xycoords=("data", "axes fraction"), xytext=(0, 19), textcoords="offset points",
                      ha="center", va="bottom", fontsize=LABEL_FONT_SIZE, style="italic")
        axes.annotate("", xy=(first + 0.1, 1), xytext=(end - 0.1, 1), xycoords=("data", "axes fraction"),
                      textcoords=("data", "axes fraction"), arrowprops={"arrowstyle": "-", "color": "#8c8c8c"},
                      annotation_clip=False)


def foundation_label(group: str, item_count: int) -> str:
    """A foundation's tick label, wrapped so neighbouring labels never run together; ends with its item count."""
    return "\n".join(textwrap.wrap(group, FOUNDATION_LABEL_CHARS) + [f"({item_count} items)"])


FOUNDATION_TITLE = "Share of items covered per foundation, by document"


def foundation_shares(coverages: list[Coverage], documents: list[str],
                      groups: list[tuple[str, str, list[ReferenceItem]]]) -> tuple[np.ndarray, np.ndarray]:
    """(covered counts, item counts), each documents x foundations."""
    status_by_key = {(coverage.doc, coverage.item.id): coverage.status for coverage in coverages}
    covered = np.array([[sum(status_by_key.get((document, item.id)) is Status.COVERED for item in items)
                         for _, _, items in groups] for document in documents], dtype=float)
    totals = np.array([[sum((document, item.id) in status_by_key for item in items) for _, _, items in groups]
                       for document in documents], dtype=float)
    return covered, totals


def coverage_by_foundation(coverages: list[Coverage], names: dict[str, str] | None = None) -> Figure:
    """Documents x foundations, each cell the share of the foundation's items the document covers ("4/6, 67%")."""
    documents = run_documents(coverages)
    labels = document_labels(documents, names)
    groups = grouped_items(coverages)
    if not documents or not groups:
        return empty_figure(FOUNDATION_TITLE)
    covered, totals = foundation_shares(coverages, documents, groups)
    shares = np.divide(covered, totals, out=np.zeros_like(covered), where=totals > 0)
    left, right, top, bottom = left_margin(labels), 1.5, 1.0, 1.0
    cells_width = max(len(groups) * FOUNDATION_COLUMN_INCHES, 4.0)
    cells_height = max(len(documents) * FOUNDATION_ROW_INCHES, 1.0)
    width, height = left + cells_width + right, top + cells_height + bottom
    figure = new_figure(width, height)
    axes = figure.add_axes((left / width, bottom / height, cells_width / width, cells_height / height))
    image = axes.imshow(shares, cmap=SHARE_COLOURMAP, vmin=0, vmax=1, aspect="auto")
    colourmap = image.get_cmap()
    for row, column in np.ndindex(shares.shape):
        red, green, blue, _ = colourmap(shares[row, column])
        ink = "black" if 0.299 * red + 0.587 * green + 0.114 * blue > 0.5 else "white"
        axes.text(column, row, f"{int(covered[row, column])}/{int(totals[row, column])}\n{shares[row, column]:.0%}",
                  ha="center", va="center", fontsize=LABEL_FONT_SIZE, color=ink)
    axes.set_xticks(range(len(groups)), labels=[foundation_label(group, len(items)) for _, group, items in groups],
                    fontsize=LABEL_FONT_SIZE)
    axes.set_yticks(range(len(documents)), labels=labels, fontsize=LABEL_FONT_SIZE)
    axes.tick_params(length=0)
    axes.set_xticks(np.arange(len(groups) + 1) - 0.5, minor=True)
    axes.set_yticks(np.arange(len(documents) + 1) - 0.5, minor=True)
    axes.grid(which="minor", color="white", linewidth=2)
    axes.tick_params(which="minor", length=0)
    for spine in axes.spines.values():
        spine.set_visible(False)
    axes.set_xlabel("Foundation (items in it)", fontsize=LABEL_FONT_SIZE + 1)
    axes.set_ylabel("Document", fontsize=LABEL_FONT_SIZE + 1)
    colourbar_axes = figure.add_axes(((left + cells_width + 0.25) / width, bottom / height, 0.16 / width,
                                      cells_height / height))
    colourbar = figure.colorbar(image, cax=colourbar_axes)
    colourbar.set_label("share of the foundation's items covered", fontsize=LABEL_FONT_SIZE)
    colourbar.ax.yaxis.set_major_formatter(PercentFormatter(xmax=1))
    figure.text(left / width, 1 - 0.2 / height, FOUNDATION_TITLE, fontsize=TITLE_FONT_SIZE, weight="bold",
                color=INK, va="top")
    figure.text(left / width, 1 - 0.52 / height,
                "covered items / items in the foundation; partial verdicts not counted",
                fontsize=LABEL_FONT_SIZE, color=INK, va="top")
    return figure


def figure_bytes(figure: Figure, image_format: str) -> bytes:
    """The figure as PNG or SVG bytes, without dates or version stamps, so a re-run writes the same file."""
    metadata = {"Software": None} if image_format == "png" else {"Date": None, "Creator": None}
    buffer = io.BytesIO()
    with matplotlib.rc_context({"svg.hashsalt": SVG_HASH_SALT, "svg.fonttype": "none"}):
        figure.savefig(buffer, format=image_format, dpi=DPI, metadata=metadata, facecolor="white")
    return buffer.getvalue()


#: Most documents a figure draws a row for (heatmap, per-document foundation shares): 60 rows are a page
#: of a report; beyond that a row per document is unreadable, and the figures count documents instead.
PER_DOCUMENT_MAX = 60
#: Height of one item's bar in the per-item figure, in inches.
ITEM_BAR_INCHES = 0.2
ITEM_TITLE = "Documents covering each reference item"


def item_groups(reference: ReferenceSet) -> list[tuple[str, str, list[ReferenceItem]]]:
    """(framework, foundation, items) of the reference, in reference order."""
    groups: dict[tuple[str, str], list[ReferenceItem]] = {}
    for item in reference.items:
        groups.setdefault((item.framework, item.group), []).append(item)
    return [(framework, group, items) for (framework, group), items in groups.items()]


def coverage_by_item(status_counts: dict[str, dict[str, int]], reference: ReferenceSet, documents: int) -> Figure:
    """One horizontal bar per item, split into the documents that cover it, partially cover it and miss it.

    Its size depends on the number of items only, so it reads the same at 2 documents or 10,000.
    """
    items = [item for _, _, group_items in item_groups(reference) for item in group_items]
    if not documents or not items:
        return empty_figure(ITEM_TITLE)
    left, right, top, bottom = 1.6, 0.5, 1.3, 0.8
    bars_height = len(items) * ITEM_BAR_INCHES
    width, height = 10.0, top + bars_height + bottom
    figure = new_figure(width, height)
    axes = figure.add_axes((left / width, bottom / height, (width - left - right) / width, bars_height / height))
    positions = np.arange(len(items))
    start = np.zeros(len(items))
    for status in STATUS_ORDER:
        counts = np.array([status_counts.get(item.id, {}).get(status.value, 0) for item in items], dtype=float)
        axes.barh(positions, counts, left=start, height=0.8, color=STATUS_COLOURS[status], label=status.value,
                  edgecolor="white", linewidth=0.3)
        start += counts
    axes.set_yticks(positions, labels=[item.id for item in items], fontsize=ITEM_FONT_SIZE - 1)
    axes.set_ylim(len(items) - 0.5, -0.5)  # first item at the top, as in the tables
    axes.set_xlim(0, documents)
    axes.set_xlabel("Documents", fontsize=LABEL_FONT_SIZE + 1)
    axes.tick_params(axis="y", length=0)
    offset = 0
    for _, _, group_items in item_groups(reference):
        if offset:
            axes.axhline(offset - 0.5, color=INK, linewidth=1.2)
        offset += len(group_items)
    for spine in ("top", "right"):
        axes.spines[spine].set_visible(False)
    figure.text(left / width, 1 - 0.2 / height, ITEM_TITLE, fontsize=TITLE_FONT_SIZE, weight="bold", color=INK,
                va="top")
    figure.text(left / width, 1 - 0.52 / height,
                f"{documents} document{'s' if documents != 1 else ''}; items grouped by foundation, in reference "
                "order; missing means no passage was found, not proof of absence",
                fontsize=LABEL_FONT_SIZE, color=INK, va="top")
    figure.legend(loc="upper right", bbox_to_anchor=(1 - right / width, 1 - 0.7 / height), ncols=3, frameon=False,
                  fontsize=LABEL_FONT_SIZE)
    return figure


#: Bins of the share of a foundation's items a document covers, for the distribution figure.
SHARE_BINS = (("none", 0.0, 0.0), ("under half", 0.0, 0.5), ("half or more", 0.5, 1.0), ("all", 1.0, 1.0))
DISTRIBUTION_TITLE = "Documents by share of each foundation's items covered"


def share_bin(covered: int, total: int) -> int:
    """Which of `SHARE_BINS` a document's covered count falls in."""
    if covered == 0 or total == 0:
        return 0
    if covered == total:
        return 3
    return 1 if covered / total < 0.5 else 2


def foundation_distribution(bins: np.ndarray, groups: list[tuple[str, str, list[ReferenceItem]]],
                            documents: int) -> Figure:
    """Per foundation, a stacked bar of documents covering none, under half, half or more, or all of its items."""
    if not documents or not groups:
        return empty_figure(DISTRIBUTION_TITLE)
    left, right, top, bottom = 1.0, 2.2, 1.1, 1.2
    cells_width = max(len(groups) * FOUNDATION_COLUMN_INCHES, 4.0)
    width, height = left + cells_width + right, top + 4.0 + bottom
    figure = new_figure(width, height)
    axes = figure.add_axes((left / width, bottom / height, cells_width / width, 4.0 / height))
    colourmap = matplotlib.colormaps[SHARE_COLOURMAP]
    start = np.zeros(len(groups))
    for index, (label, _, _) in enumerate(SHARE_BINS):
        axes.bar(np.arange(len(groups)), bins[:, index], bottom=start, width=0.7,
                 color=colourmap(index / (len(SHARE_BINS) - 1)), label=label, edgecolor="white", linewidth=0.5)
        start += bins[:, index]
    axes.set_xticks(range(len(groups)), labels=[foundation_label(group, len(items)) for _, group, items in groups],
                    fontsize=LABEL_FONT_SIZE)
    axes.set_ylim(0, documents)
    axes.set_ylabel("Documents", fontsize=LABEL_FONT_SIZE + 1)
    for spine in ("top", "right"):
        axes.spines[spine].set_visible(False)
    figure.legend(loc="center right", frameon=False, fontsize=LABEL_FONT_SIZE, title="items covered",
                  title_fontsize=LABEL_FONT_SIZE)
    figure.text(left / width, 1 - 0.2 / height, DISTRIBUTION_TITLE, fontsize=TITLE_FONT_SIZE, weight="bold",
                color=INK, va="top")
    figure.text(left / width, 1 - 0.52 / height, f"{documents} documents; partial verdicts not counted",
                fontsize=LABEL_FONT_SIZE, color=INK, va="top")
    return figure


def foundation_bins(store: RunStore, reference: ReferenceSet,
                    groups: list[tuple[str, str, list[ReferenceItem]]]) -> np.ndarray:
    """Foundations x share bins: documents counted into a bin, one document's verdicts read at a time."""
    group_of = {item.id: index for index, (_, _, items) in enumerate(groups) for item in items}
    bins = np.zeros((len(groups), len(SHARE_BINS)))
    for info in store.documents():
        covered, totals = np.zeros(len(groups), dtype=int), np.zeros(len(groups), dtype=int)
        for mark in store.verdict_marks(info.id, reference):  # statuses only: no evidence is read
            group = group_of.get(mark.item.id)
            if group is not None:
                totals[group] += 1
                covered[group] += mark.status is Status.COVERED
        for group in range(len(groups)):
            bins[group, share_bin(int(covered[group]), int(totals[group]))] += 1
    return bins


def figure_names(documents: int) -> list[str]:
    """The figure files `run_figures` writes for a run of `documents` documents."""
    if documents <= PER_DOCUMENT_MAX:
        return ["coverage_by_item.png", "coverage_heatmap.png", "coverage_heatmap.svg", "coverage_by_foundation.png"]
    return ["coverage_by_item.png", "coverage_by_foundation.png"]


def run_figures(store: RunStore, reference: ReferenceSet) -> dict[str, bytes]:
    """Every figure file of a run, by file name; per-document figures only for a run that fits on a page."""
    documents = store.documents()
    figures = {"coverage_by_item.png": figure_bytes(
        coverage_by_item(store.status_counts(), reference, len(documents)), "png")}
    if len(documents) <= PER_DOCUMENT_MAX:
        coverages = [coverage for info in documents for coverage in store.coverages(info.id, reference)]
        names = {info.id: info.name for info in documents}
        heatmap = coverage_heatmap(coverages, names, reference.short_names())
        figures["coverage_heatmap.png"] = figure_bytes(heatmap, "png")
        figures["coverage_heatmap.svg"] = figure_bytes(heatmap, "svg")
        figures["coverage_by_foundation.png"] = figure_bytes(coverage_by_foundation(coverages, names), "png")
    else:
        groups = item_groups(reference)
        figures["coverage_by_foundation.png"] = figure_bytes(
            foundation_distribution(foundation_bins(store, reference, groups), groups, len(documents)), "png")
    return figures
