"""Shared fixtures: small real files built in the test's own folder (PDF with reportlab, DOCX with python-docx)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.reference import reference_for_run

REPO = Path(__file__).resolve().parent.parent
SAMPLE_CORPUS = REPO / "corpora" / "sample"
REFERENCE_DIR = REPO / "reference"
SHARED = REPO.parent / "shared"

#: A passage about nothing the promise covers, for "missing everywhere" checks.
UNRELATED_TEXT = """Road Maintenance Programme 2025

The council will resurface 42 kilometres of carriageway this year, starting with the A719 between Dunure
and Maidens. Contractors will work overnight to limit disruption to traffic.

Gully cleaning will move to a risk-based schedule. Drains on steep gradients will be cleared twice a year,
others once. Residents can report blocked drains through the website.

Winter gritting routes are unchanged. Salt stocks stand at 18,000 tonnes, enough for a severe winter.
"""


@pytest.fixture(scope="session")
def reference_set():
    return reference_for_run()


def make_pdf(path: Path, pages: list[list[tuple[str, str]]], *, running_head: str | None = None) -> Path:
    """A PDF whose pages hold (style, text) paragraphs; style is 'h1' or 'body'. Page numbers in the footer."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate

    styles = getSampleStyleSheet()
    story = []
    for number, page in enumerate(pages):
        for style, text in page:
            story.append(Paragraph(text, styles["Heading1"] if style == "h1" else styles["BodyText"]))
        if number < len(pages) - 1:
            story.append(PageBreak())

    def furniture(canvas, document):
        canvas.saveState()
        canvas.setFont("Helvetica", 9)
        canvas.drawCentredString(A4[0] / 2, 30, str(document.page))
        if running_head:
            canvas.drawString(72, A4[1] - 40, running_head)
        canvas.restoreState()

    SimpleDocTemplate(str(path), pagesize=A4).build(story, onFirstPage=furniture, onLaterPages=furniture)
    return path


def make_docx(path: Path, *, heading: str, paragraphs: list[str], bullets: list[str] = (),
              table: list[list[str]] = (), second_page: str | None = None) -> Path:
    import docx
    from docx.enum.text import WD_BREAK

    document = docx.Document()
    document.add_heading(heading, level=1)
    for text in paragraphs:
        document.add_paragraph(text)
    for text in bullets:
        document.add_paragraph(text, style="List Bullet")
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                grid.cell(r, c).text = value
    if second_page:
        document.paragraphs[-1].add_run().add_break(WD_BREAK.PAGE)
        document.add_paragraph(second_page)
    section = document.sections[0]
    section.header.paragraphs[0].text = "RUNNING HEADER TEXT"
    section.footer.paragraphs[0].text = "RUNNING FOOTER TEXT"
    document.save(str(path))
    return path


@pytest.fixture(scope="session")
def trained_classifier(reference_set):
    """The map's default classifier: the saved model, trained first (a minute or two) when missing or stale."""
    from pipeline.training import DEFAULT_MODEL_PATH, ensure_model

    return ensure_model(DEFAULT_MODEL_PATH, reference_set, progress_bar=False, say=lambda message: None)


@pytest.fixture(autouse=True, scope="session")
def private_cache_home(tmp_path_factory):
    """Runs the tests start keep their per-document cache in a folder of the session, never the user's."""
    import os

    previous = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("cache-home"))
    yield
    if previous is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = previous


def run_store(path: Path, documents: list[dict], *, skipped=()):
    """A run store holding `documents`: each a dict of name, coverages and (optionally) passages and matches.

    Coverages may be written with their document's name as `doc`; it becomes the document's id here.
    """
    import dataclasses
    import hashlib

    from pipeline.run.store import RunStore
    from pipeline.types import DocumentInfo, DocumentResult, SourceFile

    store = RunStore(path, create=True)
    store.add_problems(skipped)
    for index, document in enumerate(documents):
        name = document["name"]
        doc_id = document.get("id") or hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()
        info = DocumentInfo(id=doc_id, name=name, path=f"/corpus/{name}", page_count=document.get("pages", 1),
                            extractor="test")
        store.add(DocumentResult(
            source=SourceFile(index=index, path=info.path, name=name), document=info,
            passages=tuple(dataclasses.replace(p, doc=doc_id) for p in document.get("passages", ())),
            matches=tuple(document.get("matches", ())),
            coverages=tuple(dataclasses.replace(c, doc=doc_id) for c in document["coverages"])))
    return store


def coverages_by_name(coverages) -> list[dict]:
    """Coverages of several documents (their `doc` a name) as run_store's documents, in first-seen order."""
    grouped: dict[str, list] = {}
    for coverage in coverages:
        grouped.setdefault(coverage.doc, []).append(coverage)
    return [{"name": name, "coverages": group} for name, group in grouped.items()]
