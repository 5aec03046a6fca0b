"""Object stores: a local folder or S3. The steps share nothing but one of these.

Every write is atomic: a reader sees the old object or the new one, never half of one. On a
folder that is a temporary file plus ``os.replace`` (as kfp's local cache does); on S3 a PUT is
already all-or-nothing. S3 endpoint and credentials come from the environment only, so configs and
compiled pipelines never hold a secret.

This module is also the one place that knows what a URI means: ``is_local``, ``local_path``,
``locate`` and ``open_store`` answer "where is this?" for every other module.
"""

from __future__ import annotations

import contextlib
import io
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import urljoin, urlparse

from bakeoff.errors import UserError, shorten

T = TypeVar("T")


@dataclass(frozen=True)
class EnvName:
    """One S3 setting, read from bakeoff's own variable first, then from the AWS one.

    The AWS names are what boto3, the AWS CLI and MLflow read, so one set of settings serves them
    all on a laptop. Pods get only the ``BAKEOFF_S3_*`` names: KFP's launcher runs in the same
    container as the step and reads ``AWS_*`` for its own pipeline root when that root's
    credentials are ``fromEnv`` (kubeflow/pipelines backend/src/v2/objectstore/object_store.go,
    ``awsconfig.LoadDefaultConfig``), so bakeoff's store keys must not replace them.
    """

    own: str
    aws: str

    def __str__(self) -> str:
        return f"{self.own} (or {self.aws})"


ENDPOINT = EnvName("BAKEOFF_S3_ENDPOINT_URL", "AWS_ENDPOINT_URL")
ACCESS_KEY = EnvName("BAKEOFF_S3_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID")
SECRET_KEY = EnvName("BAKEOFF_S3_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY")
SESSION_TOKEN = EnvName("BAKEOFF_S3_SESSION_TOKEN", "AWS_SESSION_TOKEN")
REGION = EnvName("BAKEOFF_S3_REGION", "AWS_REGION")
S3_ENV = (ENDPOINT, ACCESS_KEY, SECRET_KEY, SESSION_TOKEN, REGION)
SECRET_ENV = tuple(name for e in (ACCESS_KEY, SECRET_KEY, SESSION_TOKEN) for name in (e.own, e.aws))
DEFAULT_ENDPOINT = "https://s3.amazonaws.com"
DEFAULT_ROOT = "file://./.bakeoff"  # a config's storage when it names none: next to the config


def s3_endpoint() -> str:
    return os.environ.get(ENDPOINT.own) or os.environ.get(ENDPOINT.aws) or DEFAULT_ENDPOINT


def s3_credentials() -> tuple[str | None, str | None, str | None]:
    """Access key, secret key and session token, all three from one family of names: mixing a
    Secret's static keys with a session token injected for another identity would never sign."""
    family = "own" if os.environ.get(ACCESS_KEY.own) else "aws"
    return tuple(os.environ.get(getattr(e, family)) for e in (ACCESS_KEY, SECRET_KEY, SESSION_TOKEN))  # type: ignore[return-value]


class ObjectStore(Protocol):
    """Keys are '/'-separated paths below the store's root URI."""

    root: str

    def read_bytes(self, key: str) -> bytes: ...
    def read_part(self, key: str, offset: int, length: int) -> bytes: ...
    def write_bytes(self, key: str, data: bytes) -> None: ...
    def exists(self, key: str) -> bool: ...
    def list(self, prefix: str) -> list[str]: ...
    def delete(self, key: str) -> None: ...
    def uri(self, key: str) -> str: ...


