"""The one exception type for mistakes a user can fix.

Anything raised as ``UserError`` is printed by the CLI as one line (``field.path: problem (fix)``)
and exits with code 2. Everything else is our bug and keeps its traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence


class UserError(Exception):
    """A problem the user caused and can fix: bad config, missing object, unknown estimator.

    ``problems`` holds one line per problem so that a config with three typos reports all three.
    """

    def __init__(self, *problems: str) -> None:
        self.problems: tuple[str, ...] = tuple(problems) or ("unknown problem",)
        super().__init__("\n".join(self.problems))


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return `` (did you mean X?)`` for the closest choice, or an empty string."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


def listed(items: Iterable[object], limit: int = 20) -> str:
    """``a, b, c and 11 more``: a long list shortened in a message, never silently."""
    shown = [str(item) for item in items]
    rest = len(shown) - limit
    return ", ".join(shown[:limit]) + (f" and {rest} more" if rest > 0 else "")


def field_path(loc: Sequence[str | int]) -> str:
    """Render a pydantic-style location as ``models[1].params.alpha``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "<config>"
