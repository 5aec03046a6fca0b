"""Cost estimates and the schedule: longest first, threads where they shorten the run, the
budget never exceeded, and history replacing the priors."""

from __future__ import annotations

import pytest

from bakeoff import costs, schedule
from bakeoff.costs import Cost, Observation, Shape
from bakeoff.schedule import Running, Task
from bakeoff.spec import ModelSpec
from bakeoff.storage import LocalStore

SHAPE = Shape(train=18_000, valid=6_000, test=6_000, features=20)


def model(estimator: str, **params: object) -> ModelSpec:
    return ModelSpec(name="m", estimator=estimator, params=params)


def test_priors_rank_models_by_their_work_and_know_which_use_threads() -> None:
    forest = costs.estimate(model("RandomForestClassifier", n_estimators=200), SHAPE, [])
    small = costs.estimate(model("RandomForestClassifier", n_estimators=20), SHAPE, [])
    tree = costs.estimate(model("DecisionTreeClassifier"), SHAPE, [])
    logistic = costs.estimate(model("LogisticRegression"), SHAPE, [])
    assert forest.fit == pytest.approx(10 * small.fit) and forest.fit > tree.fit > logistic.fit
    assert forest.parallel > 0.9 and tree.parallel == logistic.parallel == 0
    assert forest.source == "prior" and forest.seconds(2) < forest.seconds(1)
    assert logistic.seconds(8) == logistic.seconds(1)  # no threads to use
    bigger = costs.estimate(model("RandomForestClassifier", n_estimators=200), Shape(36_000, 6_000, 6_000, 20), [])
    assert bigger.fit == pytest.approx(2 * forest.fit)


def test_history_scales_an_earlier_fit_to_this_data_and_thread_count() -> None:
    spec = model("RandomForestClassifier", n_estimators=100)
    seen = Observation(Shape(9_000, 3_000, 3_000, 20), threads=2, fit_seconds=2.0, wall_seconds=2.8)
    cost = costs.estimate(spec, SHAPE, [seen])
    fam = costs.family("RandomForestClassifier")
    one_thread_then = 2.0 / ((1 - fam.parallel) + fam.parallel / 2)
    assert cost.source == "history"
    assert cost.fit == pytest.approx(2 * one_thread_then)  # twice the rows
    assert cost.other == pytest.approx(0.8)


def test_observations_are_recorded_per_job_and_read_back(tmp_path) -> None:  # noqa: ANN001
    store = LocalStore(tmp_path)
    seen = Observation(SHAPE, 1, 3.0, 3.5)
    costs.record(store, "spec-a", "job-1", seen)
    costs.record(store, "spec-a", "job-2", Observation(SHAPE, 2, 1.0, 1.4))
    store.write_bytes("costs/spec-a/job-3.json", b"{not json")
    assert sorted(o.fit_seconds for o in costs.history(store, "spec-a")) == [1.0, 3.0]
    assert costs.history(store, "spec-b") == []


def task(name: str, fit: float, parallel: float = 0.0, other: float = 0.5) -> Task:
    return Task(name, Cost(fit, other, parallel, "prior"))


def test_a_long_model_that_uses_threads_gets_the_cores_when_that_ends_the_run_sooner() -> None:
    uneven = [task("forest", 9.0, 0.97), task("boosting", 0.9, 0.6), task("knn", 0.8, 0.95),
              task("tree", 0.4), task("logistic", 0.05), task("bayes", 0.02)]
    plan = schedule.plan(uneven, budget=2, parallel=2)
    first = plan.slots[0]
    assert (first.name, first.threads, first.start) == ("forest", 2, 0.0)
    assert [s.name for s in plan.slots] == ["forest", "boosting", "knn", "tree", "logistic", "bayes"]
    # one thread each, side by side, would take at least the forest's single-threaded 9.5 s
    assert plan.wall_seconds < 8


def test_equal_models_run_side_by_side_and_the_budget_is_never_exceeded() -> None:
    equal = [task(f"forest-{i}", 5.0, 0.97) for i in range(4)]
    plan = schedule.plan(equal, budget=2, parallel=2)
    assert plan.wall_seconds == pytest.approx(2 * 5.5, rel=0.05)
    for moment in sorted({s.start for s in plan.slots}):
        assert sum(s.threads for s in plan.slots if s.start <= moment < s.end) <= 2