class LocalStore:
    def __init__(self, root: str | Path) -> None:
        self.path = home_expanded(Path(root)).resolve()
        if self.path.exists() and not self.path.is_dir():
            raise UserError(f"storage: {self.path} is a file; point the store at a folder")
        self.root = self.path.as_uri()

    def _file(self, key: str) -> Path:
        """The file of ``key``, which must stay inside the store: a key is built from names the
        user gave (run ids, model names), and ``..`` or an absolute path in one must never write
        elsewhere, whatever check upstream missed it."""
        target = Path(os.path.normpath(self.path / key))  # by name: a symlink inside is the user's
        if target != self.path and self.path not in target.parents:
            raise UserError(f"{shorten(key)!r}: leaves the store {self.path}; use a run id or name "
                            "of letters, digits, '.', '_' and '-'")
        return target

    @contextlib.contextmanager
    def _opened(self, key: str) -> Iterator[io.BufferedReader]:
        try:
            with self._file(key).open("rb") as f:
                yield f
        except FileNotFoundError:
            raise MissingObject(self.uri(key)) from None
        except IsADirectoryError:
            raise UserError(f"{self.uri(key)}: is a folder, not a file") from None

    def read_bytes(self, key: str) -> bytes:
        with self._opened(key) as f:
            return f.read()

    def read_part(self, key: str, offset: int, length: int) -> bytes:
        """``length`` bytes from ``offset``; a negative offset counts from the end (a footer)."""
        with self._opened(key) as f:
            f.seek(offset if offset >= 0 else max(0, f.seek(0, os.SEEK_END) + offset))
            return f.read(length)

    def write_bytes(self, key: str, data: bytes) -> None:
        target = self._file(key)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        except OSError as exc:  # read-only, under a file, /proc, a full disk: the user's to fix
            raise UserError(f"storage: cannot write {self.uri(key)} ({exc.strerror}); point the "
                            "store at a folder you can write") from None
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def exists(self, key: str) -> bool:
        return self._file(key).is_file()

    def list(self, prefix: str) -> list[str]:
        base = self._file(prefix)
        if not base.is_dir():
            return []
        return sorted(
            p.relative_to(self.path).as_posix()
            for p in base.rglob("*")
            if p.is_file() and not p.name.startswith(".")
        )

    def delete(self, key: str) -> None:
        target = self._file(key)
        target.unlink(missing_ok=True)
        for parent in target.parents:  # leave no empty folders behind, but never leave the store
            if parent == self.path or any(parent.iterdir()):
                break
            parent.rmdir()

    def uri(self, key: str) -> str:
        return self._file(key).as_uri()


class MissingObject(UserError):
    def __init__(self, uri: str) -> None:
        super().__init__(f"{uri}: no such object")
        self.object_uri = uri


RETRY_SECONDS = "BAKEOFF_S3_RETRY_SECONDS"
DEFAULT_RETRY_SECONDS = 15.0
# One attempt's bounds: minio's own are 5 minutes each, so a server that accepts connections and
# never answers (stopped, or behind a dead proxy) held a step for 5 minutes per request.
CONNECT_SECONDS = 5.0
READ_SECONDS = 20.0  # between two bytes of an answer, not for the whole object
_gave_up_at: float | None = None  # when this process last ran out of retries: S3 was down


def retry_seconds() -> float:
    """How long one S3 request is retried before the step fails (BAKEOFF_S3_RETRY_SECONDS):
    long enough to ride out a server's restart or a network blip, short enough that an outage
    is one line within seconds rather than minutes. A failed step is retried by Kubeflow anyway."""
    raw = os.environ.get(RETRY_SECONDS)
    try:
        seconds = float(raw) if raw else DEFAULT_RETRY_SECONDS
    except ValueError:
        raise UserError(f"{RETRY_SECONDS}: {shorten(raw or '')!r} is not a number of seconds; set it "
                        f"like {DEFAULT_RETRY_SECONDS:g}") from None
    if not 0 <= seconds <= 3600:
        raise UserError(f"{RETRY_SECONDS}: {seconds:g} is outside 0..3600 seconds; set it like "
                        f"{DEFAULT_RETRY_SECONDS:g}")
    return seconds


