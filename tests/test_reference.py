from collections import Counter

import pytest
import yaml

from pipeline.reference import ReferenceError, load_reference
from tests.conftest import REFERENCE_DIR

EXPECTED_IDS = (
    [f"VOICE-{n}" for n in range(1, 7)] + [f"FAMILY-{n}" for n in range(1, 9)] + [f"CARE-{n}" for n in range(1, 23)]
    + [f"PEOPLE-{n}" for n in range(1, 9)] + [f"SCAFFOLDING-{n}" for n in range(1, 12)]
    + [f"IP-{n:02d}" for n in range(1, 14)]
)


def test_ids_are_exactly_the_stable_ids_in_order(reference_set):
    assert [item.id for item in reference_set.items] == EXPECTED_IDS


def test_group_counts(reference_set):
    counts = Counter(item.group for item in reference_set.items)
    assert counts == {"Voice": 6, "Family": 8, "Care": 22, "People": 8, "Scaffolding": 11,
                      "Inspection and Regulation": 13}


def test_items_are_clean_text_with_titles_and_sources(reference_set):
    for item in reference_set.items:
        assert item.text and item.title and item.source
        assert "<" not in item.text and ">" not in item.text and "\t" not in item.text
    assert reference_set.item("CARE-3").title == "BROTHERS and SISTERS"
    assert reference_set.item("IP-07").text.startswith("When using 'young inspectors'")


def test_frameworks_record_version_and_source(reference_set):
    for framework in reference_set.frameworks:
        assert framework.version and framework.source
    assert len(reference_set.sha256) == 64


def copy_reference(tmp_path, mutate):
    """Copy the real reference files into tmp_path, letting `mutate` change the calls file's data."""
    for path in REFERENCE_DIR.glob("*.yaml"):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if data["framework"] == "calls_to_action":
            mutate(data)
        (tmp_path / path.name).write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return tmp_path


def test_duplicate_id_is_refused(tmp_path):
    def duplicate(data):
        data["items"][1]["id"] = data["items"][0]["id"]
    with pytest.raises(ReferenceError, match=r"duplicate id.*VOICE-1"):
        load_reference(copy_reference(tmp_path, duplicate))


def test_empty_text_is_refused(tmp_path):
    def empty(data):
        data["items"][3]["text"] = "   "
    with pytest.raises(ReferenceError, match=r"VOICE-4.*empty text"):
        load_reference(copy_reference(tmp_path, empty))


def test_wrong_count_is_refused(tmp_path):
    def drop_one(data):
        del data["items"][-1]
    with pytest.raises(ReferenceError, match=r"wrong item count in group 'Scaffolding': the file declares 11, its "
                                             r"items give 10"):
        load_reference(copy_reference(tmp_path, drop_one))


def test_malformed_id_is_refused(tmp_path):
    def bad_id(data):
        data["items"][0]["id"] = "VOICE-01"
    with pytest.raises(ReferenceError, match="VOICE-01 does not match the framework's id pattern"):
        load_reference(copy_reference(tmp_path, bad_id))


def test_missing_field_is_refused(tmp_path):
    def no_title(data):
        del data["items"][5]["title"]
    with pytest.raises(ReferenceError, match=r"VOICE-6.*missing or empty \['title'\]"):
        load_reference(copy_reference(tmp_path, no_title))


def test_invalid_yaml_and_empty_folder(tmp_path):
    with pytest.raises(ReferenceError, match="no reference files"):
        load_reference(tmp_path)
    (tmp_path / "broken.yaml").write_text("items: [unclosed", encoding="utf-8")
    with pytest.raises(ReferenceError, match="cannot be read as YAML"):
        load_reference(tmp_path)


BILLION_LAUGHS = """framework: calls_to_action
a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]
items: [*i, *i, *i, *i, *i, *i, *i, *i, *i]
"""


def test_a_yaml_alias_bomb_is_refused_before_it_expands(tmp_path):
    """Issue 11: an alias bomb in a --reference file made memory grow without bound."""
    from typer.testing import CliRunner

    from pipeline.cli import app

    (tmp_path / "bomb.yaml").write_text(BILLION_LAUGHS, encoding="utf-8")
    with pytest.raises(ReferenceError, match=r"line 3: YAML aliases \(\*a\) are not allowed"):
        load_reference(tmp_path)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "plan.txt").write_text("Brothers and sisters stay together.", encoding="utf-8")
    result = CliRunner().invoke(app, ["map", str(corpus), "--reference", str(tmp_path), "--out",
                                      str(tmp_path / "out"), "-q"])
    assert result.exit_code == 2 and "aliases" in result.stderr
