"""LocalStore and S3Store behave the same; S3 runs against a real S3 server process (moto)."""

from __future__ import annotations

import threading
import time
from http.server import ThreadingHTTPServer

import pytest

from bakeoff import storage
from bakeoff.errors import UserError
from bakeoff.storage import LocalStore, MissingObject, S3Store, open_store
from standin_http import QuietHandler


def exercise(store: storage.ObjectStore) -> None:
    store.write_bytes("runs/a/config.yaml", b"one")
    store.write_bytes("runs/a/config.yaml", b"two")  # overwrite is atomic, not append
    store.write_bytes("runs/b/models/x/result.json", b"{}")
    assert store.read_bytes("runs/a/config.yaml") == b"two"
    assert store.exists("runs/a/config.yaml") and not store.exists("runs/a/nope")
    assert store.list("runs") == ["runs/a/config.yaml", "runs/b/models/x/result.json"]
    assert store.list("nothing") == []
    with pytest.raises(MissingObject, match="runs/a/nope: no such object"):
        store.read_bytes("runs/a/nope")
    store.delete("runs/b/models/x/result.json")
    assert store.list("runs") == ["runs/a/config.yaml"]


def test_local_store(tmp_path) -> None:  # noqa: ANN001
    store = LocalStore(tmp_path / "root")
    exercise(store)
    leftovers = [p.name for p in (tmp_path / "root").rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == [] and not (tmp_path / "root" / "runs" / "b").exists()


def test_local_write_failure_leaves_no_partial_file(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    store = LocalStore(tmp_path)
    store.write_bytes("k", b"old")

    def broken_replace(*_: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(storage.os, "replace", broken_replace)
    with pytest.raises(OSError):
        store.write_bytes("k", b"new")
    assert store.read_bytes("k") == b"old" and [p.name for p in tmp_path.iterdir()] == ["k"]


def test_s3_store(s3_env) -> None:  # noqa: ANN001
    s3_env.make_bucket("store-test")
    store = open_store("s3://store-test/some/prefix")
    assert isinstance(store, S3Store) and store.root == "s3://store-test/some/prefix"
    exercise(store)
    # the prefix is really a prefix in the bucket
    names = [o.object_name for o in s3_env.client().list_objects("store-test", recursive=True)]
    assert names == ["some/prefix/runs/a/config.yaml"]


def test_s3_missing_bucket_is_a_user_error_when_read_and_created_when_written(s3_env, capsys) -> None:  # noqa: ANN001
    store = open_store("s3://no-such-bucket/prefix")
    with pytest.raises(UserError, match=r"bucket 'no-such-bucket' does not exist at http://127.0.0.1:\d+; check the "
                                        r"name \(`bakeoff run` creates its store's bucket\)"):
        store.read_bytes("x")

    store.write_bytes("runs/a/config.yaml", b"x")

    assert store.read_bytes("runs/a/config.yaml") == b"x"
    assert capsys.readouterr().err == (f"note: storage: created the bucket 'no-such-bucket' at {s3_env.endpoint}, "
                                       "which did not exist\n")


def test_s3_unreachable_endpoint_is_a_user_error(monkeypatch) -> None:  # noqa: ANN001
    import socket

    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("BAKEOFF_S3_RETRY_SECONDS", "1")
    monkeypatch.setattr(storage, "_gave_up_at", None)
    unreachable = r"cannot reach S3 at http://127.0.0.1:.*; check BAKEOFF_S3_ENDPOINT_URL \(or AWS_ENDPOINT_URL\)"
    started = time.monotonic()
    with pytest.raises(UserError, match=unreachable):
        open_store("s3://bucket").read_bytes("x")
    retried = time.monotonic() - started
    with pytest.raises(UserError, match=unreachable):  # the same outage: tried once, not a budget again
        open_store("s3://bucket").read_bytes("y")
    again = time.monotonic() - started - retried

    assert 1 <= retried < 4, f"retried for {retried:.2f} s with a budget of 1 s"
    assert again < 0.5, f"{again:.2f} s for the second request"


class NotS3(QuietHandler):
    """A web server where S3 should be: a proxy's error page, a half-started service."""

    status = 500

    def _answer(self) -> None:
        self._text("internal error", status=self.status)

    do_GET = do_PUT = do_HEAD = _answer


@pytest.mark.parametrize(("status", "retried"), [(500, True), (403, False)])
def test_an_endpoint_that_is_not_s3_is_one_line(monkeypatch, status: int, retried: bool) -> None:  # noqa: ANN001
    """A 5xx is retried for the budget, anything else refused at once; neither is a traceback
    (minio raises InvalidResponseError for a non-XML answer)."""
    handler = type("Answers", (NotS3,), {"status": status})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("BAKEOFF_S3_RETRY_SECONDS", "1")
    monkeypatch.setattr(storage, "_gave_up_at", None)
    started = time.monotonic()
    try:
        with pytest.raises(UserError, match=rf"^s3://bucket/x: {endpoint} answered HTTP {status}, not as S3 does; "
                                            r"check BAKEOFF_S3_ENDPOINT_URL \(or AWS_ENDPOINT_URL\) names an S3 server"):
            open_store("s3://bucket").read_bytes("x")
    finally:
        server.shutdown()
        server.server_close()
    assert (time.monotonic() - started >= 1) is retried


@pytest.mark.parametrize("value", ["soon", "-1", "1e9"])
def test_a_retry_budget_that_is_not_seconds_is_one_line(monkeypatch, value: str) -> None:  # noqa: ANN001
    monkeypatch.setenv("BAKEOFF_S3_RETRY_SECONDS", value)
    with pytest.raises(UserError, match=r"^BAKEOFF_S3_RETRY_SECONDS: .* set it like 15$"):
        storage.retry_seconds()


def test_invalid_bucket_name_is_a_user_error() -> None:
    with pytest.raises(UserError, match="storage: 'b' is not a valid S3 bucket name"):
        open_store("s3://b")


def test_transient_errors_are_retried_then_succeed(monkeypatch) -> None:  # noqa: ANN001
    from minio.error import S3Error

    monkeypatch.setattr(storage.time, "sleep", lambda _: None)
    calls = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise S3Error(None, "SlowDown", "slow down", "r", "req", "host")  # type: ignore[arg-type]
        return "ok"

    assert storage._retrying(flaky) == "ok" and len(calls) == 3


def test_permanent_errors_are_not_retried(monkeypatch) -> None:  # noqa: ANN001
    from minio.error import S3Error

    calls = []

    def denied() -> None:
        calls.append(1)
        raise S3Error(None, "AccessDenied", "no", "r", "req", "host")  # type: ignore[arg-type]

    with pytest.raises(S3Error):
        storage._retrying(denied)
    assert len(calls) == 1


def test_unknown_scheme_is_a_user_error() -> None:
    with pytest.raises(UserError, match="storage: unsupported scheme 'gs'"):
        open_store("gs://bucket")