def _retrying(call: Callable[[], T], *, base_delay: float = 0.2, max_delay: float = 2.0) -> T:
    """Retry transient S3 failures with jittered exponential backoff for ``retry_seconds()``
    in all; fail fast on the rest. Once a request of this process has run out of retries, the
    next ones within the same span try once: one outage costs a process one budget, not one
    per request (a step makes dozens)."""
    from minio.error import MinioException, S3Error
    from urllib3.exceptions import HTTPError as Urllib3Error

    global _gave_up_at
    transient_codes = {"SlowDown", "InternalError", "ServiceUnavailable", "RequestTimeout"}
    budget = retry_seconds()
    started = time.monotonic()
    if _gave_up_at is not None and started - _gave_up_at < budget:
        budget = 0.0
    attempt = 0
    while True:  # ends by returning or raising: the budget bounds it
        try:
            result = call()
            _gave_up_at = None
            return result
        except S3Error as exc:
            if exc.code not in transient_codes:
                raise
            failure: Exception = exc
        except MinioException as exc:  # an answer that is not S3's: a proxy's 502, a server's 500
            if http_status(exc) < 500:
                raise
            failure = exc
        except Urllib3Error as exc:
            failure = exc
        left = budget - (time.monotonic() - started)
        if left <= 0:  # the last attempt was at the end of the budget
            _gave_up_at = time.monotonic()
            raise failure
        time.sleep(min(left, min(max_delay, base_delay * 2**attempt) * (0.5 + random.random())))
        attempt += 1


def http_status(exc: Exception) -> int:
    """The HTTP status of an answer minio could not read as S3's (``ServerError`` says it;
    ``InvalidResponseError`` keeps it as ``_code``, which it also pickles)."""
    return int(getattr(exc, "status_code", None) or getattr(exc, "_code", None) or 0)


def _http_client() -> Any:
    """minio's own client with bounded waits and no retries of its own: ``_retrying`` holds the
    one retry budget (minio's urllib3 retries, five per request, ran inside ours)."""
    import certifi
    import urllib3

    return urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=CONNECT_SECONDS, read=READ_SECONDS), maxsize=10,
        cert_reqs="CERT_REQUIRED", ca_certs=os.environ.get("SSL_CERT_FILE") or certifi.where(),
        retries=False)


