"""The run as a stream of per-document results: stable ids, the cache, the output folder, Dask, bounded memory."""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.run.output import leftovers
from tests.conftest import REPO

TEXT = """Care and stability

Scotland must limit the number of moves that children experience and support carers to continue to care.

Brothers and sisters will stay together where it is safe to do so, and will be supported to keep their
relationships when they cannot live together.
"""
#: The files a run streams from its store: the same in any run of the same corpus, byte for byte.
STREAMED = ("gap_table.csv", "gap_table.md", "coverage.jsonl", "matches.csv", "passages.jsonl", "errors.csv")


def map_run(corpus, out, *extra, cache=None):
    arguments = ["map", str(corpus), "--out", str(out), "--classifier", "lexical", "-q", *map(str, extra)]
    arguments += ["--cache-dir", str(cache)] if cache is not None else ["--no-cache"]
    result = CliRunner().invoke(app, arguments)
    assert result.exit_code == 0, result.output
    return json.loads((out / "run.json").read_text(encoding="utf-8"))


def write_corpus(folder, count, *, prefix="doc"):
    folder.mkdir(parents=True, exist_ok=True)
    for number in range(count):
        (folder / f"{prefix}{number:03d}.txt").write_text(f"{TEXT}\nDocument number {number}.\n", encoding="utf-8")
    return folder


def ids_by_name(out):
    return {row["document"]: row["doc_id"] for row in csv.DictReader((out / "gap_table.csv").open(encoding="utf-8"))}


def test_a_document_id_is_its_content_hash_whatever_the_file_is_called(tmp_path):
    corpus = write_corpus(tmp_path / "corpus", 2)
    map_run(corpus, tmp_path / "first")
    before = ids_by_name(tmp_path / "first")
    (corpus / "doc000.txt").rename(corpus / "renamed.txt")
    map_run(corpus, tmp_path / "second")
    after = ids_by_name(tmp_path / "second")
    assert after["renamed.txt"] == before["doc000.txt"] and after["doc001.txt"] == before["doc001.txt"]
    import hashlib

    assert after["renamed.txt"] == hashlib.sha256((corpus / "renamed.txt").read_bytes()).hexdigest()
    passages = [json.loads(line) for line in (tmp_path / "second" / "passages.jsonl").read_text().splitlines()]
    assert all(p["id"] == f"{p['doc']}:{p['start']}-{p['end']}" for p in passages)


def test_two_files_of_one_name_in_two_folders_are_two_documents(tmp_path):
    corpus = tmp_path / "corpus"
    for year in ("2023", "2024"):
        (corpus / year).mkdir(parents=True)
        (corpus / year / "plan.txt").write_text(f"{TEXT}\nThe {year} plan.\n", encoding="utf-8")
    map_run(corpus, tmp_path / "out")
    ids = ids_by_name(tmp_path / "out")
    assert set(ids) == {"2023/plan.txt", "2024/plan.txt"} and len(set(ids.values())) == 2


def test_a_second_copy_of_a_file_is_mapped_once_and_reported(tmp_path):
    corpus = write_corpus(tmp_path / "corpus", 1)
    (corpus / "copy.txt").write_bytes((corpus / "doc000.txt").read_bytes())
    record = map_run(corpus, tmp_path / "out")
    assert record["counts"]["documents"] == 1
    errors = list(csv.DictReader((tmp_path / "out" / "errors.csv").open(encoding="utf-8")))
    assert [(row["file"], row["stage"]) for row in errors] == [("doc000.txt", "list")] or \
        [(row["file"], row["stage"]) for row in errors] == [("copy.txt", "list")]
    assert "same content as" in errors[0]["reason"]


def test_a_rerun_reads_every_document_from_the_cache_and_a_changed_one_is_mapped_again(tmp_path):
    corpus = write_corpus(tmp_path / "corpus", 5)
    cache = tmp_path / "cache"
    cold = map_run(corpus, tmp_path / "cold", cache=cache)
    warm = map_run(corpus, tmp_path / "warm", cache=cache)
    assert (cold["counts"]["from_cache"], warm["counts"]["from_cache"]) == (0, 5)
    for name in STREAMED:
        assert (tmp_path / "cold" / name).read_bytes() == (tmp_path / "warm" / name).read_bytes(), name
    (corpus / "doc002.txt").write_text(TEXT + "\nChanged.\n", encoding="utf-8")
    changed = map_run(corpus, tmp_path / "changed", cache=cache)
    assert changed["counts"]["from_cache"] == 4 and changed["counts"]["documents"] == 5


