"""Files where they live: local folders and S3 (or any S3-compatible endpoint), behind one small interface.

The pipeline lists landing files and reads them here, and keeps its own small objects (the ledger, the run
history, the lock) here; the tables themselves are read and written by the engine. S3 is reached with boto3, which
takes its endpoint and credentials from the standard AWS environment (``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_REGION``; real AWS when no endpoint is set).
"""

from __future__ import annotations

import contextlib
import gzip
import os
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

S3_SCHEMES = ("s3://", "s3a://", "s3n://")


class StorageError(RuntimeError):
    """A location cannot be reached or used: the message names it and says why, in one line."""


class PreconditionFailedError(StorageError):
    """A conditional write found the object other than expected (there already, or changed meanwhile)."""


@dataclass(frozen=True)
class FileEntry:
    """A file found under a prefix: its path relative to that prefix (``/``-separated), its size, and a version
    that changes whenever its content may have: the S3 ETag, or a local file's modification and change times."""

    path: str
    size: int
    version: str


def is_s3(location: str) -> bool:
    return location.startswith(S3_SCHEMES)


def split_s3(location: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix/`` → (``bucket``, ``some/prefix``)."""
    rest = location.split("://", 1)[1]
    bucket, _, key = rest.partition("/")
    return bucket, key.strip("/")


def hidden(relative_path: str) -> bool:
    """A file or folder whose name starts with ``.`` or ``_`` (``_SUCCESS``, ``_temporary/``, ``.crc``), as Spark
    and Hadoop skip them."""
    return any(part.startswith((".", "_")) for part in relative_path.split("/"))


def decompressed(data: bytes, path: str) -> bytes:
    """The content of a landing file: ``*.gz`` is gzip (raises StorageError when it is not), anything else as is."""
    if not path.endswith(".gz"):
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as error:
        raise StorageError(f"not a readable gzip file: {error}") from error


class Store(Protocol):
    """Where files live: one root, paths below it ``/``-separated."""

    root: str

    def list(self, prefix: str) -> list[FileEntry]:
        """Every file under ``prefix`` at any depth, with paths relative to ``prefix``; none when it is missing."""
        ...

    def read(self, path: str) -> bytes: ...

    def exists(self, prefix: str) -> bool:
        """Whether anything is stored at or under ``prefix``."""
        ...

    def read_text(self, path: str) -> str | None:
        """The text of a small object, or None when there is none."""
        ...

    def write_text(self, path: str, text: str) -> None:
        """Replace a small object in one step: readers see the old text or the new, never a part."""
        ...

    def create_text(self, path: str, text: str) -> str:
        """Write a small object only if none exists (else PreconditionFailedError); return its version tag."""
        ...

    def delete(self, path: str, version: str | None = None) -> None:
        """Delete an object (only if its version is still ``version``, when given); a missing one is fine."""
        ...


def open_store(root: str) -> Store:
    """The store behind a location: S3 for ``s3://`` (``s3a://``) URIs, a local folder otherwise."""
    return S3Store(root) if is_s3(root) else LocalStore(root)


class LocalStore:
    def __init__(self, root: str) -> None:
        self.root = root
        self._folder = Path(root.removeprefix("file://").removeprefix("file:"))

    def list(self, prefix: str) -> list[FileEntry]:
        top = self._folder / prefix
        entries = []
        for folder, _, names in os.walk(top):
            for name in names:
                path = Path(folder) / name
                try:
                    status = path.stat()
                except FileNotFoundError:  # gone since the folder was read
                    continue
                relative = path.relative_to(top).as_posix()
                entries.append(FileEntry(relative, status.st_size, f"{status.st_mtime_ns}:{status.st_ctime_ns}"))
        return sorted(entries, key=lambda entry: entry.path)

    def read(self, path: str) -> bytes:
        return (self._folder / path).read_bytes()

    def exists(self, prefix: str) -> bool:
        return (self._folder / prefix).exists()

    def read_text(self, path: str) -> str | None:
        try:
            return (self._folder / path).read_text(encoding="utf-8")
        except FileNotFoundError:
            return None

    def write_text(self, path: str, text: str) -> None:
        target = self._folder / path
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}")
        staging.write_text(text, encoding="utf-8")
        os.replace(staging, target)

    def create_text(self, path: str, text: str) -> str:
        target = self._folder / path
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            with open(target, "x", encoding="utf-8") as created:
                created.write(text)
        except FileExistsError as error:
            raise PreconditionFailedError(f"{target} exists") from error
        return str(target.stat().st_mtime_ns)

    def delete(self, path: str, version: str | None = None) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self._folder / path).unlink()


