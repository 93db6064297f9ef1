"""Worker processes: a hostile input (hang, crash, memory hog) costs one row, never the run; order is kept."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.extract import ExtractionError, extract_all, failure_reason
from pipeline.extract.worker import Failure, Outcome, run_isolated
from pipeline.types import Document
from tests.conftest import make_docx, make_pdf

MIB = 2**20


# Functions the workers run: module-level, so a worker can import them by name.

def behave(kind: str, amount: float = 0) -> object:
    """Do what `kind` says: return, sleep, crash, hog memory or raise; returns the worker's pid when it returns."""
    if kind == "sleep":
        time.sleep(amount)
    elif kind == "segfault":
        os.kill(os.getpid(), signal.SIGSEGV)
    elif kind == "abort":
        os.abort()
    elif kind == "exit":
        os._exit(3)
    elif kind == "hog":
        hoard = bytearray(int(amount))
        return len(hoard)
    elif kind == "raise":
        raise ExtractionError(f"refused {amount}")
    return os.getpid()


_HELD: list[bytearray] = []


def hold(megabytes: int) -> int:
    """Keep `megabytes` more resident in this worker (as a loaded model would), then return the worker's pid."""
    if megabytes:
        _HELD.append(bytearray(b"\x01" * (megabytes * 1024**2)))
    return os.getpid()


def record_pid_and_sleep(folder: str, seconds: float) -> int:
    """Leave this worker's pid in `folder`, then sleep: a call that is still running when its parent dies."""
    Path(folder, f"{os.getpid()}.pid").touch()
    time.sleep(seconds)
    return os.getpid()


