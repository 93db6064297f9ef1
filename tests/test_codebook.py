"""Codebooks: REFI-QDA export and import of the frameworks, the CSV table, and a run's coded segments."""

from __future__ import annotations

import csv
import dataclasses
import io
import re
import time
from pathlib import Path

import pytest
import typer
import yaml
from lxml import etree
from typer.testing import CliRunner

from pipeline import codebook
from pipeline.cli_codebook import codebook_app
from pipeline.codebook import (
    NAMESPACE,
    CodebookError,
    coded_segments,
    coded_segments_csv,
    export_csv,
    export_qdc,
    import_qdc,
    validate_qdc,
)
from pipeline.compare import without_formula_guard
from pipeline.reference import load_framework, load_frameworks, reference_for_run
from pipeline.types import Framework
from tests.conftest import REFERENCE_DIR, UNRELATED_TEXT, make_pdf

SHIPPED = ("calls_to_action", "inspection_principles", "plan_21_24")
Q = f"{{{NAMESPACE}}}"


def frameworks(*names: str) -> tuple[Framework, ...]:
    return reference_for_run(names=list(names or SHIPPED)).frameworks


def without_file(framework: Framework) -> Framework:
    return dataclasses.replace(framework, path="", sha256="")


def written(tmp_path: Path, texts: dict[str, str]) -> list[Framework]:
    folder = tmp_path / "imported"
    folder.mkdir(exist_ok=True)
    for framework_id, text in texts.items():
        (folder / f"{framework_id}.yaml").write_text(text, encoding="utf-8")
    return [load_framework(folder / f"{framework_id}.yaml") for framework_id in texts]


def cli() -> typer.Typer:
    """An app holding the sub-app as pipeline/cli.py registers it."""
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """Test app."""

    app.add_typer(codebook_app, name="codebook")
    return app


def invoke(*arguments: object):
    return CliRunner().invoke(cli(), ["codebook", *(str(argument) for argument in arguments)])


def guid(n: int) -> str:
    return f"{{0000000{n % 10}-0000-4000-8000-{n:012d}}}"


# ---- export --------------------------------------------------------------------------------------------

def test_export_of_the_shipped_frameworks_is_a_valid_codebook_of_framework_group_and_item_codes():
    chosen = frameworks()
    data = export_qdc(chosen, origin="promise-map test")
    validate_qdc(data)
    assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n')
    root = etree.fromstring(data)
    assert root.tag == f"{Q}CodeBook" and root.get("origin") == "promise-map test"
    top = root.findall(f"{Q}Codes/{Q}Code")
    assert [code.get("name") for code in top] == [fw.name for fw in chosen]
    item_guids = {}
    for framework, framework_code in zip(chosen, top, strict=True):
        assert framework_code.get("isCodable") == "false"
        assert f"promise-map framework: {framework.id}" in framework_code.findtext(f"{Q}Description")
        groups = framework_code.findall(f"{Q}Code")
        assert [group.get("name") for group in groups] == list(framework.groups)
        assert all(group.get("isCodable") == "false" for group in groups)
        items = [(group.get("name"), code) for group in groups for code in group.findall(f"{Q}Code")]
        assert [f"{name}|{code.get('name')}" for name, code in items] == \
            [f"{item.group}|{item.id}: {item.title}" for item in framework.items]
        for (_, code), item in zip(items, framework.items, strict=True):
            assert code.get("isCodable") == "true" and not code.findall(f"{Q}Code")
            assert code.findtext(f"{Q}Description").startswith(item.text + "\n\nSource: ")
            assert re.fullmatch("#[0-9A-F]{6}", code.get("color"))
            item_guids[code.get("guid")] = framework.id
    codable = root.xpath("//q:Code[@isCodable='true']", namespaces={"q": NAMESPACE})
    assert len(codable) == 55 + 13 + 25 == len(item_guids)
    all_guids = root.xpath("//q:Code/@guid | //q:Set/@guid", namespaces={"q": NAMESPACE})
    assert len(set(all_guids)) == len(all_guids)
    sets = root.findall(f"{Q}Sets/{Q}Set")
    assert [len(s.findall(f"{Q}MemberCode")) for s in sets] == [55, 13, 25]
    for framework, code_set in zip(chosen, sets, strict=True):
        assert {item_guids[m.get("targetGUID")] for m in code_set.findall(f"{Q}MemberCode")} == {framework.id}


