"""A config's text with new values written into it, and nothing else changed.

The app edits a plain mapping (``ui.state``), but the file it came from is the user's: its
comments, key order, quoting, flow or block style, and the lines that only restate a default are
theirs. Dumping the mapping anew would drop all of them. So the text is read with ruamel.yaml's
round-trip loader, which keeps them on the nodes, only the values that differ from the mapping
are replaced, and the document is written back.

The text is first read by ``yamlfile.load_yaml``, the bounded loader every config passes: a file
too big, an alias bomb or a key written twice is refused here as everywhere else, before ruamel
walks it.
"""

from __future__ import annotations

import difflib
import io
import json
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.util import load_yaml_guess_indent

from bakeoff.yamlfile import load_yaml


def updated(text: str, data: dict[str, Any], source: str = "<yaml>") -> str:
    """``text`` rewritten to hold ``data``: unchanged values keep their lines, comments and
    layout; changed ones are replaced in place, removed keys go with their comments, new keys
    follow the ones the file has. Raises ``UserError`` for a text the bounded loader refuses."""
    load_yaml(text, source)
    yaml = YAML()  # round-trip: comments, order and styles live on the loaded nodes
    yaml.default_flow_style = None  # new leaf lists and mappings in flow style, as the form shows them
    yaml.width = 100
    document, indent, dash_offset = load_yaml_guess_indent(text, yaml=yaml)
    yaml.indent(mapping=2, sequence=indent or 2, offset=dash_offset or 0)
    if not isinstance(document, dict):
        document = {}
    written = _dumped(yaml, _merged(document, data))
    if load_yaml(written, source) == data:
        return written
    # An anchor shared by two places that now differ (`&defaults` edited through one alias):
    # the file must say what the form says, so it is written anew, its comments lost.
    return _dumped(yaml, data)


def _dumped(yaml: YAML, document: Any) -> str:
    out = io.StringIO()
    yaml.dump(document, out)
    return out.getvalue()


def _same(old: Any, new: Any) -> bool:
    """Equal scalars of the same kind: `1` is not `1.0` (``max_features: 1`` is one feature,
    ``1.0`` all of them), nor `true`."""
    return old == new and all(isinstance(old, kind) == isinstance(new, kind) for kind in (bool, float, str))


def _merged(old: Any, new: Any) -> Any:
    """``new``, reusing ``old``'s nodes (and so their comments and style) wherever they hold the
    same value or the same kind of collection."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in [k for k in old if k not in new]:
            del old[key]
        for key, value in new.items():
            old[key] = _merged(old[key], value) if key in old else value
        return old
    if isinstance(old, list) and isinstance(new, list):
        return _merged_list(old, new)
    return old if _same(old, new) else new  # `1e-3` stays `1e-3`, `'yes'` stays quoted


def _identity(item: Any) -> str:
    """What makes a list item the same item after an edit: a model's name, else its value."""
    if isinstance(item, dict) and isinstance(item.get("name"), str):
        return f"name:{item['name']}"
    return json.dumps(item, sort_keys=True, default=str)


def _merged_list(old: list[Any], new: list[Any]) -> list[Any]:
    """Items matched as difflib matches lines, by their identity: removing the second of four
    models leaves the other three with their own comments, and a model edited (or renamed) in
    place stays that model. Edits go from the end, one item at a time, so that ruamel moves each
    item's comments along with it."""
    opcodes = difflib.SequenceMatcher(a=[_identity(i) for i in old], b=[_identity(i) for i in new],
                                      autojunk=False).get_opcodes()
    for op, a0, a1, b0, b1 in reversed(opcodes):
        pairs = min(a1 - a0, b1 - b0) if op in ("equal", "replace") else 0
        for k in range(pairs):
            old[a0 + k] = _merged(old[a0 + k], new[b0 + k])
        for index in range(a1 - 1, a0 + pairs - 1, -1):
            del old[index]
        for item in reversed(new[b0 + pairs:b1]):
            old.insert(a0 + pairs, item)
    return old
