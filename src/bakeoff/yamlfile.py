"""YAML text to data, safely and within bounds: any problem is one line naming the source and
the line, and a hostile file is a one-line error, never a hang.

On its own so that reading a config's ``storage`` (`bakeoff runs` next to a bakeoff.yaml) costs
no schema import.

PyYAML's ``safe_load`` builds no arbitrary objects, but it still lets an 831-byte document of
aliases nested ten deep (``&a1 [*a0, *a0, …]``) stand for billions of values: every later step
that walks the data (pydantic, JSON digests, YAML dumps) expands it, and memory grows without
bound. It also keeps the last of two equal keys without a word, so a config can say one thing on
line 3 and the opposite on line 30. This module refuses both, and configs too big to be written
by hand, before anything else looks at the data.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

from bakeoff.errors import UserError, cut, shorten

MAX_CONFIG_BYTES = 1_000_000  # a hand-written config is a few kB; 1 MB leaves room for big grids
MAX_VALUES = 100_000  # values in the document once every alias is expanded
_MERGE_TAG = "tag:yaml.org,2002:merge"


class _BoundedLoader(yaml.SafeLoader):
    """``SafeLoader`` that refuses a key written twice in one mapping, naming the key and line."""

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG or not isinstance(key_node.value, str):
                continue  # `<<: *defaults` may be overridden on purpose; only scalar keys compare
            key = self.construct_object(key_node, deep=deep)  # a scalar: always hashable
            line = key_node.start_mark.line + 1
            if key in seen:
                raise _DuplicateKey(key, seen[key], line)
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


class _DuplicateKey(Exception):
    def __init__(self, key: Any, first: int, again: int) -> None:
        self.key, self.first, self.again = key, first, again


def _expanded_size(root: Node, limit: int) -> int:
    """How many values the document holds with every alias expanded, stopping past ``limit``.

    An alias is the same node object as its anchor, so sizes are memoised per node: the walk is
    linear in the written document even when its expansion is exponential. A node that contains
    itself (``&a [*a]``) expands forever and is reported as such.
    """
    sizes: dict[int, int] = {}
    on_path: set[int] = set()

    def size(node: Node) -> int:
        if id(node) in sizes:
            return sizes[id(node)]
        if id(node) in on_path:
            raise _SelfReference(node.start_mark.line + 1)
        on_path.add(id(node))
        total = 1
        if isinstance(node, SequenceNode):
            children: list[Node] = node.value
        elif isinstance(node, MappingNode):
            children = [n for pair in node.value for n in pair]
        else:
            children = []
        for child in children:
            total += size(child)
            if total > limit:
                break
        on_path.discard(id(node))
        sizes[id(node)] = total
        return total

    return size(root)


class _SelfReference(Exception):
    def __init__(self, line: int) -> None:
        self.line = line


def load_yaml(text: str, source: str = "<config>") -> Any:
    """The document in ``text`` as plain Python data, or ``UserError`` in one line naming
    ``source``, the line and the fix."""
    if len(text) > MAX_CONFIG_BYTES:
        raise UserError(f"{source}: {len(text):,} characters is too big for a config (limit "
                        f"{MAX_CONFIG_BYTES:,}); list models and search spaces, not data, in it")
    loader = None
    try:
        loader = _BoundedLoader(text)  # its reader refuses control characters already here
        node = loader.get_single_node()
        if node is None:
            return None
        if _expanded_size(node, MAX_VALUES) > MAX_VALUES:
            raise UserError(f"{source}: YAML aliases expand to more than {MAX_VALUES:,} values; "
                            "write the repeated parts out or use fewer aliases")
        return loader.construct_document(node)
    except _SelfReference as exc:
        raise UserError(f"{source}: line {exc.line}: a YAML alias refers to the value that contains "
                        "it, which never ends; write the value out") from None
    except _DuplicateKey as exc:
        raise UserError(f"{source}: line {exc.again}: key {cut(exc.key)} is written twice in one "
                        f"mapping (first on line {exc.first}); keep one") from None
    except yaml.reader.ReaderError as exc:
        raise UserError(f"{source}: character {exc.position + 1}: not valid YAML ({cut(exc.character)} "
                        "is a control character); remove it") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f": line {mark.line + 1}" if mark else ""
        problem = str(getattr(exc, "problem", None) or exc).splitlines()[0]
        raise UserError(f"{source}{where}: not valid YAML ({shorten(problem)})") from None
    except RecursionError:
        raise UserError(f"{source}: the YAML nests too deep to read; flatten it") from None
    finally:
        if loader is not None:
            loader.dispose()