def test_a_rerun_of_an_unchanged_corpus_starts_no_worker_and_a_changed_file_alone_goes_to_one(tmp_path,
                                                                                               monkeypatch):
    """The parent reads cached results itself; only files the cache does not hold are sent to workers."""
    import pipeline.run.executors as executors

    sent: list[list[str]] = []
    real_run_isolated = executors.run_isolated

    def spying(function, inputs, **options):
        inputs = list(inputs)
        sent.append([os.path.basename(source.path) for source, _ in inputs])
        return real_run_isolated(function, inputs, **options)

    monkeypatch.setattr(executors, "run_isolated", spying)
    corpus = write_corpus(tmp_path / "corpus", 3)
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.4 truncated")
    cache = tmp_path / "cache"
    cold = map_run(corpus, tmp_path / "cold", cache=cache)
    warm = map_run(corpus, tmp_path / "warm", cache=cache)
    (corpus / "doc001.txt").write_text(TEXT + "\nChanged.\n", encoding="utf-8")
    changed = map_run(corpus, tmp_path / "changed", cache=cache)
    # a file that cannot be read is a lasting result too: served from the cache with its reason; the unchanged
    # re-run maps nothing at all (its store and reports are copied whole)
    assert sent == [["broken.pdf", "doc000.txt", "doc001.txt", "doc002.txt"], ["doc001.txt"]]
    assert [record["counts"]["from_cache"] for record in (cold, warm, changed)] == [0, 4, 3]
    assert (tmp_path / "warm" / "errors.csv").read_bytes() == (tmp_path / "cold" / "errors.csv").read_bytes()
    for name in STREAMED:
        assert (tmp_path / "cold" / name).read_bytes() == (tmp_path / "warm" / name).read_bytes(), name