def s3_client() -> Any:
    """A boto3 S3 client for the standard AWS environment; path-style addressing for a custom endpoint (MinIO,
    LocalStack and moto serve buckets under the endpoint's path)."""
    import boto3
    from botocore.config import Config

    custom = bool(os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL"))
    config = Config(
        s3={"addressing_style": "path"} if custom else {},
        retries={"max_attempts": 3, "mode": "standard"},
        connect_timeout=5,
        read_timeout=60,
    )
    return boto3.client("s3", config=config)


class S3Store:
    def __init__(self, root: str) -> None:
        self.root = root
        self.bucket, self._prefix = split_s3(root)
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = s3_client()
        return self._client

    def _key(self, path: str) -> str:
        return "/".join(part for part in (self._prefix, path.strip("/")) if part)

    def list(self, prefix: str) -> list[FileEntry]:
        top = self._key(prefix) + "/"
        entries = []
        with _s3_errors(f"s3://{self.bucket}/{top}"):
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=top):
                for item in page.get("Contents", []):
                    if not item["Key"].endswith("/"):  # a folder marker, as the console makes them
                        entries.append(FileEntry(item["Key"][len(top) :], item["Size"], item["ETag"].strip('"')))
        return entries

    def read(self, path: str) -> bytes:
        with _s3_errors(f"s3://{self.bucket}/{self._key(path)}"):
            body: bytes = self.client.get_object(Bucket=self.bucket, Key=self._key(path))["Body"].read()
        return body

    def exists(self, prefix: str) -> bool:
        key = self._key(prefix)
        with _s3_errors(f"s3://{self.bucket}/{key}"):
            answer = self.client.list_objects_v2(Bucket=self.bucket, Prefix=key, MaxKeys=1)
        return bool(answer.get("KeyCount"))

    def read_text(self, path: str) -> str | None:
        try:
            return self.read(path).decode("utf-8")
        except _MissingError:
            return None

    def write_text(self, path: str, text: str) -> None:
        with _s3_errors(f"s3://{self.bucket}/{self._key(path)}"):
            self.client.put_object(Bucket=self.bucket, Key=self._key(path), Body=text.encode("utf-8"))

    def create_text(self, path: str, text: str) -> str:
        with _s3_errors(f"s3://{self.bucket}/{self._key(path)}"):
            answer = self.client.put_object(
                Bucket=self.bucket, Key=self._key(path), Body=text.encode("utf-8"), IfNoneMatch="*"
            )
        return str(answer["ETag"]).strip('"')

    def delete(self, path: str, version: str | None = None) -> None:
        conditions = {"IfMatch": f'"{version}"'} if version else {}
        with _s3_errors(f"s3://{self.bucket}/{self._key(path)}"):
            self.client.delete_object(Bucket=self.bucket, Key=self._key(path), **conditions)


class _MissingError(StorageError):
    """No such object."""


@contextlib.contextmanager
def _s3_errors(location: str) -> Iterator[None]:
    """botocore's errors as one line that names the location: no bucket, no object, refused credentials, no
    endpoint."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", ""))
        message = str(error.response.get("Error", {}).get("Message", "")) or code
        if code in ("NoSuchKey", "404"):
            raise _MissingError(f"{location} does not exist") from error
        if code == "NoSuchBucket":
            raise StorageError(f"{location}: the bucket does not exist") from error
        if code in ("PreconditionFailed", "412", "ConditionalRequestConflict", "409"):
            raise PreconditionFailedError(f"{location} changed meanwhile ({code})") from error
        if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "403", "ExpiredToken"):
            raise StorageError(f"{location}: access refused ({code}: {message}); check the AWS credentials") from error
        raise StorageError(f"{location}: {code}: {message}") from error
    except BotoCoreError as error:  # no endpoint, no credentials, a timeout
        raise StorageError(f"{location}: {error}") from error
