"""Fuzzing the config loader (issue 13): random YAML documents and random mutations of the
example configs each end in a valid experiment or a UserError of short one-line problems, never
another exception and never a hang (hypothesis' deadline bounds every case)."""

from __future__ import annotations

import time
from datetime import timedelta

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bakeoff.errors import UserError
from bakeoff.examples import EXAMPLES, config_text
from bakeoff.spec import parse_yaml

LINE_LIMIT = 500  # a problem line, with the cut values in it
CASE_SECONDS = 5.0

FUZZ = settings(max_examples=150, deadline=timedelta(seconds=CASE_SECONDS),
                suppress_health_check=[HealthCheck.too_slow], derandomize=True)

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True),
                    st.text(max_size=30), st.sampled_from(["&a [1, 2]", "*a", "!!python/object:os.system",
                                                           "RandomForestClassifier", "s3://b/k", "../../x"]))
documents = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=5),
    st.dictionaries(st.sampled_from(["experiment", "dataset", "models", "name", "estimator", "params",
                                     "search", "space", "split", "seed", "storage", "target", "uri",
                                     "metrics", "primary", "timeout", "<<", "kfp", "tracking"]) | st.text(max_size=10),
                    inner, max_size=6)), max_leaves=30)


def check(text: str) -> None:
    """The property: an experiment, or one-line problems; nothing else, and quickly."""
    started = time.monotonic()
    try:
        parse_yaml(text, "fuzz.yaml")
    except UserError as exc:
        for line in exc.problems:
            assert "\n" not in line and 0 < len(line) < LINE_LIMIT, line
    assert time.monotonic() - started < CASE_SECONDS


@FUZZ
@given(st.text(max_size=400))
def test_random_text(text: str) -> None:
    check(text)


@FUZZ
@given(documents)
def test_random_yaml_documents(document: object) -> None:
    check(yaml.safe_dump(document, allow_unicode=True))


@st.composite
def mutated_examples(draw: st.DrawFn) -> str:
    text = config_text(draw(st.sampled_from(sorted(EXAMPLES))))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        kind = draw(st.sampled_from(["delete", "insert", "duplicate-line", "swap-lines"]))
        if kind == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 20)):]
        elif kind == "insert":
            text = text[:at] + draw(st.sampled_from(["&x ", "*x", ": ", "- ", "\n  ", "[", "{", "'", "\t",
                                                   "-1", "1e309", "nan", "null", "<<: *x\n", "!!binary ",
                                                   "9" * 30])) + text[at:]
        else:
            lines = text.split("\n")
            i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
            if kind == "duplicate-line":
                lines.insert(j, lines[i])
            else:
                lines[i], lines[j] = lines[j], lines[i]
            text = "\n".join(lines)
    return text


@FUZZ
@given(mutated_examples())
def test_mutated_example_configs(text: str) -> None:
    check(text)
