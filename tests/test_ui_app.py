"""The Streamlit app driven through streamlit's AppTest, as a user clicks through it.

AppTest runs the script in this process, so the local run's thread and its model processes run
here too; the test reruns the script until the leaderboard shows, within a bounded time.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from streamlit.testing.v1 import AppTest

from bakeoff.ui import APP
from conftest import bakeoff

SECRET = "do-not-show-this-5ecret"


@pytest.fixture
def at(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    """A fresh app session, started as `bakeoff ui` with no config, in an empty folder."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("KF_PIPELINES_TOKEN", SECRET)
    monkeypatch.delenv("KF_PIPELINES_ENDPOINT", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)  # runs here are not tracked
    monkeypatch.setattr(sys, "argv", [str(APP)])
    return AppTest.from_file(str(APP), default_timeout=60).run()


def main_errors(at) -> list[str]:  # noqa: ANN001
    return [e.value for e in at.main.error]


def shown_text(at) -> str:  # noqa: ANN001
    """Everything the app sent to the browser, widgets' values and labels included."""
    return "\n".join(str(node.proto) for block in (at.main, at.sidebar) for node in block if hasattr(node, "proto"))


def leaderboard_rows(at) -> list[str]:  # noqa: ANN001
    boards = [d.value for d in at.main.dataframe if "95% CI" in d.value.columns]
    return list(boards[0]["model"]) if boards else []


def test_load_edit_fix_run_and_see_the_leaderboard(at) -> None:  # noqa: ANN001
    at.selectbox(key="example").select("breast-cancer").run()
    assert at.title[0].value == "breast-cancer"
    assert [s.value for s in at.sidebar.success] == ["Valid · 4 model(s)"]
    # keep the two fast models, so the run takes seconds
    at.button(key="remove:models[1]").click().run()
    at.button(key="remove:models[1]").click().run()
    assert [e.label for e in at.expander if e.label != "Plan"] == [
        "**logistic** · LogisticRegression", "**knn** · KNeighborsClassifier"]
    # the plan of a run, as `bakeoff run --plan` shows it
    [plan] = [d.value for d in at.main.dataframe if "threads" in d.value.columns]
    assert sorted(plan["model"]) == ["knn", "logistic"]

    at.text_input(key="yaml:models[0].params.C").input("-1").run()
    assert any("'C' parameter of LogisticRegression" in e for e in main_errors(at))
    assert "run:start" not in [b.key for b in at.button]  # only a valid config runs
    assert "C: -1" in at.text_area(key="yaml").value  # the form's edit is in the YAML at once

    at.text_input(key="yaml:models[0].params.C").input("0.5").run()
    assert main_errors(at) == []
    at.button(key="run:start").click().run()
    deadline = time.monotonic() + 60
    while not leaderboard_rows(at) and time.monotonic() < deadline:
        time.sleep(0.5)
        at.run()
    assert sorted(leaderboard_rows(at)) == ["knn", "logistic"]
    assert any("95% bootstrap CIs" in c.value for c in at.main.caption)
    [run_dir] = (Path.cwd() / ".bakeoff" / "runs").iterdir()
    saved = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert saved["models"][0]["params"]["C"] == 0.5
    # History finds the run in the config's store, names it, and opens its config
    assert at.selectbox(key="history:run").value == run_dir.name
    [label] = at.selectbox(key="history:run").options
    assert re.fullmatch(rf"breast-cancer · 2 models · best roc_auc 0\.\d{{4}} \((knn|logistic)\) · "
                        rf"\d{{4}}-\d\d-\d\d \d\d:\d\d UTC · {run_dir.name}", label), label
    damaged = run_dir.parent / "20000101-000000-dead00"  # one damaged run hides no other
    damaged.mkdir()
    (damaged / "config.yaml").write_text("experiment: old\n")
    (damaged / "leaderboard.json").write_text('{"truncated')
    at.run()
    options = at.selectbox(key="history:run").options
    assert options[0] == label and options[1].startswith("20000101-000000-dead00 · unreadable: "), options
    at.text_input(key="text:experiment").input("renamed").run()
    at.button(key="history:open").click().run()
    at.button(key="pending:discard").click().run()  # "renamed" was never saved: asked first
    assert at.title[0].value == "breast-cancer"
    assert at.text_input(key="text:storage").value == ".bakeoff"  # relative again, as the user wrote it
    assert SECRET not in shown_text(at) and not at.exception