class S3Store:
    """An S3 bucket (MinIO, AWS, moto…) through the minio SDK."""

    def __init__(self, bucket: str, prefix: str = "") -> None:
        from minio import Minio
        from minio.helpers import check_bucket_name

        try:
            check_bucket_name(bucket)
        except ValueError:
            raise UserError(f"storage: {bucket!r} is not a valid S3 bucket name; use 3-63 lowercase "
                            "letters, digits, '.' and '-'") from None
        endpoint = s3_endpoint()
        parsed = urlparse(endpoint if "://" in endpoint else f"https://{endpoint}")
        if not parsed.netloc:
            raise UserError(f"{ENDPOINT}: {endpoint!r} is not a URL; set it like http://127.0.0.1:9000")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.root = f"s3://{bucket}/{self.prefix}".rstrip("/")
        access_key, secret_key, session_token = s3_credentials()
        self.client = Minio(
            parsed.netloc, access_key=access_key, secret_key=secret_key, session_token=session_token,
            region=os.environ.get(REGION.own) or os.environ.get(REGION.aws),
            secure=parsed.scheme == "https", http_client=_http_client(),
        )

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    @contextlib.contextmanager
    def _explained(self, key: str) -> Iterator[None]:
        """Turn the S3 errors a user can fix into one line that says how; the rest stay bugs."""
        from minio.error import MinioException, S3Error
        from urllib3.exceptions import HTTPError as Urllib3Error

        try:
            yield
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchObject"):
                raise MissingObject(self.uri(key)) from None
            if exc.code == "NoSuchBucket":
                raise UserError(f"{self.uri(key)}: bucket {self.bucket!r} does not exist at {s3_endpoint()}; "
                                "check the name (`bakeoff run` creates its store's bucket)") from None
            if exc.code in ("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
                raise UserError(f"{self.uri(key)}: access denied ({exc.code}); check {ACCESS_KEY} "
                                f"and {SECRET_KEY}") from None
            raise
        except MinioException as exc:  # an HTTP answer, but not S3's
            raise UserError(f"{self.uri(key)}: {s3_endpoint()} answered HTTP {http_status(exc)}, not as S3 "
                            f"does; check {ENDPOINT} names an S3 server, and that it is up") from None
        except Urllib3Error:
            raise UserError(f"{self.uri(key)}: cannot reach S3 at {s3_endpoint()}; check {ENDPOINT}") from None

    def read_bytes(self, key: str) -> bytes:
        return self._get(key, 0, 0)

    def read_part(self, key: str, offset: int, length: int) -> bytes:
        """``length`` bytes from ``offset`` in one ranged GET; a negative offset counts from the end."""
        return self._get(key, offset, length)

    def _get(self, key: str, offset: int, length: int) -> bytes:
        """One GET: the whole object when ``length`` is 0 (minio's own convention)."""
        def get() -> bytes:
            start = offset if offset >= 0 else max(
                0, self.client.stat_object(self.bucket, self._key(key)).size + offset)
            response = self.client.get_object(self.bucket, self._key(key), offset=start, length=length)
            try:
                return response.read()
            finally:
                response.close()
                response.release_conn()

        with self._explained(key):
            return _retrying(get)

    def write_bytes(self, key: str, data: bytes) -> None:
        """Write ``key``, creating the bucket first when it does not exist, as a local store
        creates its folder: a store is bakeoff's own, and an S3 server restarted empty (or a
        new MinIO) should not need a hand to create it."""
        from minio.error import S3Error

        def put() -> None:
            _retrying(lambda: self.client.put_object(self.bucket, self._key(key), io.BytesIO(data), len(data)))

        with self._explained(key):
            try:
                put()
            except S3Error as exc:
                if exc.code != "NoSuchBucket":
                    raise
                self._create_bucket()
                put()

    def _create_bucket(self) -> None:
        from minio.error import S3Error

        try:
            _retrying(lambda: self.client.make_bucket(self.bucket))
        except S3Error as exc:
            if exc.code == "BucketAlreadyOwnedByYou":  # another step made it meanwhile
                return
            raise UserError(f"storage: bucket {self.bucket!r} does not exist at {s3_endpoint()} and could "
                            f"not be created ({exc.code}); create it, or name a bucket these credentials "
                            "can write") from None
        print(f"note: storage: created the bucket {self.bucket!r} at {s3_endpoint()}, which did not exist",
              file=sys.stderr, flush=True)

    def exists(self, key: str) -> bool:
        try:
            with self._explained(key):
                _retrying(lambda: self.client.stat_object(self.bucket, self._key(key)))
            return True
        except MissingObject:
            return False

    def list(self, prefix: str) -> list[str]:
        strip = len(self.prefix) + 1 if self.prefix else 0
        with self._explained(prefix):
            objects = _retrying(lambda: list(self.client.list_objects(
                self.bucket, prefix=self._key(prefix).rstrip("/") + "/", recursive=True)))
        return sorted(o.object_name[strip:] for o in objects)

    def delete(self, key: str) -> None:
        with self._explained(key):
            _retrying(lambda: self.client.remove_object(self.bucket, self._key(key)))

    def uri(self, key: str) -> str:
        return f"{self.root}/{key}"


def is_local(uri: str) -> bool:
    """A path or ``file://`` URI, as opposed to an object in S3."""
    scheme = urlparse(uri).scheme
    return scheme in ("", "file") or len(scheme) == 1  # one letter is a Windows drive


def local_path(uri: str) -> Path:
    """The filesystem path of a local URI (``file:///x``, ``file://localhost/x`` or ``/x``)."""
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return Path(parsed.netloc + parsed.path if parsed.netloc not in ("", "localhost") else parsed.path)
    return Path(uri)


def home_expanded(path: Path) -> Path:
    """``~`` and ``~user`` read as a shell reads them. A user with no home here is a mistake in
    the config, not a crash: pathlib raises RuntimeError for it."""
    try:
        return path.expanduser()
    except RuntimeError:
        raise UserError(f"{path}: '{path.parts[0]}' names no home folder on this machine; "
                        "write the path out in full") from None


def resolve(uri: str, base: Path) -> str:
    """A local path or file:// URI as an absolute file:// URI, relative ones read against ``base``;
    remote URIs as they are."""
    if not is_local(uri):
        return uri
    path = home_expanded(local_path(uri))
    return (path if path.is_absolute() else base / path).resolve().as_uri()


def next_to(uri: str, relative: str) -> str:
    """``relative`` read next to the object ``uri`` names, wherever that is stored; an absolute
    one as it is. (A config's ``dataset.uri: data/x.csv`` means the folder beside the config.)"""
    if is_absolute(relative):
        return relative
    scheme, _, rest = uri.partition("://")
    # urljoin resolves "../" only for schemes it knows, so resolve as http and put the scheme back.
    return f"{scheme}://" + urljoin(f"http://{rest}", relative).removeprefix("http://")


def is_absolute(uri: str) -> bool:
    """Means the same thing in every process: S3, or an absolute local path."""
    return not is_local(uri) or local_path(uri).is_absolute()


def open_store(root: str) -> ObjectStore:
    """Open a store from its root URI: ``s3://bucket/prefix``, ``file:///abs`` or a plain path."""
    parsed = urlparse(root)
    if parsed.scheme == "s3":
        if not parsed.netloc:
            raise UserError(f"storage: {root!r} has no bucket; use s3://BUCKET/PREFIX")
        return S3Store(parsed.netloc, parsed.path)
    if not is_local(root):
        raise UserError(f"storage: unsupported scheme {parsed.scheme!r} in {root!r}; use a path, file:// or s3://")
    return LocalStore(local_path(root))


def check_writable(root: str) -> None:
    """Refuse a local store that could not be written, without writing to it: ``validate``
    must catch what would end ``run`` at its first write. The nearest existing folder must be a
    folder and take a new folder (a probe made and removed at once; permissions alone do not say,
    as root may not create anything in /proc). An S3 store is checked by ``doctor``, which may
    reach the network."""
    if not is_local(root):
        return
    path = home_expanded(local_path(root)).resolve()
    existing = next(p for p in (path, *path.parents) if p.exists())
    if not existing.is_dir():
        raise UserError(f"storage: {path} is under the file {existing}; point the store at a folder")
    try:
        os.rmdir(tempfile.mkdtemp(dir=existing, prefix=".bakeoff-probe-"))
    except OSError as exc:
        raise UserError(f"storage: cannot create folders in {existing} ({exc.strerror}); point the "
                        "store at a folder you can write") from None


def locate(uri: str, field: str = "dataset.uri") -> tuple[ObjectStore, str]:
    """The store holding the object ``uri`` names, and its key there."""
    parsed = urlparse(uri)
    if parsed.scheme == "s3":
        key = parsed.path.lstrip("/")
        if not key:
            raise UserError(f"{field}: {uri!r} names a bucket, not an object; use s3://BUCKET/KEY")
        return S3Store(parsed.netloc), key
    path = local_path(uri)
    return LocalStore(path.parent), path.name


MISSING_FIX = "check the path (a relative path is read next to the config)"


@contextlib.contextmanager
def located(uri: str, field: str = "dataset.uri", fix: str = MISSING_FIX) -> Iterator[tuple[ObjectStore, str]]:
    """The store and key of the object ``uri`` names, for reading it (whole or a part): a store
    error inside is one line that starts with ``field``; ``fix`` is what to do when it is not there."""
    try:
        yield locate(uri, field)
    except MissingObject:
        raise UserError(f"{field}: {uri} does not exist; {fix}") from None
    except UserError as exc:
        raise UserError(*(p if p.startswith(field) else f"{field}: {p}" for p in exc.problems)) from None


def read_uri(uri: str, field: str = "dataset.uri", fix: str = MISSING_FIX) -> bytes:
    """Read one object named by a full URI (a dataset, rows to predict), through the same stores
    the steps use."""
    with located(uri, field, fix) as (store, key):
        return store.read_bytes(key)
