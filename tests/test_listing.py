"""Listing a corpus folder (issue 11): links out of it, link loops, special files, unreadable and output folders.

Every entry that is not listed as an input has a `list` row saying why; nothing is followed out of
the folder, nothing is opened that could block, no file is listed twice.
"""

import json
import os
import signal
import socket
import stat
from pathlib import Path

import pytest

import pipeline.extract.listing as listing
from pipeline.extract import ListingError, list_inputs, scan_inputs

#: A listing that takes longer than this has blocked on something (a FIFO opened for reading).
BLOCKED_SECONDS = 20


@pytest.fixture
def corpus(tmp_path):
    folder = tmp_path / "corpus"
    (folder / "2024").mkdir(parents=True)
    (folder / "plan.txt").write_text("Brothers and sisters stay together.", encoding="utf-8")
    (folder / "2024" / "report.md").write_text("# Report\n\nKinship care.", encoding="utf-8")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("not part of the corpus", encoding="utf-8")
    return folder


@pytest.fixture
def no_blocking():
    """Fail the test, instead of hanging it, if listing opens something that blocks."""
    def blocked(signum, frame):
        raise TimeoutError("listing blocked")

    previous = signal.signal(signal.SIGALRM, blocked)
    signal.alarm(BLOCKED_SECONDS)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def names(paths, root):
    return [path.relative_to(root).as_posix() for path in paths]


def rows(result):
    return {row.file: (row.stage, row.reason) for row in result.skipped}


def test_a_plain_folder_lists_every_file_and_skips_nothing(corpus):
    result = scan_inputs(corpus)
    assert names(result.paths, corpus) == ["2024/report.md", "plan.txt"]
    assert result.skipped == []
    assert list_inputs(corpus) == result.paths


def test_links_out_of_the_corpus_are_not_followed_and_each_gets_a_row(corpus, tmp_path):
    (corpus / "passwd.txt").symlink_to("/etc/passwd")
    (corpus / "elsewhere").symlink_to(tmp_path / "outside")
    (corpus / "2024" / "sneaky.txt").symlink_to("../../outside/secret.txt")
    result = scan_inputs(corpus)
    assert names(result.paths, corpus) == ["2024/report.md", "plan.txt"]
    skipped = rows(result)
    assert set(skipped) == {"passwd.txt", "elsewhere", "2024/sneaky.txt"}
    for stage, reason in skipped.values():
        assert stage == "list" and "outside the corpus folder" in reason


def test_links_inside_the_corpus_are_followed_but_no_file_is_listed_twice(corpus):
    (corpus / "a-latest").symlink_to("2024")  # sorts before the folder it points to
    (corpus / "alias.txt").symlink_to("plan.txt")
    (corpus / "2024" / "up").symlink_to("..")
    (corpus / "linked-only").mkdir()
    (corpus / "linked-only" / "notes.txt").write_text("Voice of the child.", encoding="utf-8")
    (corpus / "2024" / "notes-link.txt").symlink_to("../linked-only/notes.txt")
    result = scan_inputs(corpus)
    assert names(result.paths, corpus) == ["2024/report.md", "linked-only/notes.txt", "plan.txt"]
    skipped = rows(result)
    assert set(skipped) == {"a-latest", "alias.txt", "2024/up", "2024/notes-link.txt"}
    assert "2024" in skipped["a-latest"][1] and "already" in skipped["a-latest"][1]
    assert "plan.txt" in skipped["alias.txt"][1]
    assert "loop" in skipped["2024/up"][1]


def test_a_file_reached_only_through_a_link_inside_the_corpus_is_listed(corpus, tmp_path):
    (corpus / "current").symlink_to("2024")
    result = scan_inputs(corpus)
    assert names(result.paths, corpus) == ["2024/report.md", "plan.txt"]
    (corpus / "2024").rename(corpus / ".2024-hidden")
    (corpus / "current").unlink()
    (corpus / "current").symlink_to(".2024-hidden")
    assert names(scan_inputs(corpus).paths, corpus) == ["current/report.md", "plan.txt"]


