"""Where a run lives in the store, and how to create, find and list runs.

A run URI is ``<store root>/runs/<run_id>``. It is all a step needs: the store root and the run
id come out of it, and the exact config of the run is read from ``config.yaml`` inside.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bakeoff.errors import UserError, cut, shorten
from bakeoff.storage import MissingObject, ObjectStore, open_store

if TYPE_CHECKING:
    from bakeoff.spec import Experiment  # imported where a config is parsed: listing runs needs no schema
    from bakeoff.leaderboard import Leaderboard
    from bakeoff.records import ModelResult, Prepared

LEADERBOARD = "leaderboard.json"
NEW_RUN = "start a new run with `bakeoff run CONFIG`"
# \Z, not $: "$" also matches before a final newline, and "x\n" is no folder name a run should get
RUN_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}\Z")
_PARSED: dict[bytes, Experiment] = {}


@dataclass(frozen=True)
class Run:
    store: ObjectStore
    run_id: str

    @classmethod
    def from_uri(cls, run_uri: str) -> Run:
        root, sep, run_id = run_uri.rstrip("/").rpartition("/runs/")
        if not sep or not RUN_ID_PATTERN.match(run_id):
            raise UserError(f"--run-uri: {cut(run_uri)} is not a run URI; it looks like "
                            "s3://bucket/prefix/runs/RUN_ID or file:///path/runs/RUN_ID")
        return cls(open_store(root or "/"), run_id)

    @property
    def uri(self) -> str:
        return self.store.uri(f"runs/{self.run_id}")

    def key(self, *parts: str) -> str:
        return "/".join(("runs", self.run_id, *parts))

    def _config_bytes(self) -> bytes:
        try:
            return self.store.read_bytes(self.key("config.yaml"))
        except MissingObject:
            raise UserError(f"--run-uri: no run at {self.uri} (config.yaml is missing); "
                            "start one with `bakeoff run` or `bakeoff submit`") from None

    def model_timeout(self, model: str) -> int | None:
        """A model's timeout, from the config's structure alone. The process that supervises a
        train step needs nothing more, and the full validation (done when the run was created)
        imports scikit-learn, pandas and pyarrow: about 190 MiB it would hold beside the model's
        own process for the whole fit."""
        from bakeoff.spec import Experiment
        from bakeoff.yamlfile import load_yaml

        source = self.store.uri(self.key("config.yaml"))
        return Experiment.model_validate(load_yaml(self._config_bytes().decode("utf-8"), source)).model(model).timeout

    def config(self) -> Experiment:
        """The run's config, read every time (it is small) but validated once per distinct text:
        every step and cache lookup asks for it, and validation imports estimators."""
        from bakeoff.spec import parse_config_bytes

        raw = self._config_bytes()
        if raw not in _PARSED:
            source = self.store.uri(self.key("config.yaml"))
            try:
                _PARSED[raw] = parse_config_bytes(raw, source)
            except UserError as exc:  # it was valid when the run was created: damaged since
                from bakeoff.records import Damaged

                why = exc.problems[0].removeprefix(f"{source}: ").split("; ")[0]
                raise Damaged(source, shorten(why), NEW_RUN) from None
        return _PARSED[raw].model_copy(deep=True)  # callers may not share one mutable object

    def prepared_config(self) -> tuple[Experiment, Prepared]:
        """The run's config and what prepare decided from it; ``Damaged`` when the config is no
        longer the one prepared (cut or edited into another valid config)."""
        from bakeoff.records import Damaged

        exp, prepared = self.config(), self.prepared()
        if exp.digest() != prepared.config_digest:
            raise Damaged(self.store.uri(self.key("config.yaml")), "not the config this run was prepared with",
                          NEW_RUN)
        return exp, prepared

    def leaderboard(self) -> Leaderboard | None:
        """The ranked results, or None while compare has not written them."""
        from bakeoff.leaderboard import Leaderboard
        from bakeoff.records import Damaged, unsealed

        uri = self.store.uri(self.key(LEADERBOARD))
        try:
            data = json.loads(self.store.read_bytes(self.key(LEADERBOARD)))
            if not isinstance(data, dict):
                raise TypeError("not an object")
        except MissingObject:
            return None
        except (ValueError, TypeError):  # truncated or overwritten
            raise Damaged(uri, "not a leaderboard", self.compare_again) from None
        try:  # edited by hand: not served (an older bakeoff's leaderboard has no sha256 to check)
            return Leaderboard.from_dict(unsealed(data, uri, self.compare_again, required=False))
        except (ValueError, KeyError, TypeError, AttributeError):
            raise Damaged(uri, "not a leaderboard", self.compare_again) from None

    @property
    def compare_again(self) -> str:
        """The fix for a damaged file that compare writes."""
        return f"write it again with `bakeoff step compare --run-uri {self.uri}`"

    def write_leaderboard(self, board: Leaderboard) -> None:
        """Written last by compare: a leaderboard means a finished compare."""
        from bakeoff.records import dumps

        self.store.write_bytes(self.key(LEADERBOARD), dumps(board.to_dict()))

    def finished_leaderboard(self) -> Leaderboard:
        board = self.leaderboard()
        if board is None:
            raise UserError(f"RUN: run {self.run_id} has no leaderboard yet; run "
                            f"`bakeoff step compare --run-uri {self.uri}`")
        return board

    def prepared(self) -> Prepared:
        """What prepare decided for this run; an error naming the fix when it never finished."""
        from bakeoff import records

        data = records.load(self.store, self.key("prepared.json"),
                            f"prepare it again with `bakeoff step prepare --run-uri {self.uri}`")
        if data is None:
            raise UserError(f"--run-uri: run {self.run_id} was never prepared (prepared.json is missing "
                            "or unreadable): its prepare step failed (read its log) or never ran; run "
                            f"`bakeoff step prepare --run-uri {self.uri}`")
        return records.Prepared.from_dict(data)

    def write_prepared(self, prepared: Prepared) -> None:
        from bakeoff import records

        self.store.write_bytes(self.key("prepared.json"), records.dumps(prepared.to_dict()))

    def result(self, model: str) -> ModelResult | None:
        """This run's view of one model's outcome, once compare (or the runner) recorded it."""
        from bakeoff import records

        data = records.load(self.store, self.key("models", model, records.RESULT), self.compare_again)
        return None if data is None else records.ModelResult.from_dict(data)

    def pipeline(self, model: str) -> Any:
        """A model's fitted Pipeline, checked against its sha256 and loaded with skops' allowlist."""
        from bakeoff import modeling, records

        result = self.result(model)
        if result is None or "model" not in result.artifacts:
            raise UserError(f"--model: {model!r} has no saved model in run {self.run_id} (it failed, or "
                            "compare has not recorded it yet)")
        return modeling.loads(records.read_artifact(self.store, result.artifacts["model"]))

    def write_result(self, result: ModelResult) -> None:
        from bakeoff import records

        self.store.write_bytes(self.key("models", result.model, records.RESULT), records.dumps(result.to_dict()))



def new_run_id(now: datetime | None = None) -> str:
    """Sortable by time, unique without coordination: 20261127-091500-3f9a1c."""
    now = now or datetime.now(timezone.utc)
    return f"{now:%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


def started(run_id: str) -> datetime | None:
    """When a run started, read back from an id ``new_run_id`` made; None for an id given by hand."""
    try:
        return datetime.strptime(run_id[:15], "%Y%m%d-%H%M%S").replace(tzinfo=timezone.utc)
    except ValueError:
        return None


def checked_run_id(run_id: str, field: str = "--run-id") -> str:
    """A run id that names one folder of runs/ and nothing else, checked before anything is written."""
    if "{{" in run_id:  # a KFP placeholder nobody substituted
        raise UserError(f"{field}: {cut(run_id)} is a Kubeflow placeholder the backend did not substitute; "
                        "{{$.pipeline_job_uuid}} needs Kubeflow Pipelines 2.5 or newer")
    if not RUN_ID_PATTERN.match(run_id):
        raise UserError(f"{field}: {cut(run_id)} is not a run id; use up to 128 letters, digits, '.', "
                        "'_' and '-', starting with a letter or digit")
    return run_id


def create_run(store: ObjectStore, exp: Experiment, run_id: str | None = None) -> Run:
    run = Run(store, checked_run_id(run_id) if run_id else new_run_id())
    store.write_bytes(run.key("config.yaml"), exp.to_yaml().encode())
    return run


UNREACHABLE = ("is a folder on this machine, which pods cannot reach; set storage: s3://BUCKET/PREFIX in "
               "the config or pass --store s3://BUCKET/PREFIX")


def cluster_store(exp: Experiment, store: str | None = None) -> str:
    """The store root a run on a cluster uses (``store``, else the config's storage), refused
    before anything is uploaded or submitted when it is a local folder."""
    from bakeoff.storage import is_local

    root = store or exp.storage
    if is_local(root):
        raise UserError(f"storage: {root!r} {UNREACHABLE}")
    return root


def create_cluster_run(exp: Experiment, store: str | None = None) -> Run:
    """A new run for pods to work in: in ``store`` (else the config's storage), which pods must
    reach, so not a local folder; a local dataset is copied in first, to
    ``data/<sha256>/<file name>`` (the same file is uploaded once)."""
    import hashlib

    from bakeoff.storage import is_local, local_path, read_uri

    opened = open_store(cluster_store(exp, store))
    exp = exp.model_copy(update={"storage": opened.root})
    if is_local(exp.dataset.uri):
        raw = read_uri(exp.dataset.uri)
        key = f"data/{hashlib.sha256(raw).hexdigest()[:16]}/{local_path(exp.dataset.uri).name}"
        if not opened.exists(key):
            opened.write_bytes(key, raw)
        exp = exp.model_copy(update={"dataset": exp.dataset.model_copy(update={"uri": opened.uri(key)})})
    return create_run(opened, exp)


def find_run(store: ObjectStore, ref: str) -> Run:
    """A run by URI, by id, or by unique id prefix; ``latest`` is the newest."""
    if "/runs/" in ref:
        return Run.from_uri(ref)
    ids = run_ids(store)
    if ref == "latest" and ids:
        return Run(store, ids[-1])
    matches = [i for i in ids if i.startswith(ref)]
    if len(matches) != 1:
        found = "no run matches" if not matches else f"{len(matches)} runs match"
        raise UserError(f"RUN: {found} {ref!r} in {store.root}; list them with `bakeoff runs`")
    return Run(store, matches[0])


CONFIG_NAME = "bakeoff.yaml"


@dataclass(frozen=True)
class StoreChoice:
    """The store a command that reads runs (runs, report, compare) uses, and why that one: the
    reason is shown when it holds no run, with how to point elsewhere."""

    root: str
    reason: str


def _configured_storage(config: Path) -> str:
    """A config's ``storage``, resolved next to it, read without validating the rest (a listing
    of runs should not wait for the estimators to be checked)."""
    from bakeoff.storage import DEFAULT_ROOT, resolve
    from bakeoff.yamlfile import load_yaml

    data = load_yaml(config.read_text(encoding="utf-8"), str(config))
    storage = data.get("storage") if isinstance(data, dict) else None
    return resolve(storage if isinstance(storage, str) else DEFAULT_ROOT, config.parent)


def choose_store(given: str | None, given_by: str, here: Path) -> StoreChoice:
    """As `bakeoff run` finds it: ``given`` (--store or $BAKEOFF_STORE) first, else the storage of
    ./bakeoff.yaml, else ./.bakeoff."""
    if given:
        return StoreChoice(given, f"from {given_by}")
    config = here / CONFIG_NAME
    if config.is_file():
        return StoreChoice(_configured_storage(config), f"the storage of ./{CONFIG_NAME}")
    return StoreChoice(str(here / ".bakeoff"), f"the default; there is no ./{CONFIG_NAME} here")


def no_runs(choice: StoreChoice, store: ObjectStore, here: Path) -> str:
    """Where we looked and how to look elsewhere, naming the stores of configs one folder down
    (`make demo` writes demo/bakeoff.yaml)."""
    nearby = []
    for config in sorted(here.glob(f"*/{CONFIG_NAME}"))[:5]:
        try:
            root = _configured_storage(config)
        except (UserError, OSError):
            continue
        nearby.append(f"--store {said_from(root, here)}")
    also = f"; configs below here keep theirs elsewhere: {', '.join(nearby)}" if nearby else ""
    return (f"no runs in {store.root} ({choice.reason}); start one with `bakeoff run {CONFIG_NAME}`, "
            f"or point elsewhere with --store PATH or BAKEOFF_STORE=PATH{also}")


def said_from(uri: str, here: Path) -> str:
    """A store's URI as short as it can be said from ``here``: a path below it relative."""
    from bakeoff.storage import is_local, local_path

    if not is_local(uri):
        return uri
    path = local_path(uri)
    return str(path.relative_to(here)) if path.is_relative_to(here) else str(path)


def run_ids(store: ObjectStore) -> list[str]:
    return sorted({k.split("/")[1] for k in store.list("runs") if k.endswith("/config.yaml")})
