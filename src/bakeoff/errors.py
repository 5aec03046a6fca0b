"""The one exception type for mistakes a user can fix.

Anything raised as ``UserError`` is printed by the CLI as one line (``field.path: problem (fix)``)
and exits with code 2. Everything else is our bug and keeps its traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence


class UserError(Exception):
    """A problem the user caused and can fix: bad config, missing object, unknown estimator.

    ``problems`` holds one line per problem so that a config with three typos reports all three;
    a problem found by two checks (the config's and the store's) is said once.
    """

    def __init__(self, *problems: str) -> None:
        self.problems: tuple[str, ...] = tuple(dict.fromkeys(problems)) or ("unknown problem",)
        super().__init__("\n".join(self.problems))


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return `` (did you mean X?)`` for the closest choice, or an empty string."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


def listing(names: Iterable[object], limit: int = 20) -> str:
    """``a, b, c … and 7 more``: a list in an error says how much of it is not shown."""
    shown = [str(n) for n in names]
    rest = len(shown) - limit
    return ", ".join(shown[:limit]) + (f" … and {rest} more" if rest > 0 else "")


def field_path(loc: Sequence[str | int]) -> str:
    """Render a pydantic-style location as ``models[1].params.alpha``; a key too long to be a
    name is cut, since it came from the user's file and is echoed back."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            name = shorten(str(part)) if str(part).isprintable() else cut(str(part))  # no raw newlines
            out += f".{name}" if out else name
    return out or "<config>"


SHOWN_CHARS = 60  # an error line must stay one readable line whatever the input was


def shorten(text: str, limit: int = SHOWN_CHARS) -> str:
    """``text`` cut to ``limit`` characters, saying how much was left out.

    A value echoed in an error came from the user's input, which may be megabytes (or a secret
    the user pasted in the wrong place); the line needs only enough of it to be recognised.
    """
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit:,} more characters)"


def cut(value: object, limit: int = SHOWN_CHARS) -> str:
    """``repr(value)`` for an error message, shortened as ``shorten`` does."""
    return shorten(repr(value), limit)
