"""The extraction cache: a second run reads nothing it already extracted; a changed file is read again, alone."""

import json
import os
from collections import Counter
from pathlib import Path

import pytest

import pipeline.extract as extract
from pipeline.extract import extract_all, extract_file
from pipeline.extract.cache import ExtractCache, FailedExtraction, document_from_json, document_to_json
from tests.conftest import make_docx, make_pdf


@pytest.fixture
def corpus(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "a.txt").write_text("Brothers and sisters must stay together.", encoding="utf-8")
    (folder / "b.md").write_text("# Secure care\n\nSecure care is a last resort.", encoding="utf-8")
    (folder / "c.html").write_text("<html><body><main><h1>Kinship</h1><p>Kinship carers get support.</p></main>"
                                   "</body></html>", encoding="utf-8")
    (folder / "d_broken.pdf").write_bytes(b"%PDF-1.4 truncated")
    return folder


@pytest.fixture
def counted(monkeypatch):
    """Count extractor calls by file name (extraction runs in this process: workers=0)."""
    calls: Counter = Counter()
    for suffix, extractor in list(extract.EXTRACTORS.items()):
        def counting(path, *, password=None, _extractor=extractor):
            calls[path.rsplit("/", 1)[-1]] += 1
            return _extractor(path, password=password)
        monkeypatch.setitem(extract.EXTRACTORS, suffix, counting)
    return calls


def run(folder, cache_dir, **options):
    return list(extract_all(sorted(folder.iterdir()), cache_dir=cache_dir, **options))


def test_second_run_reads_nothing_it_already_extracted(corpus, tmp_path, counted):
    cache_dir = tmp_path / "cache"
    first = run(corpus, cache_dir, workers=0)
    assert dict(counted) == {"a.txt": 1, "b.md": 1, "c.html": 1, "d_broken.pdf": 1}
    counted.clear()
    second = run(corpus, cache_dir, workers=0)
    assert not counted, "a damaged file fails the same way again, so its failure is cached too"
    assert [r.from_cache for r in second] == [True] * 4
    assert [(r.document, r.problems) for r in second] == [(r.document, r.problems) for r in first]
    assert second[3].document is None and "damaged or unreadable PDF" in second[3].problems[0].reason


def test_a_fixed_file_is_tried_again(corpus, tmp_path, counted):
    cache_dir = tmp_path / "cache"
    run(corpus, cache_dir, workers=0)
    make_pdf(corpus / "d_broken.pdf", [[("body", "Now a whole PDF.")]])
    counted.clear()
    results = run(corpus, cache_dir, workers=0)
    assert dict(counted) == {"d_broken.pdf": 1}
    assert results[3].document is not None and not results[3].from_cache


def test_changing_one_file_re_extracts_only_that_file(corpus, tmp_path, counted):
    cache_dir = tmp_path / "cache"
    run(corpus, cache_dir, workers=0)
    (corpus / "b.md").write_text("# Secure care\n\nSecure care must end for under-18s.", encoding="utf-8")
    counted.clear()
    results = run(corpus, cache_dir, workers=0)
    assert dict(counted) == {"b.md": 1}
    assert results[1].document.text.endswith("must end for under-18s.")
    assert [r.from_cache for r in results] == [True, False, True, True]


def test_the_cache_works_the_same_through_worker_processes(corpus, tmp_path):
    cache_dir = tmp_path / "cache"
    cold = run(corpus, cache_dir, workers=2)
    warm = run(corpus, cache_dir, workers=2)
    assert [r.from_cache for r in cold] == [False] * 4
    assert [r.from_cache for r in warm] == [True] * 4
    assert [(r.document, r.problems) for r in warm] == [(r.document, r.problems) for r in cold]


def test_a_moved_file_hits_and_takes_its_new_name(corpus, tmp_path, counted):
    cache_dir = tmp_path / "cache"
    run(corpus, cache_dir, workers=0)
    moved = tmp_path / "elsewhere" / "renamed.txt"
    moved.parent.mkdir()
    (corpus / "a.txt").rename(moved)
    counted.clear()
    (result,) = extract_all([moved], cache_dir=cache_dir, workers=0)
    assert not counted and result.from_cache
    assert (result.document.name, result.document.path) == ("renamed.txt", str(moved))


