"""Reading the project's YAML files (reference sets, lexicon, glossary) safely, however they were written.

`yaml.safe_load` builds no objects, but it still expands anchors and aliases: a dozen lines of nested
aliases (a "billion laughs" file) expand to billions of nodes and exhaust memory. Reference files are
data typed by people, with no use for anchors, so an alias is refused outright with the line it is on.
"""

from __future__ import annotations

from pathlib import Path

import yaml


class AliasRefused(yaml.YAMLError):
    """A YAML file used an alias (`*name`); such files are refused rather than expanded."""


class NoAliasLoader(yaml.SafeLoader):
    """SafeLoader that stops at the first alias, before anything is expanded."""

    def compose_node(self, parent, index):  # noqa: D102 - PyYAML's hook
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise AliasRefused(f"line {event.start_mark.line + 1}: YAML aliases (*{event.anchor}) are not allowed "
                               "in promise-map's data files; write the values out")
        return super().compose_node(parent, index)


def load_yaml(path: Path | str):
    """The file's data; raises OSError, UnicodeDecodeError or yaml.YAMLError (AliasRefused for an alias)."""
    return yaml.load(Path(path).read_text(encoding="utf-8"), Loader=NoAliasLoader)  # noqa: S506 - NoAliasLoader is safe


class Lines(dict):
    """A mapping read from YAML that remembers where it was: `line` of the mapping, `key_lines` of each key."""

    line: int = 0
    key_lines: dict


class LineLoader(NoAliasLoader):
    """NoAliasLoader whose mappings are `Lines`, so a fault in the data can be reported with its line."""

    def construct_mapping(self, node, deep=False):  # noqa: D102 - PyYAML's hook
        mapping = Lines(super().construct_mapping(node, deep=True))
        mapping.line = node.start_mark.line + 1
        mapping.key_lines = {key.value: key.start_mark.line + 1 for key, _ in node.value
                             if isinstance(key, yaml.ScalarNode)}
        return mapping


LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, LineLoader.construct_mapping)


def load_yaml_with_lines(path: Path | str):
    """As `load_yaml`, but every mapping is a `Lines` dict carrying the line numbers of itself and its keys."""
    return yaml.load(Path(path).read_text(encoding="utf-8"), Loader=LineLoader)  # noqa: S506 - safe loader