def test_re_export_gives_the_same_bytes():
    assert export_qdc(frameworks(), origin="x") == export_qdc(frameworks(), origin="x")


def test_item_description_carries_source_and_attributes():
    root = etree.fromstring(export_qdc(frameworks("plan_21_24"), origin="x"))
    first = root.find(f".//{Q}Code[@isCodable='true']")
    item = frameworks("plan_21_24")[0].items[0]
    assert first.findtext(f"{Q}Description") == (f"{item.text}\n\nSource: {item.source}\n"
                                                 f"progress_assessment: {dict(item.attributes)['progress_assessment']}")


# ---- import of our own export --------------------------------------------------------------------------

def raw_facts(path: str) -> dict:
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    groups = [entry if isinstance(entry, dict) else {"name": entry} for entry in data.get("groups", [])]
    description = data.get("description")
    return {"id_pattern": data.get("id_pattern"), "groups": groups,
            "description": description.strip() if description else None}


def test_import_of_the_export_gives_back_the_same_frameworks(tmp_path):
    chosen = frameworks()
    texts = import_qdc(export_qdc(chosen, origin="x"), source_name="promise-map.qdc")
    assert list(texts) == list(SHIPPED)
    loaded = written(tmp_path, texts)
    for original, again in zip(chosen, loaded, strict=True):
        assert without_file(again) == without_file(original)
        assert raw_facts(again.path) == raw_facts(original.path)  # id pattern, group counts, description
    assert load_frameworks(tmp_path / "imported")  # and they load together


def test_round_trip_keeps_an_example_framework_and_items_listed_out_of_group_order(tmp_path):
    folder = tmp_path / "own"
    folder.mkdir()
    (folder / "uncrc.yaml").write_bytes((REFERENCE_DIR / "examples" / "uncrc.yaml").read_bytes())
    (folder / "mixed.yaml").write_text("""\
framework: mixed_order
name: Mixed
version: '1.10'
source: a test
description: |
  Items listed across groups.
  Second line: with a colon.
groups: [Beta, Alpha]
items:
- {id: MX-1, group: Alpha, title: 'One: first', text: First text., source: s1, attributes: {note: 'a: b', empty: ''}}
- {id: MX-2, group: Beta, title: Two, text: Second text., source: s2}
- {id: MX-3, group: Alpha, title: Three, text: Third text., source: s3}
""", encoding="utf-8")
    chosen = load_frameworks(folder)
    loaded = written(tmp_path, import_qdc(export_qdc(chosen, origin="x"), source_name="own.qdc"))
    assert [without_file(fw) for fw in loaded] == [without_file(fw) for fw in chosen]
    assert [raw_facts(fw.path) for fw in loaded] == [raw_facts(fw.path) for fw in chosen]


# ---- import of a codebook made in a QDA tool -----------------------------------------------------------

FOREIGN = f"""<?xml version="1.0" encoding="utf-8"?>
<CodeBook xmlns="urn:QDA-XML:codebook:1.0" origin="QualCoder 3.5">
  <Codes>
    <Code guid="{guid(1)}" name="Housing &amp; homes" isCodable="false" color="#AA0000">
      <Description>Where families live.</Description>
      <Code guid="{guid(2)}" name="Rent &lt; income" isCodable="true">
        <Description>Rent is below a third
          of household income.</Description>
      </Code>
      <Code guid="{guid(3)}" name="Repairs" isCodable="true"/>
    </Code>
    <Code guid="{guid(4)}" name="Family support" isCodable="true">
      <Description>Help for families.</Description>
      <Code guid="{guid(5)}" name="A1: Early help" isCodable="true"><Description>Help given early.</Description></Code>
      <Code guid="{guid(6)}" name="Theme: outreach" isCodable="true"/>
    </Code>
    <Code guid="{guid(7)}" name="Miscellaneous" isCodable="true"/>
  </Codes>
</CodeBook>
""".encode()