def test_the_last_model_to_start_gets_the_cores_the_others_freed() -> None:
    running = [Running("done-soon", 1, 1.0)]
    last = task("boosting", 4.0, 0.9)
    assert schedule.threads_for(last, [], running, now=0.0, budget=4, parallel=4) == 3
    assert schedule.threads_for(task("linear", 4.0), [], running, now=0.0, budget=4, parallel=4) == 1
    # with more models waiting, spreading them is better than one model on every core
    queue = [task(f"other-{i}", 4.0, 0.9) for i in range(3)]
    assert schedule.threads_for(last, queue, [], now=0.0, budget=4, parallel=4) == 1


def test_more_processes_than_cores_when_asked_for_explicitly() -> None:
    assert schedule.budget_for(cpus=2, parallel=4) == 4 and schedule.budget_for(cpus=8, parallel=2) == 8
    plan = schedule.plan([task(f"m{i}", 1.0) for i in range(4)], budget=4, parallel=4)
    assert {s.start for s in plan.slots} == {0.0} and {s.threads for s in plan.slots} == {1}


@pytest.mark.slow
@pytest.mark.parametrize("example", ["breast-cancer", "wine", "diabetes"])
def test_a_models_scores_do_not_depend_on_its_thread_count(tmp_path, example: str) -> None:  # noqa: ANN001
    """scikit-learn's forests, boosting, neighbours and linear models give the same predictions on
    one thread or two (the split of work never changes a tree or a sum), so a plan that hands out
    threads changes no number on the leaderboard."""
    from bakeoff import steps
    from bakeoff.examples import write_example
    from bakeoff.runs import create_run
    from bakeoff.spec import anchored, load_config

    config, _ = write_example(example, tmp_path / "project")
    scored = {}
    for threads in (1, 2):
        exp = anchored(load_config(config), config.parent).model_copy(
            update={"storage": (tmp_path / f"store-{threads}").as_uri()})
        run = create_run(LocalStore(tmp_path / f"store-{threads}"), exp)
        prepared = steps.prepare(run.uri)
        scored[threads] = {name: steps.train(run.store.root, job, name, threads=threads)
                           for name, job in prepared.jobs.items()}
    for name, one in scored[1].items():
        two = scored[2][name]
        assert one.ok and two.ok and (one.threads, two.threads) == (1, 2)
        for split in ("valid", "test"):
            for metric, value in one.metrics[split].items():
                assert two.metrics[split][metric] == pytest.approx(value, abs=1e-9), (name, split, metric)
        assert two.ci == pytest.approx(one.ci, abs=1e-9)


@pytest.mark.slow
def test_the_local_runner_does_what_its_plan_says_and_records_what_each_fit_cost(tmp_path) -> None:  # noqa: ANN001
    from bakeoff.examples import write_example
    from bakeoff.runners.base import RunOptions
    from bakeoff.runners.local import LocalRunner
    from bakeoff.spec import anchored, load_config

    config, _ = write_example("breast-cancer", tmp_path)
    exp = anchored(load_config(config), tmp_path)
    before, cached = LocalRunner().plan(exp, RunOptions())
    assert cached == [] and {s.cost.source for s in before.slots} == {"prior"}
    outcome = LocalRunner().run(exp, RunOptions())
    first = before.slots[0]  # decided at the same moment with the same facts as the plan's
    assert outcome.run.result(first.name).threads == first.threads
    store = LocalStore(tmp_path / ".bakeoff")
    for m in exp.models:
        [seen] = costs.history(store, m.digest())
        assert seen.threads == outcome.run.result(m.name).threads and seen.wall_seconds > seen.fit_seconds
    after, _ = LocalRunner().plan(exp, RunOptions(use_cache=False))
    assert {s.cost.source for s in after.slots} == {"history"}
    assert costs.phases(store).before > 0  # what the run cost besides its models, for the next plan
    cached_plan, cached = LocalRunner().plan(exp, RunOptions())
    assert sorted(cached) == sorted(exp.model_names) and cached_plan.slots == []
