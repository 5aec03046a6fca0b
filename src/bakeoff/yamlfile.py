"""YAML text to data, safely, with a syntax error as one line naming the source and the line.

On its own so that reading a config's ``storage`` (`bakeoff runs` next to a bakeoff.yaml) costs
no schema import.
"""

from __future__ import annotations

from typing import Any

import yaml

from bakeoff.errors import UserError


def load_yaml(text: str, source: str = "<config>") -> Any:
    """Parse YAML safely; a syntax error is one line naming the source and the line."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise UserError(f"{source}:{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
