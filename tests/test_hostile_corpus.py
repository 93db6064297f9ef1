"""Corpora that once crashed, hung or leaked a run (issue 11), mapped end to end through the CLI.

Each test puts one hostile entry beside a good document and checks that the good one is mapped, the
hostile one is a row in errors.csv (or is mapped), and every output file is written.
"""

import csv
import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.cli import app

pytestmark = pytest.mark.slow  # each test is a run of the CLI, end to end

GOOD_TEXT = """Care and stability

Scotland must limit the number of moves that children experience and support carers to continue to care.
"""
OUTPUT_FILES = {"report.html", "gap_table.csv", "gap_table.md", "gap_table.xlsx", "passages.jsonl", "matches.csv",
                "errors.csv", "run.json"}


@pytest.fixture
def corpus(tmp_path, monkeypatch):
    """A corpus folder holding one good document; the extraction cache goes to the test's own folder."""
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "good.txt").write_text(GOOD_TEXT, encoding="utf-8")
    return folder


def map_folder(corpus, out, *options):
    """Run `promise-map map` with the lexical classifier (no model to train); the exit code must be 0."""
    result = CliRunner().invoke(app, ["map", str(corpus), "--out", str(out), "--classifier", "lexical", "-q",
                                      *options])
    assert result.exit_code == 0, (result.output, result.exception)
    assert OUTPUT_FILES <= {path.name for path in out.iterdir()}
    return result


def error_rows(out):
    with (out / "errors.csv").open(encoding="utf-8", newline="") as stream:
        return [(row["file"], row["stage"], row["reason"]) for row in csv.DictReader(stream)]


def mapped_documents(out):
    return [entry["file"] for entry in json.loads((out / "run.json").read_text(encoding="utf-8"))["inputs"]]


def test_a_paragraph_of_one_and_a_half_million_characters_is_mapped_beside_a_good_document(corpus, tmp_path):
    sentence = "Brothers and sisters must be supported to stay together wherever it is safe. "
    (corpus / "long.txt").write_text(sentence * (1_500_000 // len(sentence) + 1), encoding="utf-8")
    out = tmp_path / "out"
    map_folder(corpus, out)
    assert mapped_documents(out) == ["good.txt", "long.txt"]
    assert error_rows(out) == []


def write_under_bytes_name(folder, name: bytes, data: bytes):
    """A file whose name is raw bytes (not UTF-8): what a Windows share or an old zip leaves on disk."""
    with open(os.path.join(os.fsencode(folder), name), "wb") as handle:
        handle.write(data)


def test_file_names_that_are_not_utf8_are_mapped_or_reported_under_an_escaped_name(corpus, tmp_path):
    write_under_bytes_name(corpus, b"Strat\xe9gie.txt", (GOOD_TEXT + "\nLa strat\u00e9gie.\n").encode("utf-8"))
    write_under_bytes_name(corpus, b"Strat\xe9gie.xyz", b"whatever")
    out = tmp_path / "out"
    map_folder(corpus, out)
    assert mapped_documents(out) == ["Strat\\xe9gie.txt", "good.txt"]
    assert [(file, stage) for file, stage, _ in error_rows(out)] == [("Strat\\xe9gie.xyz", "extract")]
    passages = [json.loads(line) for line in (out / "passages.jsonl").read_text(encoding="utf-8").splitlines()]
    names = {row["doc_id"]: row["document"] for row in csv.DictReader((out / "gap_table.csv").open(encoding="utf-8"))}
    assert {names[passage["doc"]] for passage in passages} == {"Strat\\xe9gie.txt", "good.txt"}
    assert "Strat\\xe9gie.txt" in (out / "report.html").read_text(encoding="utf-8")
    assert "Strat\\xe9gie.txt" in (out / "gap_table.csv").read_text(encoding="utf-8")
    map_folder(corpus, out)  # the second run reads the first run's cache entries
    assert mapped_documents(out) == ["Strat\\xe9gie.txt", "good.txt"]


def test_a_corpus_folder_whose_name_is_not_utf8_is_mapped(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    folder = os.path.join(os.fsencode(tmp_path), b"Dossier-\xe9t\xe9")
    os.mkdir(folder)
    write_under_bytes_name(os.fsdecode(folder), b"good.txt", GOOD_TEXT.encode("utf-8"))
    out = tmp_path / "out"
    map_folder(Path(os.fsdecode(folder)), out)
    assert json.loads((out / "run.json").read_text(encoding="utf-8"))["corpus"].endswith("Dossier-\\xe9t\\xe9")


def test_links_out_of_the_corpus_and_pipes_are_rows_and_their_content_stays_out(corpus, tmp_path):
    (corpus / "passwd.txt").symlink_to("/etc/passwd")
    os.mkfifo(corpus / "pipe.txt")
    out = tmp_path / "out"
    map_folder(corpus, out)
    assert mapped_documents(out) == ["good.txt"]
    assert [(file, stage) for file, stage, _ in error_rows(out)] == [("passwd.txt", "list"), ("pipe.txt", "list")]
    for path in out.rglob("*"):
        assert path.is_dir() or b"root:x:0:0" not in path.read_bytes(), path.name


def test_mapping_the_current_folder_twice_does_not_read_its_own_outputs(corpus, monkeypatch):
    monkeypatch.chdir(corpus)
    for _ in range(2):
        CliRunner().invoke(app, ["map", ".", "--classifier", "lexical", "-q"])
    out = corpus / "outputs" / "corpus"
    assert mapped_documents(out) == ["good.txt"]
    assert error_rows(out) == [("outputs/corpus", "list", "the run's output folder (--out): not read as input")]


def test_an_earlier_run_inside_the_corpus_is_not_read_by_a_run_writing_elsewhere(corpus, tmp_path):
    map_folder(corpus, corpus / "results")
    map_folder(corpus, corpus / "results")
    assert mapped_documents(corpus / "results") == ["good.txt"]
    map_folder(corpus, tmp_path / "elsewhere")
    assert mapped_documents(tmp_path / "elsewhere") == ["good.txt"]
    assert [(file, stage) for file, stage, _ in error_rows(tmp_path / "elsewhere")] == [("results", "list")]


def test_a_corpus_that_is_its_own_output_folder_is_refused(corpus):
    result = CliRunner().invoke(app, ["map", str(corpus), "--out", str(corpus), "--classifier", "lexical", "-q"])
    assert result.exit_code == 2
    assert "output folder" in result.stderr


def test_a_corpus_of_nothing_but_a_link_out_says_why_nothing_was_listed(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "passwd.txt").symlink_to("/etc/passwd")
    result = CliRunner().invoke(app, ["map", str(folder), "--out", str(tmp_path / "out"), "-q"])
    assert result.exit_code == 2
    assert "passwd.txt (a link to something outside the corpus folder: not followed)" in result.stderr