def test_a_foreign_codebook_imports_into_a_framework_that_loads(tmp_path):
    texts = import_qdc(FOREIGN, source_name="My Codes.qdc")
    assert list(texts) == ["my_codes"]
    (framework,) = written(tmp_path, texts)
    assert framework.id == "my_codes" and framework.name == "My Codes"
    assert framework.groups == ("Housing & homes", "Family support", "Ungrouped")
    assert [(item.id, item.group, item.title, item.text) for item in framework.items] == [
        ("MYCODES-1", "Housing & homes", "Rent < income", "Rent is below a third of household income."),
        ("MYCODES-2", "Housing & homes", "Repairs", "Repairs"),
        ("MYCODES-3", "Family support", "Family support", "Help for families."),
        ("A1", "Family support", "Early help", "Help given early."),
        ("MYCODES-4", "Family support", "Theme: outreach", "Theme: outreach"),
        ("MYCODES-5", "Ungrouped", "Miscellaneous", "Miscellaneous"),
    ]
    assert framework.items[0].source == "My Codes.qdc, code Rent < income"
    assert raw_facts(framework.path)["groups"] == [{"name": "Housing & homes", "count": 2},
                                                   {"name": "Family support", "count": 3},
                                                   {"name": "Ungrouped", "count": 1}]
    assert raw_facts(framework.path)["id_pattern"] is None


def test_top_level_codes_with_grandchildren_become_frameworks_of_their_own(tmp_path):
    data = f"""<CodeBook xmlns="urn:QDA-XML:codebook:1.0"><Codes>
      <Code guid="{guid(1)}" name="Wellbeing" isCodable="false">
        <Code guid="{guid(2)}" name="Health" isCodable="false">
          <Code guid="{guid(3)}" name="H1: Physical" isCodable="true"/>
          <Code guid="{guid(4)}" name="Mental health" isCodable="true">
            <Code guid="{guid(5)}" name="Anxiety" isCodable="true"/>
          </Code>
        </Code>
      </Code>
      <Code guid="{guid(6)}" name="Education" isCodable="false">
        <Code guid="{guid(7)}" name="School" isCodable="false">
          <Code guid="{guid(8)}" name="H1: duplicate id" isCodable="true"/>
        </Code>
      </Code>
      <Code guid="{guid(9)}" name="Loose code" isCodable="true"/>
    </Codes></CodeBook>""".encode()
    texts = import_qdc(data, source_name="2024 study.qdc")
    assert list(texts) == ["codebook_2024_study_wellbeing", "codebook_2024_study_education", "codebook_2024_study"]
    loaded = written(tmp_path, texts)
    assert load_frameworks(tmp_path / "imported")  # ids unique across the files
    wellbeing, education, rest = loaded
    assert [(item.id, item.group, item.title) for item in wellbeing.items] == [
        ("H1", "Health", "Physical"), ("CODEBOOK20-1", "Health", "Mental health"),
        ("CODEBOOK20-2", "Health / Mental health", "Anxiety")]
    assert [(item.id, item.title) for item in education.items] == [("CODEBOOK20-3", "H1: duplicate id")]
    assert [(item.id, item.group) for item in rest.items] == [("CODEBOOK20-4", "Ungrouped")]


# ---- hostile and invalid codebooks ---------------------------------------------------------------------

def test_entities_are_never_expanded_or_read(tmp_path, monkeypatch):
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET-CONTENT", encoding="utf-8")
    resolved: list[str] = []

    class Spy(etree.Resolver):
        def resolve(self, url, pubid, context):
            resolved.append(url)
            return self.resolve_string("SECRET-CONTENT", context)

    made = codebook.safe_parser

    def spied() -> etree.XMLParser:
        parser = made()
        parser.resolvers.add(Spy())
        return parser

    monkeypatch.setattr(codebook, "safe_parser", spied)
    laughs = "".join(f'<!ENTITY l{n} "{f"&l{n - 1};" * 10}">' for n in range(1, 10))
    for doctype, used in ((f'<!ENTITY x SYSTEM "{secret.as_uri()}">', "&x;"),
                          (f'<!ENTITY % p SYSTEM "{secret.as_uri()}"> %p;', "text"),
                          (f'<!ENTITY l0 "lol">{laughs}', "&l9;")):
        data = f"""<?xml version="1.0"?>
<!DOCTYPE CodeBook [{doctype}]>
<CodeBook xmlns="urn:QDA-XML:codebook:1.0"><Codes>
<Code guid="{guid(1)}" name="n" isCodable="true"><Description>{used}</Description></Code>
</Codes></CodeBook>""".encode()
        started = time.perf_counter()
        for attempt in (validate_qdc, lambda d: import_qdc(d, source_name="bomb.qdc")):
            with pytest.raises(CodebookError) as refused:
                attempt(data)
            assert "document type declaration" in str(refused.value)
            assert "SECRET" not in str(refused.value)
        assert time.perf_counter() - started < 5
    assert resolved == []
    result = invoke("import", write(tmp_path / "x.qdc", data), "--out", tmp_path / "out")
    assert result.exit_code == 2 and "SECRET" not in result.output and not (tmp_path / "out").exists()


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(("data", "named"), [
    (f'<CodeBook xmlns="{NAMESPACE}"><Codes><Code name="x" isCodable="true"/></Codes></CodeBook>',
     "attribute 'guid' is required"),
    (f'<Project xmlns="{NAMESPACE}"><Codes/></Project>', "Element 'Project'"),
    ('<CodeBook><Codes/></CodeBook>', "<CodeBook xmlns="),
    (f'<CodeBook xmlns="{NAMESPACE}"><Codes><Code guid="1" name="x" isCodable="true"/></Codes></CodeBook>',
     "attribute 'guid'"),
    (f'<CodeBook xmlns="{NAMESPACE}"><Codes><Code guid="{guid(1)}" name="x" isCodable="yes"/></Codes></CodeBook>',
     "isCodable"),
    (f'<CodeBook xmlns="{NAMESPACE}"><Codes>', "not well-formed"),
    ("", "not well-formed"),
])
def test_an_invalid_codebook_fails_naming_the_problem(data, named):
    with pytest.raises(CodebookError, match=re.escape(named)):
        validate_qdc(data.encode())
    with pytest.raises(CodebookError, match=re.escape(named)):
        import_qdc(data.encode(), source_name="bad.qdc")


