"""The benchmark runs on any folder of PDFs, writes its record and prints one line."""

import json

from pipeline.bench import SECTIONS, main
from tests.conftest import make_pdf


def small_corpus(folder):
    from reportlab.pdfgen import canvas

    folder.mkdir()
    make_pdf(folder / "a_plan.pdf", [[("h1", "Stability"), ("body", "Children will not be moved at night.")]] * 3)
    make_pdf(folder / "b_note.pdf", [[("body", "Brothers and sisters stay together.")]])
    sheet = canvas.Canvas(str(folder / "c_locked.pdf"), encrypt="sesame")
    sheet.drawString(72, 720, "Secure care is a last resort.")
    sheet.save()
    (folder / "d_broken.pdf").write_bytes(b"%PDF-1.4 truncated")
    (folder / "MANIFEST.csv").write_text("file,pages,traits\nc_locked.pdf,1,encrypted;password=sesame\n",
                                         encoding="utf-8")
    return folder


def test_bench_extract_writes_its_record_and_one_summary_line(tmp_path, capsys):
    corpus = small_corpus(tmp_path / "corpus")
    out = tmp_path / "bench"
    assert main(["--corpus", str(corpus), "--out", str(out), "--only", "extract", "--workers", "2"]) == 0
    printed = capsys.readouterr().out.strip().splitlines()
    assert len(printed) == 1 and printed[0].startswith("extract: 5 pages in ")
    record = json.loads((out / "extract.json").read_text(encoding="utf-8"))
    assert record["files"] == 3 and record["pages"] == 5
    assert record["files_pypdfium2_could_not_open"] == ["d_broken.pdf"]
    assert record["files_without_document"] == 0, "the MANIFEST password opens the locked file"
    assert record["ratio_to_pypdfium2"] > 0 and record["workers"] == 2
    assert record["cache"]["hits"] == 3 and record["cache"]["warm_seconds"] < record["cache"]["cold_seconds"]
    assert record["peak_rss_mb"]["worker_max"] > 0
    assert record["peak_rss_mb"]["longest_document"] == {
        "file": "a_plan.pdf", "pages": 3, "peak_rss_mb": record["peak_rss_mb"]["longest_document"]["peak_rss_mb"]}


def test_bench_without_a_corpus_says_where_it_looked(tmp_path, capsys):
    assert main(["--corpus", str(tmp_path / "nowhere"), "--out", str(tmp_path / "bench")]) == 2
    assert "no corpus at" in capsys.readouterr().err
    assert not (tmp_path / "bench").exists()


def test_sections_are_registered_by_name():
    assert "extract" in SECTIONS and all(callable(section) for section in SECTIONS.values())
