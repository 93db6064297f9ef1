"""Small PDFs drawn with reportlab's canvas, each reproducing one layout that PDF extraction gets wrong.

Lines are drawn one `drawString` at a time, so the content order is exactly
the order written here (the two-column fixture deliberately interleaves its
columns line by line, as the seed briefing's PDF does).
"""

from __future__ import annotations

from pathlib import Path

from reportlab.lib.pagesizes import A4
from reportlab.pdfgen.canvas import Canvas

PAGE_WIDTH, PAGE_HEIGHT = A4
DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")

SEED_LEFT_COLUMN = [
    "e Scotland must re-orientate its system of scrutiny",
    "to uphold relationships so children feel loved,",
    "safe and respected.",
    "e Scotland must respect, uphold, champion and",
    "defend the rights of children and recognise that",
    "their rights are most often realised through",
    "relationships with loving, attentive caregivers.",
    "Scotland must fully incorporate and uphold the",
    "UNCRC.",
]
SEED_RIGHT_COLUMN = [
    "e There must be a complete overhaul of regulation",
    "and scrutiny that centres on listening to children",
    "about how they are cared for, their ability to",
    "flourish and thrive and that measures the things",
    "that matter to them.",
    "e Scotland must fundamentally alter the way in",
    "which it inspects services for children and the way",
    "it regulates and supports its workforce.",
]
SEED_ITEMS = [
    "Scotland must re-orientate its system of scrutiny to uphold relationships so children feel loved, "
    "safe and respected.",
    "Scotland must respect, uphold, champion and defend the rights of children and recognise that their rights "
    "are most often realised through relationships with loving, attentive caregivers. Scotland must fully "
    "incorporate and uphold the UNCRC.",
    "There must be a complete overhaul of regulation and scrutiny that centres on listening to children about how "
    "they are cared for, their ability to flourish and thrive and that measures the things that matter to them.",
    "Scotland must fundamentally alter the way in which it inspects services for children and the way it "
    "regulates and supports its workforce.",
]


def draw_lines(canvas: Canvas, x: float, top: float, lines: list[str], *, font: str = "Helvetica", size: float = 10,
               leading: float = 13) -> float:
    """Draw `lines` one below the other from `top` (points from the page top); return the next free top."""
    canvas.setFont(font, size)
    for line in lines:
        canvas.drawString(x, PAGE_HEIGHT - top - size, line)
        top += leading
    return top


def two_column_seed(path: Path) -> Path:
    """The seed briefing's bullet columns, drawn row by row (left line, right line), under a full-width heading."""
    canvas = Canvas(str(path), pagesize=A4)
    draw_lines(canvas, 60, 60, ["Scrutiny and regulation"], font="Helvetica-Bold", size=18)
    draw_lines(canvas, 60, 100, ["The Promise sets out what must change in how care is inspected:"])
    top = 130.0
    canvas.setFont("Helvetica", 10)
    for row in range(max(len(SEED_LEFT_COLUMN), len(SEED_RIGHT_COLUMN))):
        y = PAGE_HEIGHT - top - 10 - row * 13
        for x, column in ((60, SEED_LEFT_COLUMN), (310, SEED_RIGHT_COLUMN)):
            if row < len(column):
                bullet, text = (column[row][:1], column[row][2:]) if column[row].startswith("e ") else ("", column[row])
                if bullet:
                    canvas.drawString(x, y, bullet)
                canvas.drawString(x + 10, y, text)
    canvas.save()
    return path


def running_heads(path: Path, pages: int = 3) -> Path:
    """Pages with a running head, "Page N of M" footers and rotated margin text around one paragraph each."""
    canvas = Canvas(str(path), pagesize=A4)
    for number in range(1, pages + 1):
        draw_lines(canvas, 60, 30, ["Glenmore Children's Services Plan 2023-2026"], size=9)
        draw_lines(canvas, 60, 120, [f"Section {number} sets out how the partnership will keep its promise",
                                     "to children and families in this area of the plan."])
        draw_lines(canvas, 270, PAGE_HEIGHT - 40, [f"Page {number} of {pages}"], size=9)
        canvas.saveState()
        canvas.translate(30, 300)
        canvas.rotate(90)
        canvas.setFont("Helvetica", 8)
        canvas.drawString(0, 0, "DRAFT FOR CONSULTATION")
        canvas.restoreState()
        canvas.showPage()
    canvas.save()
    return path


def hyphenated(path: Path) -> Path:
    """A paragraph broken at hyphens: one to rejoin, two real ones, and one the document itself writes hyphenated."""
    canvas = Canvas(str(path), pagesize=A4)
    draw_lines(canvas, 60, 80, [
        "Scotland must broaden its under-",
        "standing of risk and build long-",
        "term relationships through co-",
        "regulation and a place-",
        "based approach to support.",
    ])
    draw_lines(canvas, 60, 200, ["Every place-based team will report each year."])
    canvas.save()
    return path