def test_link_loops_and_broken_links_each_get_a_row(corpus):
    (corpus / "loop-a.txt").symlink_to("loop-b.txt")
    (corpus / "loop-b.txt").symlink_to("loop-a.txt")
    (corpus / "gone.txt").symlink_to("nowhere.txt")
    result = scan_inputs(corpus)
    assert names(result.paths, corpus) == ["2024/report.md", "plan.txt"]
    skipped = rows(result)
    assert "loop" in skipped["loop-a.txt"][1] and "loop" in skipped["loop-b.txt"][1]
    assert "broken link" in skipped["gone.txt"][1]


def test_fifos_sockets_and_devices_get_a_row_and_never_block(corpus, no_blocking):
    os.mkfifo(corpus / "pipe.txt")
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(corpus / "socket.txt"))
    expected = {"pipe.txt": "named pipe", "socket.txt": "socket"}
    try:
        os.mknod(corpus / "device.txt", stat.S_IFCHR | 0o600, os.makedev(1, 3))
        expected["device.txt"] = "device"
    except PermissionError:
        pass  # not allowed to make device files here: the other kinds are still checked
    try:
        result = scan_inputs(corpus)
    finally:
        server.close()
    assert names(result.paths, corpus) == ["2024/report.md", "plan.txt"]
    skipped = rows(result)
    assert set(skipped) == set(expected)
    for name, kind in expected.items():
        assert kind in skipped[name][1] and skipped[name][0] == "list"


def test_a_folder_that_cannot_be_read_gets_a_row(corpus, monkeypatch):
    (corpus / "locked").mkdir()
    (corpus / "locked" / "hidden.txt").write_text("unreachable", encoding="utf-8")
    real_scandir = os.scandir

    def refusing(path):
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(listing.os, "scandir", refusing)
    result = scan_inputs(corpus)
    assert names(result.paths, corpus) == ["2024/report.md", "plan.txt"]
    assert rows(result) == {"locked": ("list", "a folder that cannot be read (Permission denied): its files are "
                                               "not listed")}


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads folders whatever their permissions say")
def test_a_folder_without_read_permission_gets_a_row(corpus):
    locked = corpus / "locked"
    locked.mkdir()
    (locked / "x.txt").write_text("unreachable", encoding="utf-8")
    locked.chmod(0)
    try:
        result = scan_inputs(corpus)
    finally:
        locked.chmod(0o755)
    assert "locked" in rows(result)


# --- output folders inside the corpus (issue 11: a run read its own report.html next time) ----------

def make_run_folder(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "report.html").write_text("<html><body><p>An earlier report.</p></body></html>", encoding="utf-8")
    (folder / "gap_table.md").write_text("| document | item |\n", encoding="utf-8")
    (folder / "run.json").write_text(json.dumps({"tool": {"name": "promise-map", "version": "0.1.0"}}, indent=2),
                                     encoding="utf-8")
    return folder


def test_the_output_folder_and_earlier_runs_inside_the_corpus_are_not_read(corpus):
    make_run_folder(corpus / "outputs" / "corpus")
    (corpus / "results").mkdir()
    (corpus / "results" / "summary.txt").write_text("written by this run", encoding="utf-8")
    result = scan_inputs(corpus, exclude=[corpus / "results"])
    assert names(result.paths, corpus) == ["2024/report.md", "plan.txt"]
    skipped = rows(result)
    assert set(skipped) == {"outputs/corpus", "results"}
    assert all(stage == "list" for stage, _ in skipped.values())
    assert "earlier promise-map run" in skipped["outputs/corpus"][1]
    assert "output folder" in skipped["results"][1]


def test_an_output_folder_given_by_a_relative_path_is_recognised(corpus, monkeypatch):
    monkeypatch.chdir(corpus)
    (corpus / "out").mkdir()
    (corpus / "out" / "report.html").write_text("<p>x</p>", encoding="utf-8")
    assert names(scan_inputs(Path("."), exclude=[Path("out")]).paths, Path(".")) == ["2024/report.md", "plan.txt"]


def test_a_run_json_written_by_something_else_does_not_exclude_its_folder(corpus):
    (corpus / "2024" / "run.json").write_text('{"name": "marathon training"}', encoding="utf-8")
    assert rows(scan_inputs(corpus)) == {}


def test_a_corpus_that_is_its_own_output_folder_is_refused(corpus):
    with pytest.raises(ListingError, match="output folder"):
        scan_inputs(corpus, exclude=[corpus])
    make_run_folder(corpus / "earlier")
    with pytest.raises(ListingError, match="earlier promise-map run"):
        scan_inputs(corpus / "earlier")