def test_a_codebook_without_a_codable_code_is_refused():
    data = f'<CodeBook xmlns="{NAMESPACE}"><Codes><Code guid="{guid(1)}" name="x" isCodable="false"/></Codes>'
    data += "</CodeBook>"
    with pytest.raises(CodebookError, match="no codable code"):
        import_qdc(data.encode(), source_name="empty.qdc")


def test_an_edited_export_that_breaks_a_declared_count_is_refused_naming_the_group():
    data = export_qdc(frameworks("inspection_principles"), origin="x")
    root = etree.fromstring(data)
    root.find(f".//{Q}Code[@isCodable='true']").getparent().remove(root.find(f".//{Q}Code[@isCodable='true']"))
    with pytest.raises(CodebookError, match="wrong item count in group 'Inspection and Regulation'"):
        import_qdc(etree.tostring(root), source_name="edited.qdc")


# ---- CSV -----------------------------------------------------------------------------------------------

def test_csv_export_has_a_row_per_item_and_an_attribute_column():
    rows = list(csv.DictReader(io.StringIO(export_csv(frameworks()))))
    assert len(rows) == 55 + 13 + 25
    assert list(rows[0])[:7] == ["framework", "framework_name", "group", "id", "title", "text", "source"]
    assert rows[0]["progress_assessment"] == "" and rows[-1]["progress_assessment"]
    assert [row["id"] for row in rows] == [item.id for fw in frameworks() for item in fw.items]


def test_csv_export_neutralises_formulas(tmp_path):
    path = tmp_path / "hostile.yaml"
    path.write_text("""\
framework: hostile
name: '=HYPERLINK("http://x")'
version: '1'
source: test
items:
- {id: HX-1, group: '+group', title: '@title', text: '=1+1 in a cell', source: '-source'}
""", encoding="utf-8")
    (row,) = csv.DictReader(io.StringIO(export_csv([load_framework(path)])))
    assert row["framework_name"] == "'=HYPERLINK(\"http://x\")"
    assert (row["group"], row["title"], row["text"], row["source"]) == ("'+group", "'@title", "'=1+1 in a cell",
                                                                        "'-source")


# ---- a run's coded segments ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def mapped_run(tmp_path_factory):
    """A small run (lexical, in process): a two-page PDF quoting items on page 2, and a text file."""
    from pipeline.cli import app

    corpus = tmp_path_factory.mktemp("segments-corpus")
    items = {item.id: item for item in frameworks("calls_to_action")[0].items}
    make_pdf(corpus / "plan.pdf", [
        [("h1", "Roads"), ("body", UNRELATED_TEXT.split("\n\n")[1])],
        [("h1", "Our promise"), ("body", items["VOICE-1"].text), ("body", items["FAMILY-1"].text),
         ("body", items["CARE-1"].text)],
    ])
    (corpus / "notes.txt").write_text("Introduction.\n\n" + items["VOICE-4"].text + "\n", encoding="utf-8")
    out = tmp_path_factory.mktemp("segments-run") / "run"
    result = CliRunner().invoke(app, ["map", str(corpus), "--out", str(out), "--classifier", "lexical", "-q",
                                      "--workers", "0"])
    assert result.exit_code == 0, result.output
    return corpus, out