def ligatures(path: Path) -> Path:
    """Text set in DejaVu Sans with the fi, fl and ffi ligature characters themselves."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    pdfmetrics.registerFont(TTFont("DejaVuSans", str(DEJAVU)))
    canvas = Canvas(str(path), pagesize=A4)
    draw_lines(canvas, 60, 80, ["The \ufb01nal \ufb02ow of e\ufb03cient \ufb01nance to families."], font="DejaVuSans")
    canvas.save()
    return path


def bullets(path: Path) -> Path:
    """A lead-in sentence and a list with four bullet styles, one item wrapped onto a second line."""
    canvas = Canvas(str(path), pagesize=A4)
    draw_lines(canvas, 60, 60, ["Our Plan"], font="Helvetica-Bold", size=20)
    draw_lines(canvas, 60, 100, ["Family support", ], font="Helvetica-Bold", size=14)
    draw_lines(canvas, 60, 130, ["The partnership commits to the following actions:"])
    canvas.setFont("Helvetica", 10)
    rows = [("\u2022", "Improving continuity of carers for every child"),
            ("\u2013", "Values-based recruitment of all staff, with children"),
            (None, "on every interview panel"),
            ("e", "Relationship-focussed inspections")]
    top = 150.0
    for glyph, text in rows:
        y = PAGE_HEIGHT - top - 10
        if glyph:
            canvas.drawString(72, y, glyph)
        canvas.drawString(84, y, text)
        top += 13
    draw_lines(canvas, 60, top + 15, ["Progress will be reported to the board twice a year."])
    canvas.save()
    return path


def ruled_table(path: Path) -> Path:
    """A paragraph, a ruled three-column table (platypus Table with a grid), and a closing paragraph."""
    from reportlab.lib import colors
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    styles = getSampleStyleSheet()
    table = Table([["Action", "Lead", "Date"], ["Open family hubs", "HSCP", "2025"],
                   ["Train kinship carers", "Council", "2026"]])
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.5, colors.black)]))
    story = [Paragraph("The actions below are funded for three years.", styles["BodyText"]), Spacer(1, 12), table,
             Spacer(1, 12), Paragraph("Each action has a named lead officer.", styles["BodyText"])]
    SimpleDocTemplate(str(path), pagesize=A4).build(story)
    return path


def headings(path: Path) -> Path:
    """Three heading sizes over body text, to check levels by size rank."""
    canvas = Canvas(str(path), pagesize=A4)
    top = draw_lines(canvas, 60, 60, ["Children's Services Plan"], font="Helvetica-Bold", size=22, leading=30)
    top = draw_lines(canvas, 60, top, ["Keeping brothers and sisters together"], font="Helvetica-Bold", size=15,
                     leading=22)
    top = draw_lines(canvas, 60, top, ["Brothers and sisters will live together wherever it is safe.",
                                       "We will report on every decision that separates them."])
    top = draw_lines(canvas, 60, top + 10, ["Contact when apart"], font="Helvetica-Bold", size=12, leading=18)
    top = draw_lines(canvas, 60, top, ["Family time will be planned with the children themselves."])
    top = draw_lines(canvas, 60, top + 10, ["Secure care"], font="Helvetica-Bold", size=15, leading=22)
    draw_lines(canvas, 60, top, ["No child will be held in secure care for want of a community place."])
    canvas.save()
    return path


def text_then_scan(path: Path, *, text_pages: int = 1) -> Path:
    """`text_pages` pages of text followed by one page with only a drawing on it (no text layer)."""
    canvas = Canvas(str(path), pagesize=A4)
    for number in range(text_pages):
        draw_lines(canvas, 60, 80, [f"Page {number + 1} has a real text layer about kinship care."])
        canvas.showPage()
    canvas.rect(60, 200, 400, 400, fill=1)
    canvas.showPage()
    canvas.save()
    return path


def encrypted(path: Path, password: str) -> Path:
    from reportlab.lib.pdfencrypt import StandardEncryption

    canvas = Canvas(str(path), pagesize=A4, encrypt=StandardEncryption(password, ownerPassword="owner-secret"))
    draw_lines(canvas, 60, 80, ["Confidential draft of the corporate parenting plan."])
    canvas.save()
    return path


def one_word_per_page(path: Path, pages: int, *, top: float = 40) -> Path:
    """A page per word, each word alone near the top of its page (a word list, flash cards, a slide deck's titles)."""
    words = ["Family", "Siblings", "Kinship", "Voice", "Rights", "Love", "Home"]
    canvas = Canvas(str(path), pagesize=A4)
    for number in range(pages):
        draw_lines(canvas, 72, top, [words[number % len(words)]], size=12)
        canvas.showPage()
    canvas.save()
    return path


def running_head_with_a_blank_page(path: Path) -> Path:
    """Three pages under one running head; the middle page is left blank but for the head (and its number)."""
    canvas = Canvas(str(path), pagesize=A4)
    for number in (1, 2, 3):
        draw_lines(canvas, 72, 30, ["Glenmore Children's Services Plan"], size=9)
        if number != 2:
            draw_lines(canvas, 72, 300, [f"Section {number} says how brothers and sisters will stay together."])
        draw_lines(canvas, 290, PAGE_HEIGHT - 40, [str(number)], size=9)
        canvas.showPage()
    canvas.save()
    return path


def page_numbers_only(path: Path, pages: int) -> Path:
    canvas = Canvas(str(path), pagesize=A4)
    for number in range(1, pages + 1):
        draw_lines(canvas, 290, PAGE_HEIGHT - 40, [str(number)], size=9)
        canvas.showPage()
    canvas.save()
    return path