def store_tables(path):
    """Every table of a run store, its rows sorted: what two stores hold, whatever the file's layout."""
    import sqlite3

    connection = sqlite3.connect(path)
    try:
        names = [name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {name: sorted(connection.execute(f"SELECT * FROM {name}").fetchall(), key=repr) for name in names}
    finally:
        connection.close()


def test_an_unchanged_rerun_copies_its_store_and_reports_whole_as_mapping_from_the_cache_would_build_them(tmp_path):
    corpus = write_corpus(tmp_path / "corpus", 4)
    (corpus / "copy.txt").write_bytes((corpus / "doc001.txt").read_bytes())  # a second copy: a problem row
    cache = tmp_path / "cache"
    cold = map_run(corpus, tmp_path / "cold", cache=cache)
    copied = map_run(corpus, tmp_path / "copied", cache=cache)
    assert copied["timings_seconds"].keys() == {"wall"} and copied["counts"]["reports_from_cache"]
    for entry in (cache / "reports").iterdir():  # without the stores, a re-run maps every result from the cache
        (entry / "run.sqlite").unlink(missing_ok=True)
    mapped = map_run(corpus, tmp_path / "mapped", cache=cache)
    assert store_tables(tmp_path / "copied" / "run.sqlite") == store_tables(tmp_path / "mapped" / "run.sqlite")
    assert copied["counts"] == {**mapped["counts"], "reports_from_cache": True}
    assert copied["counts"]["from_cache"] == 4 and cold["counts"]["from_cache"] == 0
    assert report_files(tmp_path / "copied") == report_files(tmp_path / "cold") == report_files(tmp_path / "mapped")
    (corpus / "doc003.txt").write_text(TEXT + "\nChanged.\n", encoding="utf-8")
    changed = map_run(corpus, tmp_path / "changed", cache=cache)
    assert changed["counts"]["from_cache"] == 3 and not changed["counts"]["reports_from_cache"]


def report_files(out):
    """Every output file but the index and run.json (which carry the run's date and timings), by path."""
    return {path.relative_to(out).as_posix(): path.read_bytes() for path in sorted(out.rglob("*"))
            if path.is_file() and path.name not in ("report.html", "run.json", "run.sqlite")}


def test_an_unchanged_rerun_copies_its_reports_and_any_change_renders_them_again(tmp_path):
    corpus = write_corpus(tmp_path / "corpus", 3)
    cache = tmp_path / "cache"
    cold = map_run(corpus, tmp_path / "cold", cache=cache)
    warm = map_run(corpus, tmp_path / "warm", cache=cache)
    assert (cold["counts"]["reports_from_cache"], warm["counts"]["reports_from_cache"]) == (False, True)
    assert report_files(tmp_path / "cold") == report_files(tmp_path / "warm")
    assert len([name for name in report_files(tmp_path / "warm") if name.startswith("report/")]) == 3
    assert "Run of " + warm["created"] in (tmp_path / "warm" / "report.html").read_text(encoding="utf-8")
    # the same reports from a fresh render, with no cache at all
    map_run(corpus, tmp_path / "fresh")
    assert report_files(tmp_path / "cold") == report_files(tmp_path / "fresh")
    (corpus / "doc001.txt").write_text(TEXT + "\nEdited since.\n", encoding="utf-8")
    edited = map_run(corpus, tmp_path / "edited", cache=cache)
    assert edited["counts"]["reports_from_cache"] is False
    assert "Edited since." in (tmp_path / "edited" / "passages.jsonl").read_text(encoding="utf-8")
    (corpus / "doc001.txt").rename(corpus / "renamed.txt")
    renamed = map_run(corpus, tmp_path / "renamed", cache=cache)
    assert renamed["counts"]["reports_from_cache"] is False  # names are in the tables and pages
    assert "renamed.txt" in (tmp_path / "renamed" / "gap_table.csv").read_text(encoding="utf-8")


def test_the_report_cache_keeps_its_newest_entries_only(tmp_path):
    from pipeline.run.report_cache import KEPT_ENTRIES

    corpus = write_corpus(tmp_path / "corpus", 1)
    cache = tmp_path / "cache"
    for number in range(KEPT_ENTRIES + 2):
        (corpus / "doc000.txt").write_text(f"{TEXT}\nVersion {number}.\n", encoding="utf-8")
        map_run(corpus, tmp_path / f"out{number}", cache=cache)
    assert len([path for path in (cache / "reports").iterdir() if path.is_dir()]) == KEPT_ENTRIES


def test_a_rerun_into_the_same_folder_replaces_it_whole(tmp_path):
    corpus = write_corpus(tmp_path / "corpus", 2)
    out = tmp_path / "out"
    map_run(corpus, out)
    (out / "compare_stale.csv").write_text("left by an earlier run", encoding="utf-8")
    (corpus / "doc001.txt").unlink()
    map_run(corpus, out)
    assert not (out / "compare_stale.csv").exists()
    assert set(ids_by_name(out)) == {"doc000.txt"}
    assert leftovers(out) == [] and not any(path.name.endswith(".tmp") for path in tmp_path.rglob("*"))


@pytest.mark.parametrize("where", ["file", "under-file"])
def test_an_output_folder_where_a_file_is_is_refused_before_the_run(tmp_path, where):
    corpus = write_corpus(tmp_path / "corpus", 1)
    blocker = tmp_path / "taken"
    blocker.write_text("a file", encoding="utf-8")
    out = blocker if where == "file" else blocker / "out"
    result = CliRunner().invoke(app, ["map", str(corpus), "--out", str(out), "--classifier", "lexical", "-q"])
    assert result.exit_code == 2 and "not a folder" in result.output
    assert blocker.read_text(encoding="utf-8") == "a file"


def test_a_folder_of_other_files_or_the_corpus_itself_is_never_replaced(tmp_path):
    corpus = write_corpus(tmp_path / "corpus", 1)
    mine = tmp_path / "my-notes"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine", encoding="utf-8")
    for out in (mine, corpus, tmp_path):
        result = CliRunner().invoke(app, ["map", str(corpus), "--out", str(out), "--classifier", "lexical", "-q"])
        assert result.exit_code == 2, (out, result.output)
    assert (mine / "notes.txt").read_text(encoding="utf-8") == "mine" and len(list(corpus.iterdir())) == 1


def files_of(folder):
    """Every file of a run's folder (the document pages in report/ too), by its path in the folder."""
    return {str(path.relative_to(folder)): path.read_bytes() for path in folder.rglob("*") if path.is_file()}


def test_a_full_disk_leaves_the_last_run_as_it_was(tmp_path, monkeypatch):
    corpus = write_corpus(tmp_path / "corpus", 2)
    out = tmp_path / "out"
    map_run(corpus, out)
    before = files_of(out)

    def no_space(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("pipeline.report.write_atomic", no_space)
    (corpus / "doc001.txt").unlink()
    result = CliRunner().invoke(app, ["map", str(corpus), "--out", str(out), "--classifier", "lexical", "-q",
                                      "--no-cache"])
    assert result.exit_code == 2 and "No space left on device" in result.output
    assert files_of(out) == before
    assert leftovers(out) == []


@pytest.mark.slow
def test_a_run_killed_while_writing_leaves_the_last_run_whole(tmp_path):
    """kill -9 while the reports are being written: the folder holds the earlier run, whole; the next run cleans up."""
    corpus = write_corpus(tmp_path / "corpus", 30)
    out = tmp_path / "out"
    map_run(corpus, out)
    before = files_of(out)
    (corpus / "doc000.txt").write_text(TEXT + "\nA new edition.\n", encoding="utf-8")
    command = [sys.executable, "-m", "pipeline.cli", "map", str(corpus), "--out", str(out), "--classifier",
               "lexical", "-q", "--no-cache"]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not any((path / "gap_table.csv").exists() for path in leftovers(out)):
        time.sleep(0.01)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert files_of(out) == before
    map_run(corpus, out)
    assert leftovers(out) == [] and ids_by_name(out) != {}


@pytest.mark.slow
def test_a_dask_local_cluster_run_equals_the_local_run(tmp_path):
    pytest.importorskip("dask.distributed")
    corpus = write_corpus(tmp_path / "corpus", 6)
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.7 not really")
    local = map_run(corpus, tmp_path / "local")
    on_dask = map_run(corpus, tmp_path / "dask", "--dask", "local")
    assert on_dask["executor"]["executor"] == "dask" and local["executor"]["executor"] == "local"
    for name in STREAMED:
        assert (tmp_path / "local" / name).read_bytes() == (tmp_path / "dask" / name).read_bytes(), name


def traced_peak_of_a_run(tmp_path, documents: int) -> tuple[int, int]:
    """(peak bytes of Python allocations in this process, bytes of passages, verdicts and matches written)."""
    import tracemalloc

    corpus = tmp_path / f"corpus-{documents}"
    corpus.mkdir()
    paragraph = TEXT.replace("\n\n", " ")
    for number in range(documents):
        body = "\n\n".join(f"{paragraph} Section {number}.{part} of document {number}." for part in range(30))
        (corpus / f"doc{number:03d}.txt").write_text(body, encoding="utf-8")
    out = tmp_path / f"out-{documents}"
    tracemalloc.start()
    try:
        map_run(corpus, out)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    written = sum((out / name).stat().st_size for name in ("passages.jsonl", "coverage.jsonl", "matches.csv"))
    return peak, written


@pytest.mark.slow
def test_memory_stays_bounded_by_one_document_not_the_corpus(tmp_path):
    """Four times the documents: the parent's peak memory grows by a small part of what the run holds more.

    Holding every passage, match and verdict at once (what a run did before it streamed) grows memory by more
    than their JSON grows on disk; a streamed run holds one document's worth, plus a few numbers per document
    (its name and counts, for the index), whatever the corpus size.
    """
    small_peak, small_written = traced_peak_of_a_run(tmp_path, 40)
    large_peak, large_written = traced_peak_of_a_run(tmp_path, 160)
    assert large_written - small_written > 8 * 2**20, "the corpus must grow enough for the comparison to mean much"
    assert large_peak - small_peak < (large_written - small_written) / 10, (small_peak, large_peak, large_written)
