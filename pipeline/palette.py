"""Presentation every output shares (workbook, HTML report, plots): status colours, symbols and order.

One place, so a colour or a label means the same thing in every file of a run.

Okabe-Ito's bluish green and orange stay distinct under the common
colour-vision deficiencies and in greyscale (their lightness differs), and
missing is a light grey so gaps read as "nothing here" rather than an alarm.
Status is always written as text too: colour is never the only carrier.
"""

from __future__ import annotations

from pipeline.types import Stance, Status

STATUS_COLOURS = {Status.COVERED: "#009E73", Status.PARTIAL: "#E69F00", Status.MISSING: "#D9D9D9",
                  Status.NOT_APPLICABLE: "#FFFFFF"}
#: Text drawn on a status colour: black has at least 6:1 contrast on all three.
STATUS_TEXT_COLOUR = "#000000"
#: Symbols shown with the colour (heatmap cells), for print and for readers who cannot tell the colours apart.
STATUS_SYMBOLS = {Status.COVERED: "●", Status.PARTIAL: "◐", Status.MISSING: "", Status.NOT_APPLICABLE: ""}
#: Strongest first; the order every table and legend uses.
STATUS_ORDER = (Status.COVERED, Status.PARTIAL, Status.MISSING)
#: The machine's statuses, plus what only a reviewer says: the choices of the review app and the workbook.
REVIEW_STATUSES = (*STATUS_ORDER, Status.NOT_APPLICABLE)
#: -1: the document is not assessed on the item (a reviewer said it does not apply): no cell colour at all.
STATUS_RANK = {Status.COVERED: 2, Status.PARTIAL: 1, Status.MISSING: 0, Status.NOT_APPLICABLE: -1}
#: Heatmap marks of a covered or partial item's stance, shown instead of the status symbol: an opposed item must
#: not read as one more green dot. Supports and neutral keep the status symbol (most cells; no extra noise).
STANCE_MARKS = {Stance.OPPOSES: "✕", Stance.MIXED: "±"}
