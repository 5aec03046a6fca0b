"""The Kubeflow Pipelines runner: the compiled pipeline, submitted to a cluster (`bakeoff submit`).

``parallel`` compiles the loop form with that parallelism (a per-model pipeline starts every train
pod at once); ``use_cache=False`` compiles train tasks that neither KFP's cache nor the store's
results serve. It reports no progress: the run goes on in the cluster, where its URL leads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from bakeoff.errors import UserError
from bakeoff.runners.base import Outcome, RunOptions

if TYPE_CHECKING:
    from bakeoff.kfp.client import KfpClient
    from bakeoff.spec import Experiment


class KfpRunner:
    name: ClassVar[str] = "kfp"

    def __init__(self, client: KfpClient, *, store: str | None = None, experiment: str | None = None,
                 wait: float | None = None) -> None:
        self.client, self.store, self.experiment, self.wait = client, store, experiment, wait

    def run(self, exp: Experiment, options: RunOptions) -> Outcome:
        """Submit; with ``wait`` (seconds), also wait for the run and read its leaderboard."""
        from bakeoff.kfp.pipeline import compile_experiment
        from bakeoff.kfp.submit import submit

        # compiled before any upload: a config that cannot compile changes nothing
        package = compile_experiment(exp, parallel=options.parallel, reuse=options.use_cache).text
        done = submit(exp, self.client, package, store=self.store, experiment=self.experiment)
        if self.wait is None:
            return Outcome(done.run, None, done.url)
        state = self.client.wait(done.kfp_run_id, self.wait)
        board = done.run.leaderboard()
        if board is None:
            raise UserError(f"--wait: the Kubeflow run ended {state} without a leaderboard; read its logs at "
                            f"{done.url}")
        return Outcome(done.run, board, done.url, state)
