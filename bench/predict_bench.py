"""`bakeoff predict` and the served champion, measured on this machine.

    .venv/bin/python bench/predict_bench.py [--rows 500000] [--repeats 3]

A bake-off of one logistic regression on breast cancer (plus a text column and missing values,
as in tests/test_serving.py) registers its champion in a local `mlflow server` (SQLite, local
artifacts, 127.0.0.1). Then, medians of --repeats:

1. `bakeoff predict RUN --input rows.parquet -o preds.parquet` on --rows rows resampled from the
   table: the whole process, start-up included, as a user waits for it; and in-process, one
   ``predictions`` call against ``predictions_in_chunks`` (what the progress bar costs).
2. What registering the champion as a served pyfunc adds to compare (``tracking._log_served``).
3. MLflow's scoring server (`bakeoff deploy --to mlflow`'s command): one POST of 1 and of 100
   rows to /invocations, median of 30 each.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


BIN = Path(sys.executable).parent
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from tables import mixed_breast_cancer  # noqa: E402 - the table tests/test_serving.py serves


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait(url: str, proc: subprocess.Popen, seconds: float = 120) -> None:
    import requests

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if requests.get(url, timeout=1).ok:
                return
        except requests.RequestException:
            time.sleep(0.5)
    raise RuntimeError(f"{proc.args[:3]} did not answer {url}")


def stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=20)


def median_of(repeats: int, call) -> float:  # noqa: ANN001
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    import requests

    from bakeoff import predict, steps, tracking
    from bakeoff.runs import create_run
    from bakeoff.spec import parse_experiment
    from bakeoff.storage import LocalStore

    tmp = Path(tempfile.mkdtemp(prefix="bakeoff-predict-bench-"))
    port = free_port()
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
           "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    server = subprocess.Popen([str(BIN / "mlflow"), "server", "--backend-store-uri", f"sqlite:///{tmp / 'm.db'}",
                               "--artifacts-destination", str(tmp / "artifacts"), "--host", "127.0.0.1",
                               "--port", str(port), "--workers", "1"], cwd=tmp, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    uri = f"http://127.0.0.1:{port}"
    scoring = None
    try:
        wait(f"{uri}/health", server)
        mixed_breast_cancer().to_csv(tmp / "table.csv", index=False)
        exp = parse_experiment({
            "experiment": "predict-bench", "dataset": {"uri": str(tmp / "table.csv"), "target": "diagnosis"},
            "models": [{"name": "logistic", "estimator": "LogisticRegression", "params": {"max_iter": 3000}}],
            "storage": str(tmp / "store"), "tracking": {"mlflow_uri": uri, "register": "bench-champion"}})
        run = create_run(LocalStore(tmp / "store"), exp)
        prepared = steps.prepare(run.uri)
        steps.train(run.store.root, prepared.jobs["logistic"], "logistic", threads=1)
        steps.compare(run.uri)

        rows = mixed_breast_cancer().drop(columns="diagnosis").sample(args.rows, replace=True, random_state=0)
        rows.to_parquet(tmp / "rows.parquet")
        command = [str(BIN / "bakeoff"), "predict", run.uri, "--input", str(tmp / "rows.parquet"),
                   "-o", str(tmp / "preds.parquet")]
        cli = median_of(args.repeats, lambda: subprocess.run(command, check=True, capture_output=True))
        pipeline = run.pipeline("logistic")
        whole = median_of(args.repeats, lambda: predict.predictions(pipeline, rows))
        chunked = median_of(args.repeats, lambda: predict.predictions_in_chunks(pipeline, rows))
        print(f"1. bakeoff predict, {args.rows:,} rows: {cli:.2f} s ({args.rows / cli:,.0f} rows/s, process "
              f"start-up included); in-process: one call {whole:.2f} s, in chunks of "
              f"{predict.CHUNK_ROWS:,} {chunked:.2f} s")

        client = tracking._client(uri, "bench")
        child = run.result("logistic").mlflow_run_id
        model_id = client.get_run(child).outputs.model_outputs[0].model_id
        served = median_of(args.repeats, lambda: tracking._log_served(client, child, model_id, "logistic"))
        print(f"2. registering the served pyfunc adds {served:.2f} s to compare")

        serve_port = free_port()
        ran = subprocess.run([str(BIN / "bakeoff"), "deploy", run.uri, "--to", "mlflow", "--port", str(serve_port)],
                             env={**env, "MLFLOW_TRACKING_URI": uri}, check=True, capture_output=True, text=True)
        argv = shlex.split(ran.stdout)
        scoring = subprocess.Popen([str(BIN / argv[0]), *argv[1:]], cwd=tmp, start_new_session=True,
                                   env={**env, "MLFLOW_TRACKING_URI": uri, "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "false"},
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait(f"http://127.0.0.1:{serve_port}/ping", scoring)
        for n in (1, 100):
            batch = rows.head(n).astype(object).where(rows.head(n).notna(), None)
            body = {"dataframe_split": {"columns": list(batch.columns), "data": batch.values.tolist()}}
            post = lambda: requests.post(f"http://127.0.0.1:{serve_port}/invocations", json=body,  # noqa: E731
                                         timeout=30).raise_for_status()
            post()  # warm
            print(f"3. scoring server, {n} row(s) per request: {median_of(30, post) * 1000:.1f} ms")
    finally:
        if scoring is not None:
            stop(scoring)
        stop(server)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
