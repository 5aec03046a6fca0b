"""The three KFP container components: each one runs `bakeoff step …` in the project image.

The components only map KFP inputs and outputs onto `bakeoff step` flags. The step reads its
config and data from the store named by the run URI, so the component itself holds no data.
(No ``from __future__ import annotations`` here: kfp reads the annotations at definition time.)
"""

from dataclasses import dataclass
from typing import Any

STEP = ["bakeoff", "step"]


@dataclass(frozen=True)
class Components:
    prepare: Any
    train: Any
    compare: Any


def build(image: str, *, reuse: bool = True) -> Components:
    """The components for one image. Tasks may override it per model with ``set_container_image``.

    ``reuse=False`` makes train retrain even when the store holds an identical model's result
    (`bakeoff run --no-cache` through a pipeline)."""
    from kfp import dsl

    @dsl.container_component
    def prepare(run: dsl.OutputPath(str), store: dsl.OutputPath(str),  # type: ignore[valid-type]
                context: dsl.OutputPath(str), models: dsl.OutputPath(list),  # type: ignore[valid-type]
                config_uri: str = "", run_uri: str = "", run_id: str = "",
                expect_models: str = "") -> dsl.ContainerSpec:
        """Write the config into the run, prepare the data once per content, and write one job per model.

        Args:
            config_uri: The config to run (s3://bucket/key.yaml); empty to use run_uri's config.
            run_uri: <store>/runs/<run_id>; empty to make a run in the config's storage.
            run_id: Id of a new run; a pipeline passes its KFP run id.
            expect_models: NAME=SPEC_DIGEST,… the pipeline was compiled for; empty for any config.
            run: The run URI.
            store: The store root, where the train tasks find their jobs.
            context: Digest of everything run-level that decides a result (data, features, metrics, seed, code).
            models: One item per model: its name, spec digest and timeout.
        """
        return dsl.ContainerSpec(image=image, command=[*STEP, "prepare"], args=[
            "--config-uri", config_uri, "--run-uri", run_uri, "--run-id", run_id,
            "--expect-models", expect_models,
            "--kfp-output", f"run={run}", "--kfp-output", f"store={store}",
            "--kfp-output", f"context={context}", "--kfp-output", f"models={models}",
        ])

    @dsl.container_component
    def train(store: str, context: str, model: str,
              metrics: dsl.Output[dsl.Metrics],
              classification_metrics: dsl.Output[dsl.ClassificationMetrics],
              spec: str = "", timeout: int = 0, placement: str = "{}") -> dsl.ContainerSpec:
        """Train one model's job; a model that fails is a failed row, and the task still succeeds.

        Its inputs name the job by content, never the run: KFP's cache key is every input value
        (backend/src/v2/cacheutils/cache.go, GenerateCacheKey), so the same model on the same data
        with the same code and placement is a cache hit that starts no pod.

        Args:
            store: The store root, from prepare.
            context: The job context digest, from prepare.
            model: The model's name in the config, or NAME=SPEC_DIGEST with spec left empty.
            spec: The model's spec digest (estimator, params, search).
            timeout: Seconds before the model is stopped (a failed row); 0 for none.
            placement: The pod's resources, node selector and tolerations (JSON), recorded with the result.
            metrics: Test and validation scores and timings.
            classification_metrics: Confusion matrix and ROC on the test split (classifiers only).
        """
        return dsl.ContainerSpec(image=image, command=[*STEP, "train"], args=[
            "--store", store, "--context", context, "--spec", spec, "--model", model,
            "--timeout", timeout, "--placement", placement,
            "--executor-input", dsl.PIPELINE_TASK_EXECUTOR_INPUT_PLACEHOLDER, *([] if reuse else ["--no-cache"]),
        ])

    @dsl.container_component
    def compare(html: dsl.Output[dsl.HTML], markdown: dsl.Output[dsl.Markdown],
                config_uri: str = "", run_uri: str = "", run_id: str = "") -> dsl.ContainerSpec:
        """Rank every model of the run; failed and missing models are rows too.

        It runs as the pipeline's exit task, so it takes the pipeline's own parameters and finds
        the run the way prepare made it.

        Args:
            config_uri: The pipeline's config_uri.
            run_uri: The pipeline's run_uri.
            run_id: The KFP run id, as prepare got it.
            html: The leaderboard as HTML.
            markdown: The leaderboard as Markdown.
        """
        return dsl.ContainerSpec(image=image, command=[*STEP, "compare"], args=[
            "--config-uri", config_uri, "--run-uri", run_uri, "--run-id", run_id,
            "--kfp-output", f"html={html.path}", "--kfp-output", f"markdown={markdown.path}",
        ])

    return Components(prepare, train, compare)
