"""Transcribe Plan 21-24's 25 actions from the Change Programme ONE seed into reference/plan_21_24.yaml.

Run once, by hand (`python reference/sources/plan_21_24.py ../shared/seeds/003_491c0dde5aa65afd.txt`);
the YAML it writes is what promise-map reads, and tests/test_frameworks.py checks it against the seed.
Kept so the transcription can be repeated and reviewed, not imported by the package.

Each item's text is the seed's "What is required by Plan 21-24?" section for the action (one heading
reads "What is required Plan 21-24?"); its `progress_assessment` is the first line under the action's
"Links, Next Steps and Assessment" heading. Markdown is removed (links keep their words, bold marks go),
curly apostrophes are straightened, and the one table (Family Support's ten principles) is written out as
a numbered list. Priority areas and action names are the seed's overview list; the action headings'
wording differs in places ("Right to education", "Trauma-informed", "Children's Hearings System").
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

AREAS = {
    "A Good Childhood": ["Support", "Right to Education", "Relationships", "Brothers and Sisters", "Youth Justice",
                         "Advocacy", "Moving On", "Physical Intervention"],
    "Whole Family Support": ["Family Support", "Peer and Community Support", "Service Integration",
                             "Family Therapies"],
    "Supporting the Workforce": ["Workforce Values", "Trauma Informed", "Ongoing Relationships", "Workforce Support"],
    "Planning": ["Planning", "Investment", "Information Sharing"],
    "Building Capacity": ["Legislation", "Children's Hearing System", "Inspection and Regulation", "Policy Coherence",
                          "Data Mapping and Collection", "Governance Structures"],
}
REQUIRED = re.compile(r"^### What is required (?:by )?Plan 21-24\?")
ASSESSMENT = re.compile(r"^### Links, Next Steps and Assessment")


def clean(text: str) -> str:
    text = re.sub(r"\[([^\]]+)\]\(#\)", r"\1", text).replace("**", "").replace("\u2019", "'").replace("\u2018", "'")
    return " ".join(text.split())


def table_as_list(lines: list[str]) -> str:
    cells = [cell.strip() for line in lines if line.startswith("|") and "---" not in line
             for cell in line.strip("|").split("|") if cell.strip()]
    numbered = sorted(cells, key=lambda cell: int(cell.split(".")[0]))
    return "The ten principles: " + "; ".join(numbered) + "."


def section_text(lines: list[str], start: int) -> str:
    body: list[str] = []
    index = start
    while not lines[index].startswith("#"):
        body.append(lines[index])
        index += 1
    paragraphs, table = [], []
    for block in "\n".join(body).split("\n\n"):
        block = block.strip()
        if not block:
            continue
        if "|" in block and block.lstrip("- ").startswith("|"):
            table += block.lstrip("- ").splitlines()
        else:
            paragraphs.append(clean(block))
    if table:
        paragraphs.append(table_as_list(table))
    return " ".join(paragraphs)


def assessment_after(lines: list[str], start: int) -> str:
    index = start
    while not ASSESSMENT.match(lines[index]):
        index += 1
    index += 1
    while not lines[index].strip():
        index += 1
    return clean(lines[index].lstrip("#").strip()).rstrip(".").replace("underway, but", "underway but") + "."


def transcribe(seed: Path) -> list[dict]:
    lines = seed.read_text(encoding="utf-8").split("\n")
    starts = [index for index, line in enumerate(lines) if REQUIRED.match(line)]
    actions = [(area, action) for area, names in AREAS.items() for action in names]
    if len(starts) != len(actions):
        raise SystemExit(f"expected {len(actions)} 'What is required' sections, found {len(starts)}")
    items = []
    for number, (start, (area, action)) in enumerate(zip(starts, actions, strict=True), start=1):
        position = AREAS[area].index(action) + 1
        items.append({
            "id": f"PLAN-{number:02d}", "group": area, "title": action, "text": section_text(lines, start + 1),
            "source": f"Change Programme ONE (June 2021), {area}, action {position} of {len(AREAS[area])}: "
                      f"{action}, 'What is required by Plan 21-24?'",
            "attributes": {"progress_assessment": assessment_after(lines, start)},
        })
    return items


HEADER = """# Plan 21-24's 25 actions in five priority areas, as data.
#
# Source: The Promise Scotland, Change Programme ONE (published 25 June 2021; seed document
# ../shared/seeds/003_491c0dde5aa65afd.txt), which reports on each action of Plan 21-24 (published
# 31 March 2021). Each item's text is the seed's "What is required by Plan 21-24?" for the action; its
# progress_assessment is the Change Programme's assessment of the work underway in June 2021. Written by
# reference/sources/plan_21_24.py (see its docstring for the cleaning applied).
#
# No labelled passages exist for these items, so promise-map scores them zero-shot (docs/frameworks.md).
# Ids are part of promise-map's interface: never renumber.
"""


def main(seed: str, out: str = "reference/plan_21_24.yaml") -> None:
    data = {
        "framework": "plan_21_24",
        "name": "Plan 21-24: priority areas and actions (Change Programme ONE)",
        "short_name": "Plan 21-24",
        "version": "2021-06-change-programme-one",
        "source": "The Promise Scotland, Change Programme ONE (June 2021), via ../shared/seeds/003_491c0dde5aa65afd.txt",
        "default": False,
        "id_pattern": "PLAN-(?:0[1-9]|1[0-9]|2[0-5])",
        "groups": [{"name": area, "count": len(names)} for area, names in AREAS.items()],
        "items": transcribe(Path(seed)),
    }
    Path(out).write_text(HEADER + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=110),
                         encoding="utf-8")


if __name__ == "__main__":
    main(*sys.argv[1:])
