"""The Kubeflow tab: compile the config's pipeline to download, and submit it when a host is set.

Both call what ``bakeoff compile`` and ``bakeoff submit`` call, so the app can do nothing the
command line cannot. The host comes from ``KF_PIPELINES_ENDPOINT`` and credentials from the
variables the client reads; the app shows neither a token nor a cookie.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlparse

import streamlit as st

from bakeoff.errors import UserError
from bakeoff.spec import Experiment, anchored
from bakeoff.storage import is_local

COMPILED = "kfp:compiled"  # (config digest, pipeline YAML)


def _problems(exc: UserError) -> None:
    for line in exc.problems:
        st.error(line)


def _compile(exp: Experiment) -> None:
    try:
        from bakeoff.kfp.pipeline import compile_experiment

        with st.spinner("compiling and validating the pipeline"):
            st.session_state[COMPILED] = (exp.digest(), compile_experiment(exp).text)
    except ImportError:
        st.error("Compiling needs the kfp package: pip install 'bakeoff[kfp]'")
    except UserError as exc:
        _problems(exc)


def _where(host: str) -> str:
    """The host as shown: scheme, name and port, never a user or password written into the URL."""
    parsed = urlparse(host if "://" in host else f"http://{host}")
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.scheme}://{parsed.hostname}{port}"


def _submit(exp: Experiment, host: str, base: Path) -> None:
    from bakeoff.kfp.client import connect
    from bakeoff.runners.base import RunOptions
    from bakeoff.runners.cluster import KfpRunner

    namespace = st.session_state.get("kfp:namespace") or None
    store = st.session_state.get("kfp:store") or None
    try:
        with st.spinner("uploading the config and data, publishing the pipeline, starting the run"):
            done = KfpRunner(connect(host, namespace=namespace), store=store).run(anchored(exp, base), RunOptions())
    except UserError as exc:
        _problems(exc)
        return
    st.success(f"Started run `{done.run.run_id}`; its results go to `{done.run.uri}`, "
               "where the History tab finds them.")
    st.link_button("Open the run in Kubeflow", done.url or "", icon=":material/open_in_new:")


def kubeflow_tab(exp: Experiment | None, base: Path) -> None:
    from bakeoff.kfp.client import ENV_ENDPOINT

    if exp is None:
        st.info("Fix the problems the form shows first: only a valid config compiles.")
        return
    st.caption("One pod per model, with the placement each model asks for; prepare and compare around them.")
    if st.button("Compile pipeline", key="kfp:compile", icon=":material/account_tree:"):
        _compile(exp)
    compiled = st.session_state.get(COMPILED)
    if compiled and compiled[0] == exp.digest():
        from bakeoff.kfp.pipeline import pipeline_name

        st.download_button("Download pipeline YAML", compiled[1], file_name=f"{pipeline_name(exp)}.yaml",
                           mime="application/yaml", key="kfp:download", icon=":material/download:")
        with st.expander("Pipeline YAML"):
            st.code(compiled[1], language="yaml")
    host = os.environ.get(ENV_ENDPOINT)
    if not host:
        st.caption(f"To submit from here, start the app with `{ENV_ENDPOINT}` set.")
        return
    st.subheader(f"Submit to {_where(host)}")
    st.text_input("namespace", key="kfp:namespace", help="Your profile namespace, on a multi-user Kubeflow.")
    st.text_input("store", key="kfp:store", placeholder="s3://bucket/prefix" if is_local(exp.storage) else exp.storage,
                  help="Where the run's data and results go; the cluster must reach it. Empty: the config's storage.")
    if st.button("Submit to Kubeflow", key="kfp:submit", icon=":material/rocket_launch:"):
        _submit(exp, host, base)
