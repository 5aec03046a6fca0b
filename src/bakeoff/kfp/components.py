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


def build(image: str) -> Components:
    """The components for one image. Tasks may override it per model with ``set_container_image``."""
    from kfp import dsl

    @dsl.container_component
    def prepare(run: dsl.OutputPath(str), fingerprint: dsl.OutputPath(str),  # type: ignore[valid-type]
                config_digest: dsl.OutputPath(str), models: dsl.OutputPath(list),  # type: ignore[valid-type]
                config_uri: str = "", run_uri: str = "", run_id: str = "",
                expect_models: str = "") -> dsl.ContainerSpec:
        """Write the config into the run, then load, fingerprint and split the data once per content.

        Args:
            config_uri: The config to run (s3://bucket/key.yaml); empty to use run_uri's config.
            run_uri: <store>/runs/<run_id>; empty to make a run in the config's storage.
            run_id: Id of a new run; a pipeline passes its KFP run id.
            expect_models: Comma-separated model names the pipeline was compiled for; empty for any.
            run: The run URI that train and compare use.
            fingerprint: sha256 of the raw data and split; part of every train task's cache key.
            config_digest: sha256 of the config; part of every train task's cache key.
            models: The config's model names.
        """
        return dsl.ContainerSpec(image=image, command=[*STEP, "prepare"], args=[
            "--config-uri", config_uri, "--run-uri", run_uri, "--run-id", run_id,
            "--expect-models", expect_models,
            "--kfp-output", f"run={run}", "--kfp-output", f"fingerprint={fingerprint}",
            "--kfp-output", f"config_digest={config_digest}", "--kfp-output", f"models={models}",
        ])

    @dsl.container_component
    def train(run_uri: str, model: str, fingerprint: str, config_digest: str,
              metrics: dsl.Output[dsl.Metrics],
              classification_metrics: dsl.Output[dsl.ClassificationMetrics]) -> dsl.ContainerSpec:
        """Fit, evaluate and save one model; a failed model exits 1 after recording its failure.

        Args:
            run_uri: <store>/runs/<run_id>, from prepare.
            model: The model's name in the config.
            fingerprint: From prepare; the step refuses a mismatch, and KFP's cache key sees the data.
            config_digest: From prepare; the step refuses a mismatch, and KFP's cache key sees the config.
            metrics: Test and validation scores and timings.
            classification_metrics: Confusion matrix and ROC on the test split (classifiers only).
        """
        return dsl.ContainerSpec(image=image, command=[*STEP, "train"], args=[
            "--run-uri", run_uri, "--model", model,
            "--fingerprint", fingerprint, "--config-digest", config_digest,
            "--executor-input", dsl.PIPELINE_TASK_EXECUTOR_INPUT_PLACEHOLDER,
        ])

    @dsl.container_component
    def compare(html: dsl.Output[dsl.HTML], markdown: dsl.Output[dsl.Markdown],
                run_uri: str = "") -> dsl.ContainerSpec:
        """Rank every model of the run; failed and missing models are rows too.

        Args:
            run_uri: <store>/runs/<run_id>, from prepare; optional so compare runs after failures.
            html: The leaderboard as HTML.
            markdown: The leaderboard as Markdown.
        """
        return dsl.ContainerSpec(image=image, command=[*STEP, "compare"], args=[
            "--run-uri", run_uri, "--kfp-output", f"html={html.path}",
            "--kfp-output", f"markdown={markdown.path}",
        ])

    return Components(prepare, train, compare)