def test_settings_and_code_are_part_of_the_key(corpus, tmp_path, counted, monkeypatch):
    cache_dir = tmp_path / "cache"
    path = corpus / "a.txt"
    list(extract_all([path], cache_dir=cache_dir, workers=0))
    list(extract_all([path], cache_dir=cache_dir, workers=0, password="secret"))
    assert counted["a.txt"] == 2, "a password given is a different setting"
    list(extract_all([path], cache_dir=cache_dir, workers=0, password="another"))
    assert counted["a.txt"] == 3, "and so is another password"
    list(extract_all([path], cache_dir=cache_dir, workers=0, password="another"))
    assert counted["a.txt"] == 3
    assert not any(b"another" in entry.read_bytes() for entry in cache_dir.rglob("*.json")), "never stored"
    monkeypatch.setattr(extract, "EXTRACTOR_VERSION", "changed")
    list(extract_all([path], cache_dir=cache_dir, workers=0))
    assert counted["a.txt"] == 4, "a new extractor version misses"
    same_bytes_other_type = corpus / "a.md"
    same_bytes_other_type.write_bytes(path.read_bytes())
    list(extract_all([same_bytes_other_type], cache_dir=cache_dir, workers=0))
    assert counted["a.md"] == 1, "another extension means another extractor"


def test_the_cache_folder_is_git_ignored_and_holds_no_temporary_files(corpus, tmp_path):
    cache_dir = tmp_path / "cache"
    run(corpus, cache_dir, workers=0)
    assert (cache_dir / ".gitignore").read_text(encoding="utf-8").splitlines()[-1] == "*"
    entries = [p for p in cache_dir.rglob("*") if p.is_file() and p.name != ".gitignore"]
    assert all(p.suffix == ".json" for p in entries)
    assert len([p for p in entries if "hashes" not in p.parts]) == 4, "one entry per file"
    assert len([p for p in entries if "hashes" in p.parts]) == 4, "and one remembered hash per file"


def test_a_damaged_entry_is_a_miss_and_is_rewritten(corpus, tmp_path, counted):
    cache_dir = tmp_path / "cache"
    run(corpus, cache_dir, workers=0)
    for entry in cache_dir.rglob("*.json"):
        entry.write_text('{"format": 1, "key": "trunc', encoding="utf-8")
    counted.clear()
    run(corpus, cache_dir, workers=0)
    assert sum(counted.values()) == 4
    counted.clear()
    assert [r.from_cache for r in run(corpus, cache_dir, workers=0)] == [True] * 4


def test_a_cache_that_cannot_be_written_costs_a_row_not_the_file(corpus, tmp_path):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder should be", encoding="utf-8")
    (result,) = extract_all([corpus / "a.txt"], cache_dir=blocked, workers=0)
    assert result.document is not None
    assert [(p.stage, p.reason.split(" (")[0]) for p in result.problems] == [("cache", "could not be cached")]


