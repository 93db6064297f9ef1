"""Untrusted names shown to a person: control and bidi characters as escapes, everything else as written."""

import pytest

from pipeline.display import visible_controls


@pytest.mark.parametrize(("name", "shown"), [
    ("plan.pdf", "plan.pdf"),
    ("Plan [draft] ñ 東京 – “x”.pdf", "Plan [draft] ñ 東京 – “x”.pdf"),
    ("plan\x1b[2J.txt", "plan\\x1b[2J.txt"),
    ("notes\x1b]0;title\x07.txt", "notes\\x1b]0;title\\x07.txt"),
    ("a\r=cmd.txt", "a\\r=cmd.txt"),
    ("tab\there\nnext", "tab\\there\\nnext"),
    ("c1\x9b31m", "c1\\x9b31m"),
    ("del\x7f", "del\\x7f"),
    ("report\u202egnp.exe", "report\\u202egnp.exe"),
    ("\u2066isolate\u2069 \u200fmark\u061c", "\\u2066isolate\\u2069 \\u200fmark\\u061c"),
    ("line\u2028para\u2029", "line\\u2028para\\u2029"),
])
def test_acting_characters_are_escaped(name, shown):
    assert visible_controls(name) == shown


def test_kept_characters_stay():
    assert visible_controls("a\nb\x1b", keep="\n") == "a\nb\\x1b"