def process_gone(pid: int) -> bool:
    """Whether `pid` has ended; a zombie (dead, waiting for a parent to reap it) has ended."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as status:
            return status.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True
    except OSError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def wait_until(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_hang_crash_and_memory_hog_each_cost_one_outcome_and_the_run_goes_on():
    inputs = [("sleep", 30), ("value",), ("segfault",), ("hog", 2048 * MIB), ("abort",), ("exit",),
              ("raise", 7), ("hog", 16 * MIB), ("value",)]
    started = time.monotonic()
    outcomes = list(run_isolated(behave, inputs, workers=2, time_limit=2.0, memory_limit=256 * MIB))
    elapsed = time.monotonic() - started
    assert [o.index for o in outcomes] == list(range(len(inputs)))
    assert [o.failure for o in outcomes] == [Failure.TIMEOUT, None, Failure.CRASHED, Failure.MEMORY,
                                             Failure.CRASHED, Failure.CRASHED, Failure.RAISED, None, None]
    assert outcomes[2].message == "killed by SIGSEGV"
    assert outcomes[4].message == "killed by SIGABRT"
    assert outcomes[5].message == "exited with status 3"
    assert (outcomes[6].error_type, outcomes[6].message) == ("ExtractionError", "refused 7")
    assert outcomes[7].value == 16 * MIB
    assert 2.0 <= outcomes[0].seconds < 5.0
    assert elapsed < 15, "the hanging call must be stopped at its limit, not waited for"


def test_outcomes_come_back_in_input_order_whatever_order_workers_finish_in():
    inputs = [("sleep", 1.5), ("sleep", 0.0), ("sleep", 0.3), ("sleep", 0.0), ("sleep", 0.1)]
    outcomes = list(run_isolated(behave, inputs, workers=2, time_limit=10))
    assert [o.index for o in outcomes] == [0, 1, 2, 3, 4]
    assert all(o.ok for o in outcomes)
    assert len({o.value for o in outcomes}) == 2, "two workers share the calls"


def test_a_killed_worker_is_replaced_and_later_inputs_still_run():
    outcomes = list(run_isolated(behave, [("sleep", 30), ("value",), ("value",)], workers=1, time_limit=1.0))
    assert outcomes[0].failure is Failure.TIMEOUT
    assert outcomes[1].ok and outcomes[2].ok
    assert process_gone(outcomes[1].value) and outcomes[1].value == outcomes[2].value


def test_workers_are_recycled_after_their_task_quota():
    outcomes = list(run_isolated(behave, [("value",)] * 4, workers=1, time_limit=10, tasks_per_worker=2))
    pids = [o.value for o in outcomes]
    assert pids[0] == pids[1] != pids[2] == pids[3]


def test_what_a_worker_loads_on_its_first_call_is_its_floor_and_growth_past_it_replaces_it():
    from pipeline.extract.worker import RECYCLE_GROWTH_BYTES, RECYCLE_RSS_BYTES

    loaded = RECYCLE_RSS_BYTES // 1024**2 + 64  # a first call that loads more than the plain ceiling
    grown = RECYCLE_GROWTH_BYTES // 1024**2 + 64
    calls = [(loaded,), (0,), (0,), (grown,), (0,)]
    pids = [o.value for o in run_isolated(hold, calls, workers=1, time_limit=30, memory_limit=None)]
    assert pids[0] == pids[1] == pids[2] == pids[3] != pids[4]


def test_abandoning_the_iteration_stops_every_worker():
    iteration = run_isolated(behave, [("value",), ("sleep", 30), ("sleep", 30)], workers=2, time_limit=60)
    first = next(iteration)
    iteration.close()
    assert first.ok
    deadline = time.monotonic() + 5
    while not process_gone(first.value) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process_gone(first.value)


def test_peak_memory_is_measured_per_call():
    small, large = run_isolated(behave, [("hog", 1 * MIB), ("hog", 200 * MIB)], workers=1, time_limit=30)
    assert large.peak_rss_bytes - small.peak_rss_bytes > 150 * MIB, "the peak is reset between calls"


def test_a_function_that_cannot_be_sent_is_refused_up_front():
    with pytest.raises(ValueError, match="module-level function"):
        list(run_isolated(lambda: None, [()]))


def test_no_inputs_start_no_workers():
    assert list(run_isolated(behave, [])) == []


# --- the same through extract_all ---------------------------------------------------------------------

def long_pdf(path: Path, pages: int) -> Path:
    paragraph = ("Every child will have a named worker who stays with them through their time in care, "
                 "and every family will get help early, before a crisis. ") * 6
    return make_pdf(path, [[("h1", f"Section {n}"), ("body", paragraph), ("body", paragraph)] for n in range(pages)])


def text_heavy_pdf(path: Path, pages: int) -> Path:
    """Pages full of lines of text, drawn straight on the canvas (quick to make, slow to read)."""
    from reportlab.pdfgen import canvas

    sheet = canvas.Canvas(str(path))
    for _ in range(pages):
        for line in range(50):
            sheet.drawString(40, 800 - 15 * line, "Every child will have a named worker who stays with them.")
        sheet.showPage()
    sheet.save()
    return path


def test_extract_all_skips_a_file_past_its_time_limit_and_goes_on(tmp_path):
    slow = text_heavy_pdf(tmp_path / "a_slow.pdf", 400)  # seconds of work; the limit is a tenth of one
    quick = tmp_path / "b_quick.txt"
    quick.write_text("Brothers and sisters must stay together.", encoding="utf-8")
    results = list(extract_all([slow, quick], cache_dir=None, workers=1, time_limit=0.1))
    assert results[0].document is None
    assert [(p.file, p.stage, p.reason) for p in results[0].problems] == [
        ("a_slow.pdf", "extract", "took longer than 0.1 s: skipped")]
    assert results[0].seconds < 2.0
    assert isinstance(results[1].document, Document) and not results[1].problems


def test_extract_all_skips_a_file_past_its_memory_limit_and_goes_on(tmp_path):
    huge = tmp_path / "a_huge.txt"
    huge.write_bytes(b"The promise will be kept. " * (3 * 1024 * 1024))  # 78 MB of text
    quick = tmp_path / "b_quick.md"
    quick.write_text("# Care\n\nKinship carers get support.", encoding="utf-8")
    results = list(extract_all([huge, quick], cache_dir=None, workers=1, memory_limit=16 * MIB))
    assert [p.reason for p in results[0].problems] == ["needed more than 16 MiB of memory: skipped"]
    assert results[1].document is not None


def docx_bomb(path: Path, template: Path, megabytes: int) -> Path:
    """A small .docx whose document.xml inflates to `megabytes` of paragraphs (a zip bomb)."""
    import zipfile

    paragraph = ("<w:p><w:r><w:t>" + "A" * 1000 + "</w:t></w:r></w:p>") * 1000
    with zipfile.ZipFile(template) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as bomb:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename != "word/document.xml":
                bomb.writestr(item, data)
                continue
            head, tail = data.split(b"<w:sectPr", 1)
            with bomb.open(item.filename, "w") as stream:
                stream.write(head)
                for _ in range(megabytes):
                    stream.write(paragraph.encode())
                stream.write(b"<w:sectPr" + tail)
    return path


def test_a_zip_bomb_docx_is_stopped_by_the_memory_limit(tmp_path):
    template = make_docx(tmp_path / "template.docx", heading="Plan", paragraphs=["Text."])
    bomb = docx_bomb(tmp_path / "bomb.docx", template, megabytes=300)
    assert bomb.stat().st_size < 2 * MIB
    (result,) = extract_all([bomb], cache_dir=None, memory_limit=128 * MIB)
    assert result.document is None
    assert [p.reason for p in result.problems] == ["needed more than 128 MiB of memory: skipped"]


@pytest.mark.parametrize(("outcome", "reason"), [
    (Outcome(0, failure=Failure.CRASHED, message="killed by SIGSEGV"),
     "the reader crashed on this file (killed by SIGSEGV; perhaps out of memory under the 2048 MiB limit): skipped"),
    (Outcome(0, failure=Failure.RAISED, error_type="KeyError", message="'Root'"),
     "extraction failed unexpectedly (KeyError: 'Root')"),
    (Outcome(0, failure=Failure.TIMEOUT), "took longer than 60 s: skipped"),
    (Outcome(0, failure=Failure.MEMORY), "needed more than 2048 MiB of memory: skipped"),
])
def test_failure_reasons_are_sentences_a_person_understands(outcome, reason):
    assert failure_reason(outcome, 60.0, 2048 * MIB) == reason


def encrypted_pdf(path: Path, password: str, text: str) -> Path:
    from reportlab.pdfgen import canvas

    sheet = canvas.Canvas(str(path), encrypt=password)
    sheet.drawString(72, 720, text)
    sheet.save()
    return path


def test_each_file_can_have_its_own_password(tmp_path):
    first = encrypted_pdf(tmp_path / "first.pdf", "one", "Siblings stay together.")
    second = encrypted_pdf(tmp_path / "second.pdf", "two", "Secure care is a last resort.")
    results = list(extract_all([first, second], passwords={"first.pdf": "one", str(second): "two"}, cache_dir=None))
    assert [r.document.text if r.document else r.problems for r in results] == [
        "Siblings stay together.", "Secure care is a last resort."]


def test_a_wrong_password_is_a_row_that_says_so(tmp_path):
    locked = encrypted_pdf(tmp_path / "locked.pdf", "right", "Hidden text.")
    (result,) = extract_all([locked], password="wrong", cache_dir=None)
    assert result.document is None
    assert "password" in result.problems[0].reason.lower()


def test_in_process_and_worker_extraction_give_the_same_documents(tmp_path):
    long_pdf(tmp_path / "plan.pdf", 3)
    (tmp_path / "notes.md").write_text("# Notes\n\n- one\n- two\n", encoding="utf-8")
    (tmp_path / "empty.txt").write_bytes(b"")
    paths = sorted(tmp_path.iterdir())
    here = [(r.document, r.problems) for r in extract_all(paths, workers=0, cache_dir=None)]
    isolated = [(r.document, r.problems) for r in extract_all(paths, workers=2, cache_dir=None)]
    assert here == isolated
    assert [d is None for d, _ in here] == [True, False, False]


def bytes_read_by_this_thread() -> int:
    """What this thread has read through read(2) so far (Linux's `rchar`).

    The thread's own figure, not the process's: a process's counts take in those of the children it has reaped,
    and the workers do read the file.
    """
    with open("/proc/thread-self/io", encoding="ascii") as io:
        return next(int(line.split()[1]) for line in io if line.startswith("rchar:"))


@pytest.mark.skipif(not Path("/proc/thread-self/io").is_file(), reason="needs Linux's /proc to count bytes read")
def test_a_huge_file_is_hashed_in_its_worker_under_the_time_limit_not_in_the_parent(tmp_path):
    """Issue 11: the parent hashed every file before any worker ran, so a 150 GB sparse file cost 222 s there."""
    huge = tmp_path / "a_huge.txt"
    with huge.open("wb") as handle:
        handle.write(b"Brothers and sisters must stay together.\n")
        handle.truncate(20 * 1024**3)  # 20 GiB, sparse: nothing is written to disk
    good = tmp_path / "b_good.txt"
    good.write_text("Kinship carers get the same support as foster carers.", encoding="utf-8")
    before = bytes_read_by_this_thread()
    started = time.monotonic()
    results = list(extract_all([huge, good], cache_dir=tmp_path / "cache", workers=2, time_limit=1.0))
    elapsed = time.monotonic() - started
    assert bytes_read_by_this_thread() - before < 50 * MIB, "the parent read the file's content"
    assert [p.reason for p in results[0].problems] == ["took longer than 1 s: skipped"]
    assert results[1].document is not None and not results[1].problems
    assert elapsed < 30, "the run waited for more than the file's own time limit"


PARENT_SCRIPT = """
import sys
from pipeline.extract.worker import run_isolated
from tests.test_extract_workers import record_pid_and_sleep
list(run_isolated(record_pid_and_sleep, [(sys.argv[1], 120.0), (sys.argv[1], 120.0)], workers=2, time_limit=300))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="workers die with their parent on Linux")
def test_workers_die_with_a_parent_killed_by_sigkill(tmp_path):
    """Issue 11: after `kill -9` of the run, its workers were re-parented and went on (one held 950 MB for 4 min)."""
    repo = Path(__file__).resolve().parent.parent
    parent = subprocess.Popen([sys.executable, "-c", PARENT_SCRIPT, str(tmp_path)], cwd=repo)
    worker_pids: list[int] = []
    try:
        assert wait_until(lambda: len(list(tmp_path.glob("*.pid"))) == 2, 60), "the workers did not start"
        worker_pids = [int(path.stem) for path in tmp_path.glob("*.pid")]
        parent.kill()
        parent.wait()
        assert wait_until(lambda: all(process_gone(pid) for pid in worker_pids), 5), "a worker outlived its parent"
    finally:
        parent.kill()
        parent.wait()
        for pid in worker_pids:  # only the workers this test started, should one have outlived its parent
            if not process_gone(pid):
                os.kill(pid, signal.SIGKILL)