def test_every_problem_shows_at_once_next_to_its_field(at) -> None:  # noqa: ANN001
    at.selectbox(key="example").select("breast-cancer").run()
    at.text_input(key="yaml:split.test_size").input("1.5").run()
    at.text_input(key="yaml:models[3].params.n_neighbors").input("-3").run()
    errors = main_errors(at)
    assert any(e.startswith("Input should be less than 1") for e in errors), errors
    assert any("'n\\_neighbors' parameter of KNeighborsClassifier must be" in e for e in errors), errors
    [status] = at.sidebar.error
    assert status.value.startswith("2 problem(s)")
    assert not at.exception


def test_yaml_tab_and_form_stay_in_sync(at) -> None:  # noqa: ANN001
    at.selectbox(key="example").select("wine").run()
    at.text_input(key="yaml:split.test_size").input("0.25").run()
    assert "test_size: 0.25" in at.text_area(key="yaml").value

    pasted = at.text_area(key="yaml").value.replace("experiment: wine", "experiment: wine-two")
    pasted = pasted.replace("n_estimators: 200", "n_estimators: 50")
    at.text_area(key="yaml").input(pasted).run()
    assert at.title[0].value == "wine-two"
    assert at.text_input(key="text:experiment").value == "wine-two"
    assert at.text_input(key="yaml:models[1].params.n_estimators").value == "50"

    at.text_area(key="yaml").input("experiment: [unclosed\n").run()
    assert any("not valid YAML" in e for e in main_errors(at))
    assert at.title[0].value == "wine-two"  # the form keeps the last config that could be read

    at.text_area(key="yaml").input(pasted.replace("n_estimators: 50", "n_estimatorz: 50")).run()
    assert at.text_input(key="yaml:models[1].params.n_estimatorz").value == "50"
    assert main_errors(at) == ["unknown parameter of RandomForestClassifier (did you mean n\\_estimators?)"]


def test_dataset_preview_picks_real_columns_and_filters_the_catalog(at) -> None:  # noqa: ANN001
    at.selectbox(key="example").select("diabetes").run()
    assert "progression" in at.selectbox(key="choice:dataset.target").options
    assert any("task **regression**" in c.value for c in at.main.caption)
    estimators = at.selectbox(key="new:estimator").options
    assert "Ridge" in estimators and "LogisticRegression" not in estimators
    at.multiselect(key="many:dataset.drop").select("sex").run()
    at.selectbox(key="new:estimator").select("Lasso").run()
    at.button(key="new:add").click().run()
    assert [e.label for e in at.expander if e.label != "Plan"][-1] == "**lasso-2** · Lasso"
    add = at.selectbox(key="add:models[4].params")
    assert "alpha: 1.0" in add.options  # each parameter with its default, from the signature
    add.select("alpha").run()
    assert at.text_input(key="yaml:models[4].params.alpha").value == "1.0"
    at.selectbox(key="add:models[4].search.space").select("max_iter").run()
    assert at.text_input(key="yaml:models[4].search.space.max_iter").value == "{int: [250, 4000]}"
    search = yaml.safe_load(at.text_area(key="yaml").value)["models"][4]["search"]
    assert search == {"space": {"max_iter": {"int": [250, 4000]}}}
    assert main_errors(at) == []
    at.text_input(key="yaml:models[4].search.space.max_iter").input("{int: [9, 3]}").run()
    assert any("lower bound 9 must be below the upper 3" in e for e in main_errors(at))
    at.button(key="unset:models[4].search.space.max_iter").click().run()
    assert "search" not in at.text_area(key="yaml").value and main_errors(at) == []
    # a parameter set under params is offered too, around its value, and moves into the search
    at.text_input(key="yaml:models[4].params.alpha").input("0.5").run()
    offered = at.selectbox(key="add:models[4].search.space").options
    assert "alpha: {float: [0.05, 5.0], log: true}" in offered
    assert not [o for o in offered if o.startswith(("random_state:", "copy_X:", "verbose:"))]
    at.selectbox(key="add:models[4].search.space").select("alpha").run()
    model = yaml.safe_load(at.text_area(key="yaml").value)["models"][4]
    assert "alpha" not in model.get("params", {}) and model["search"]["space"]["alpha"]["float"] == [0.05, 5.0]
    assert main_errors(at) == []
    at.text_input(key="text:dataset.uri").input("missing.csv").run()
    assert any("missing.csv does not exist" in e for e in main_errors(at))
    assert not at.exception


