"""Object stores: a local folder or S3. The steps share nothing but one of these.

Every write is atomic: a reader sees the old object or the new one, never half of one. On a
folder that is a temporary file plus ``os.replace`` (as kfp's local cache does); on S3 a PUT is
already all-or-nothing. S3 endpoint and credentials come from the environment only, so configs and
compiled pipelines never hold a secret.
"""

from __future__ import annotations

import io
import os
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, TypeVar
from urllib.parse import urlparse

from bakeoff.errors import UserError

T = TypeVar("T")

# The same variables boto3, the AWS CLI and MLflow read, so one set of settings serves them all.
ENV_ENDPOINT = "AWS_ENDPOINT_URL"
ENV_ACCESS_KEY = "AWS_ACCESS_KEY_ID"
ENV_SECRET_KEY = "AWS_SECRET_ACCESS_KEY"
ENV_SESSION_TOKEN = "AWS_SESSION_TOKEN"
ENV_REGION = "AWS_REGION"


class ObjectStore(Protocol):
    """Keys are '/'-separated paths below the store's root URI."""

    root: str

    def read_bytes(self, key: str) -> bytes: ...
    def write_bytes(self, key: str, data: bytes) -> None: ...
    def exists(self, key: str) -> bool: ...
    def list(self, prefix: str) -> list[str]: ...
    def delete(self, key: str) -> None: ...
    def uri(self, key: str) -> str: ...