def test_no_cache_dir_means_no_cache(corpus, tmp_path, counted, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run(corpus, None, workers=0)
    run(corpus, None, workers=0)
    assert counted["a.txt"] == 2
    assert not (tmp_path / ".cache").exists()


def test_documents_survive_the_json_round_trip(tmp_path):
    pdf = make_pdf(tmp_path / "plan.pdf", [[("h1", "Family Support"), ("body", "We will open family hubs.")],
                                           [("body", "Second page.")]], running_head="Glenmore Plan")
    docx = make_docx(tmp_path / "plan.docx", heading="Kinship", paragraphs=["Support for carers."],
                     bullets=["Allowances"], table=[["Action", "Lead"]])
    for path in (pdf, docx):
        document = extract_file(path)
        payload = json.loads(json.dumps(document_to_json(document)))
        assert document_from_json(payload) == document


def test_keys_differ_by_content_fingerprint_and_settings(tmp_path):
    cache = ExtractCache(tmp_path, fingerprint="f1")
    base = cache.key("0" * 64, {"suffix": ".pdf", "password_given": False})
    assert base != cache.key("1" * 64, {"suffix": ".pdf", "password_given": False})
    assert base != cache.key("0" * 64, {"suffix": ".pdf", "password_given": True})
    assert base != ExtractCache(tmp_path, fingerprint="f2").key("0" * 64, {"suffix": ".pdf", "password_given": False})
    assert base == ExtractCache(tmp_path / "other", fingerprint="f1").key(
        "0" * 64, {"password_given": False, "suffix": ".pdf"})


def test_transient_failures_are_never_cached(tmp_path):
    cache = ExtractCache(tmp_path, fingerprint="f")
    with pytest.raises(ValueError, match="lasting"):
        cache.store("0" * 64, FailedExtraction(reason="cannot be read (Permission denied)", lasting=False))


def test_a_wrong_password_then_the_right_one(tmp_path):
    from reportlab.pdfgen import canvas

    path = tmp_path / "locked.pdf"
    sheet = canvas.Canvas(str(path), encrypt="right")
    sheet.drawString(72, 720, "Hidden plan.")
    sheet.save()
    cache_dir = tmp_path / "cache"
    (wrong,) = extract_all([path], password="wrong", cache_dir=cache_dir, workers=0)
    (right,) = extract_all([path], password="right", cache_dir=cache_dir, workers=0)
    (again,) = extract_all([path], password="right", cache_dir=cache_dir, workers=0)
    assert wrong.document is None and right.document is not None and not right.from_cache
    assert again.from_cache and again.document == right.document


def test_a_failure_is_tried_again_when_a_limit_is_raised(tmp_path):
    cache = ExtractCache(tmp_path, fingerprint="f", limits={"seconds": 60.0, "memory_bytes": 2**30})
    cache.store("ab" * 32, FailedExtraction(reason="damaged or unreadable PDF: out of memory"))
    for limits, served in [({"seconds": 60.0, "memory_bytes": 2**30}, True),
                           ({"seconds": 10.0, "memory_bytes": 2**29}, True),
                           ({"seconds": 60.0, "memory_bytes": 2**31}, False),
                           ({"seconds": 120.0, "memory_bytes": 2**30}, False),
                           ({"seconds": 60.0, "memory_bytes": None}, False)]:
        entry = ExtractCache(tmp_path, fingerprint="f", limits=limits).load("ab" * 32, name="x.pdf", path="x.pdf")
        assert (entry is not None) is served, limits


@pytest.fixture
def sent_to_workers(monkeypatch):
    """The files each extract_all call hands to workers (their paths), call by call."""
    calls: list[list[str]] = []
    real_read_files = extract.read_files

    def spying(tasks, **options):
        calls.append([Path(task[0]).name for task in tasks])
        return real_read_files(tasks, **options)

    monkeypatch.setattr(extract, "read_files", spying)
    return calls


def test_a_re_run_of_an_unchanged_corpus_starts_no_worker(corpus, tmp_path, sent_to_workers):
    """Files are hashed in the workers; the hash is remembered by the file's identity, so an unchanged file
    needs no worker (and no second read) next time, as when the parent hashed it."""
    cache_dir = tmp_path / "cache"
    run(corpus, cache_dir, workers=2)
    warm = run(corpus, cache_dir, workers=2)
    assert [r.from_cache for r in warm] == [True] * 4
    assert sent_to_workers == [["a.txt", "b.md", "c.html", "d_broken.pdf"], []]


def test_a_file_rewritten_with_its_old_size_and_time_is_hashed_again(corpus, tmp_path, counted, sent_to_workers):
    cache_dir = tmp_path / "cache"
    path = corpus / "a.txt"
    run(corpus, cache_dir, workers=0)
    before = path.stat()
    path.write_text("Brothers and sisters must live together.", encoding="utf-8")  # as long as the old text
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_size == before.st_size
    counted.clear()
    results = run(corpus, cache_dir, workers=0)
    assert sent_to_workers[-1] == ["a.txt"] and dict(counted) == {"a.txt": 1}
    assert results[0].document.text == "Brothers and sisters must live together."