def test_saved_config_round_trips_through_validate(at, tmp_path: Path) -> None:  # noqa: ANN001
    at.selectbox(key="example").select("breast-cancer").run()
    target = tmp_path / "elsewhere" / "mine.yaml"
    at.text_input(key="save:to").input(str(target)).run()
    at.button(key="save:go").click().run()
    assert any(str(target.name) in s.value for s in at.sidebar.success)
    saved = target.read_text()
    assert saved.startswith("# Breast cancer Wisconsin (diagnostic)")  # the example's own comments
    assert f"storage: {(tmp_path / '.bakeoff').as_uri()}" in saved  # saved away: named absolutely
    result = bakeoff("validate", str(target))
    assert result.code == 0, result.stderr
    assert "breast-cancer" in result.stdout
    at.selectbox(key="example").select("wine").run()
    at.text_input(key="open:uri").input("nowhere.yaml").run()
    at.button(key="open:go").click().run()
    assert any("nowhere.yaml does not exist" in e.value for e in at.sidebar.error)
    assert at.title[0].value == "wine"
    at.text_input(key="open:uri").input(str(target)).run()
    at.button(key="open:go").click().run()
    assert at.title[0].value == "breast-cancer" and not at.sidebar.error


def test_saves_to_object_storage(at, s3_env) -> None:  # noqa: ANN001
    s3_env.make_bucket("configs")
    at.selectbox(key="example").select("wine").run()
    at.text_input(key="save:to").input("s3://configs/team/wine.yaml").run()
    at.button(key="save:go").click().run()
    from bakeoff.storage import read_uri

    assert yaml.safe_load(read_uri("s3://configs/team/wine.yaml"))["experiment"] == "wine"


def test_kubeflow_compiles_and_submit_shows_only_with_a_host(at, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    at.selectbox(key="example").select("wine").run()
    assert "kfp:submit" not in [b.key for b in at.button]
    at.button(key="kfp:compile").click().run(timeout=120)
    [download] = [d for d in at.get("download_button") if d.proto.label == "Download pipeline YAML"]
    assert download is not None
    monkeypatch.setenv("KF_PIPELINES_ENDPOINT", f"http://user:{SECRET}@127.0.0.1:9")
    at.run()
    assert "kfp:submit" in [b.key for b in at.button]
    assert SECRET not in shown_text(at)


def test_preprocess_section_is_drawn_from_the_schema(at) -> None:  # noqa: ANN001
    at.selectbox(key="example").select("diabetes").run()
    at.selectbox(key="choice:preprocess.categorical").select("ordinal").run()
    at.selectbox(key="choice:preprocess.scale").select(False).run()
    written = yaml.safe_load(at.text_area(key="yaml").value)
    assert written["preprocess"] == {"categorical": "ordinal", "scale": False}
    assert not main_errors(at)


def leave_guard(at) -> str:  # noqa: ANN001
    """The script the page runs for the browser's own "Leave site?" dialog."""
    [guard] = [node.proto.body for node in at.get("html") if "onbeforeunload" in node.proto.body]
    return guard


def test_unsaved_edits_are_never_replaced_without_asking(at, tmp_path: Path) -> None:  # noqa: ANN001
    at.selectbox(key="example").select("wine").run()  # nothing edited yet: opens at once
    assert at.title[0].value == "wine" and not at.main.warning
    assert "onbeforeunload = null" in leave_guard(at)
    at.text_input(key="yaml:split.test_size").input("0.35").run()
    assert "e.preventDefault()" in leave_guard(at)  # a reload or a closed tab asks first
    at.selectbox(key="example").select("diabetes").run()
    [warning] = at.main.warning
    assert "edits to **wine** are not saved" in warning.value and "the diabetes example" in warning.value
    assert at.title[0].value == "wine"
    at.button(key="pending:keep").click().run()
    assert at.title[0].value == "wine" and not at.main.warning
    assert "test_size: 0.35" in at.text_area(key="yaml").value
    at.selectbox(key="example").select("diabetes").run()
    at.button(key="pending:discard").click().run()
    assert at.title[0].value == "diabetes" and not at.main.warning
    at.text_input(key="yaml:split.test_size").input("0.35").run()
    at.text_input(key="save:to").input(str(tmp_path / "diabetes.yaml")).run()
    at.button(key="save:go").click().run()
    assert "onbeforeunload = null" in leave_guard(at)  # saved: nothing to lose
    at.selectbox(key="example").select("wine").run()
    assert at.title[0].value == "wine" and not at.main.warning and not at.exception


def test_a_model_process_re_running_the_apps_script_imports_nothing() -> None:
    """Streamlit installs the app's script as ``__main__``, and multiprocessing makes each model
    process the app's local run starts re-run it as ``__mp_main__``: it must import nothing then
    (importing the app, Streamlit with it, cost each model process 0.35 s)."""
    probe = ("import runpy, sys; before = set(sys.modules); "
             f"runpy.run_path({str(APP)!r}, run_name='__mp_main__'); "
             "print(sorted(m for m in set(sys.modules) - before if m.split('.')[0] in ('streamlit', 'bakeoff')))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True).stdout
    assert out.strip() == "[]"