class LocalStore:
    def __init__(self, root: str | Path) -> None:
        self.path = Path(root).expanduser().resolve()
        if self.path.exists() and not self.path.is_dir():
            raise UserError(f"storage: {self.path} is a file; point the store at a folder")
        self.root = self.path.as_uri()

    def _file(self, key: str) -> Path:
        return self.path / key

    def read_bytes(self, key: str) -> bytes:
        try:
            return self._file(key).read_bytes()
        except FileNotFoundError:
            raise MissingObject(self.uri(key)) from None
        except IsADirectoryError:
            raise UserError(f"{self.uri(key)}: is a folder, not a file") from None

    def write_bytes(self, key: str, data: bytes) -> None:
        target = self._file(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
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


def _retrying(call: Callable[[], T], *, attempts: int = 5, base_delay: float = 0.2) -> T:
    """Retry transient S3 failures with jittered exponential backoff; fail fast on the rest."""
    from minio.error import S3Error
    from urllib3.exceptions import HTTPError as Urllib3Error

    transient_codes = {"SlowDown", "InternalError", "ServiceUnavailable", "RequestTimeout"}
    for attempt in range(attempts):
        try:
            return call()
        except S3Error as exc:
            if exc.code not in transient_codes or attempt == attempts - 1:
                raise
        except Urllib3Error:
            if attempt == attempts - 1:
                raise
        time.sleep(base_delay * 2**attempt * (0.5 + random.random()))
    raise AssertionError("unreachable")


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
        endpoint = os.environ.get(ENV_ENDPOINT, "https://s3.amazonaws.com")
        parsed = urlparse(endpoint if "://" in endpoint else f"https://{endpoint}")
        if not parsed.netloc:
            raise UserError(f"{ENV_ENDPOINT}: {endpoint!r} is not a URL; set it like http://127.0.0.1:9000")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.root = f"s3://{bucket}/{self.prefix}".rstrip("/")
        self.client = Minio(
            parsed.netloc,
            access_key=os.environ.get(ENV_ACCESS_KEY),
            secret_key=os.environ.get(ENV_SECRET_KEY),
            session_token=os.environ.get(ENV_SESSION_TOKEN),
            region=os.environ.get(ENV_REGION),
            secure=parsed.scheme == "https",
        )

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def _explain(self, exc: Exception, key: str) -> Exception:
        """Turn the S3 errors a user can fix into one line that says how."""
        from minio.error import S3Error
        from urllib3.exceptions import HTTPError as Urllib3Error

        if isinstance(exc, S3Error):
            if exc.code in ("NoSuchKey", "NoSuchObject"):
                return MissingObject(self.uri(key))
            if exc.code == "NoSuchBucket":
                return UserError(f"{self.uri(key)}: bucket {self.bucket!r} does not exist; create it first")
            if exc.code in ("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
                return UserError(f"{self.uri(key)}: access denied ({exc.code}); check "
                                 f"{ENV_ACCESS_KEY} and {ENV_SECRET_KEY}")
        if isinstance(exc, Urllib3Error):
            endpoint = os.environ.get(ENV_ENDPOINT, "https://s3.amazonaws.com")
            return UserError(f"{self.uri(key)}: cannot reach S3 at {endpoint}; check {ENV_ENDPOINT}")
        return exc

    def read_bytes(self, key: str) -> bytes:
        def get() -> bytes:
            response = self.client.get_object(self.bucket, self._key(key))
            try:
                return response.read()
            finally:
                response.close()
                response.release_conn()

        try:
            return _retrying(get)
        except Exception as exc:
            raise self._explain(exc, key) from None

    def write_bytes(self, key: str, data: bytes) -> None:
        try:
            _retrying(lambda: self.client.put_object(self.bucket, self._key(key), io.BytesIO(data), len(data)))
        except Exception as exc:
            raise self._explain(exc, key) from None

    def exists(self, key: str) -> bool:
        from minio.error import S3Error

        try:
            _retrying(lambda: self.client.stat_object(self.bucket, self._key(key)))
            return True
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchObject", "ResourceNotFound"):
                return False
            raise self._explain(exc, key) from None
        except Exception as exc:
            raise self._explain(exc, key) from None

    def list(self, prefix: str) -> list[str]:
        strip = len(self.prefix) + 1 if self.prefix else 0
        try:
            objects = _retrying(lambda: list(self.client.list_objects(
                self.bucket, prefix=self._key(prefix).rstrip("/") + "/", recursive=True)))
        except Exception as exc:
            raise self._explain(exc, prefix) from None
        return sorted(o.object_name[strip:] for o in objects)

    def delete(self, key: str) -> None:
        try:
            _retrying(lambda: self.client.remove_object(self.bucket, self._key(key)))
        except Exception as exc:
            raise self._explain(exc, key) from None

    def uri(self, key: str) -> str:
        return f"{self.root}/{key}"


def open_store(root: str) -> ObjectStore:
    """Open a store from its root URI: ``s3://bucket/prefix``, ``file:///abs`` or a plain path."""
    parsed = urlparse(root)
    if parsed.scheme == "s3":
        if not parsed.netloc:
            raise UserError(f"storage: {root!r} has no bucket; use s3://BUCKET/PREFIX")
        return S3Store(parsed.netloc, parsed.path)
    if parsed.scheme == "file":
        return LocalStore(parsed.netloc + parsed.path if parsed.netloc not in ("", "localhost") else parsed.path)
    if parsed.scheme and len(parsed.scheme) > 1:  # one letter is a Windows drive
        raise UserError(f"storage: unsupported scheme {parsed.scheme!r} in {root!r}; use a path, file:// or s3://")
    return LocalStore(root)


def read_uri(uri: str, field: str = "dataset.uri") -> bytes:
    """Read one object named by a full URI (a dataset), through the same stores the steps use."""
    parsed = urlparse(uri)
    try:
        if parsed.scheme == "s3":
            key = parsed.path.lstrip("/")
            if not key:
                raise UserError(f"{uri!r} names a bucket, not an object; use s3://BUCKET/KEY")
            return S3Store(parsed.netloc).read_bytes(key)
        path = Path(parsed.path if parsed.scheme == "file" else uri)
        return LocalStore(path.parent).read_bytes(path.name)
    except MissingObject:
        raise UserError(f"{field}: {uri} does not exist; check the path (a relative path is read "
                        "next to the config)") from None
    except UserError as exc:
        raise UserError(*(p if p.startswith(field) else f"{field}: {p}" for p in exc.problems)) from None
