"""The Makefile as a person uses it: `make setup` in a fresh clone says little, and paths with spaces work."""

import shutil
import subprocess

import pytest

from tests.conftest import REPO
from tests.test_cli_output import PROMISE_TEXT

pytestmark = pytest.mark.slow

#: Most lines `make setup` may print when all goes well: what it is doing, and that it is done.
SETUP_MAX_LINES = 4


def make(*arguments, cwd=REPO, timeout=900):
    return subprocess.run(["make", "--no-print-directory", *arguments], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


def require_make():
    if shutil.which("make") is None:
        pytest.skip("GNU make is not installed")


def test_map_takes_a_corpus_and_an_output_folder_with_spaces(tmp_path):
    """Regression: `make map CORPUS="my corpus"` failed with "Got unexpected extra argument(s)"."""
    require_make()
    corpus = tmp_path / "my corpus"
    corpus.mkdir()
    (corpus / "care plan.txt").write_text(PROMISE_TEXT, encoding="utf-8")
    out = tmp_path / "out dir" / "my run"
    result = make("map", f"CORPUS={corpus}", f"OUT={out}")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (out / "report.html").is_file() and (out / "gap_table.csv").is_file()


def test_the_default_output_folder_is_named_after_a_corpus_with_spaces(tmp_path):
    require_make()
    result = make("-n", "map", f"CORPUS={tmp_path}/my corpus/")
    assert result.returncode == 0, result.stderr
    [command] = [line for line in result.stdout.splitlines() if " map " in line]
    assert f'map "{tmp_path}/my corpus/" --out "outputs/my corpus"' in command


@pytest.mark.parametrize("target", ["compare", "eval", "train"])
def test_other_targets_quote_their_paths(target):
    require_make()
    result = make("-n", target, "A=plan one.txt", "B=plan two.txt", "OUT=outputs/run 1", "MODEL=models/a b.npz",
                  "SHARED=my shared")
    assert result.returncode == 0, result.stderr
    commands = result.stdout
    expected = {"compare": ['"plan one.txt" "plan two.txt" --run "outputs/run 1"'],
                "eval": ['"my shared/offtopic-web" "my shared/pdf-corpus"'],
                "train": ['--out "models/a b.npz"']}[target]
    for fragment in expected:
        assert fragment in commands, commands


def test_setup_in_a_fresh_clone_prints_only_what_a_person_needs(tmp_path):
    """Regression: about 190 lines of pip warnings about this machine's pip configuration, and a setuptools
    deprecation notice for `project.license` as a table."""
    require_make()
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git work tree: nothing to clone")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True, timeout=120)
    result = make("setup", cwd=clone)
    printed = (result.stdout + result.stderr).splitlines()
    assert result.returncode == 0, "\n".join(printed)
    assert len(printed) <= SETUP_MAX_LINES, "\n".join(printed)
    assert not [line for line in printed if "warning" in line.lower() or "deprecat" in line.lower()]
    assert (clone / ".venv" / "bin" / "promise-map").is_file()