def test_segments_point_at_their_passages_in_the_document_text(mapped_run):
    from pipeline.extract import extract_file

    corpus, run = mapped_run
    rows = list(csv.DictReader(io.StringIO(coded_segments_csv(run))))
    assert rows and list(rows[0]) == list(codebook.SEGMENT_COLUMNS)
    assert {row["status"] for row in rows} <= {"covered", "partial"}
    documents = {name: extract_file(corpus / name) for name in ("plan.pdf", "notes.txt")}
    seen = set()
    for row in rows:
        document = documents[row["document"]]
        assert row["document_id"] == document.sha256
        start, end = int(row["start"]), int(row["end"])
        text = without_formula_guard(row["text"])
        assert " ".join(document.text[start:end].split()) == " ".join(text.split())
        (block,) = [block for block in document.blocks if block.start <= start < block.end]
        assert int(row["page"]) == block.page
        assert row["code_name"].startswith(row["code"] + ": ")
        seen.add((row["document"], row["code"], row["page"]))
    assert {("plan.pdf", "VOICE-1", "2"), ("notes.txt", "VOICE-4", "1")} <= seen
    assert len(rows) == len(list(coded_segments(run)))


def test_segments_of_a_folder_that_is_no_run_fail(tmp_path):
    with pytest.raises(CodebookError, match="coverage.jsonl"):
        coded_segments_csv(tmp_path)
    (tmp_path / "coverage.jsonl").write_text('{"status": "covered"}\n', encoding="utf-8")
    with pytest.raises(CodebookError, match="coverage.jsonl:1: not a verdict record"):
        coded_segments_csv(tmp_path)


# ---- the commands --------------------------------------------------------------------------------------

def test_cli_export_import_segments_exit_0(tmp_path, mapped_run):
    qdc, table = tmp_path / "codes.qdc", tmp_path / "codes.csv"
    result = invoke("export", "--out", qdc, "--framework", "inspection_principles, plan_21_24")
    assert result.exit_code == 0, result.output
    assert qdc.read_bytes() == export_qdc(frameworks("inspection_principles", "plan_21_24"),
                                          origin=f"promise-map {codebook_app_version()}")
    assert invoke("export", "--format", "csv", "--out", table, "--framework", "plan_21_24").exit_code == 0
    assert len(list(csv.DictReader(table.open(encoding="utf-8")))) == 25
    result = invoke("import", qdc, "--out", tmp_path / "frameworks")
    assert result.exit_code == 0, result.output
    assert "inspection_principles.yaml" in result.output and "plan_21_24.yaml" in result.output
    assert [fw.id for fw in load_frameworks(tmp_path / "frameworks")] == ["inspection_principles", "plan_21_24"]
    result = invoke("segments", mapped_run[1], "--out", tmp_path / "segments.csv")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "segments.csv").read_text(encoding="utf-8") == coded_segments_csv(mapped_run[1])


def codebook_app_version() -> str:
    from pipeline import __version__

    return __version__


def test_cli_errors_exit_2(tmp_path):
    result = invoke("export", "--out", tmp_path / "x.qdc", "--framework", "no_such_framework")
    assert result.exit_code == 2 and "unknown framework" in result.output and not (tmp_path / "x.qdc").exists()
    assert invoke("export", "--out", tmp_path / "x.qdc", "--format", "pdf").exit_code == 2
    bad = write(tmp_path / "bad.qdc", b"<Project/>")
    result = invoke("import", bad, "--out", tmp_path / "out")
    assert result.exit_code == 2 and "Project" in result.output
    assert invoke("import", tmp_path / "missing.qdc", "--out", tmp_path / "out").exit_code == 2
    good = write(tmp_path / "My Codes.qdc", FOREIGN)
    assert invoke("import", good, "--out", tmp_path / "out").exit_code == 0
    before = (tmp_path / "out" / "my_codes.yaml").read_bytes()
    result = invoke("import", good, "--out", tmp_path / "out")
    assert result.exit_code == 2 and "not overwriting" in result.output
    assert (tmp_path / "out" / "my_codes.yaml").read_bytes() == before
    assert invoke("segments", tmp_path, "--out", tmp_path / "s.csv").exit_code == 2
