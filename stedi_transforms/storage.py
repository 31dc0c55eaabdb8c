"""Files where they live: local folders and S3 (or any S3-compatible endpoint), behind one small interface.

The pipeline lists landing files and reads them here, and keeps its own small objects (the ledger, the run
history, the lock) here; the tables themselves are read and written by the engine. S3 is reached with boto3, which
takes its endpoint and credentials from the standard AWS environment (``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_REGION``; real AWS when no endpoint is set).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import stat
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from stedi_transforms.errors import StediError
from stedi_transforms.settings import S3Settings, current

S3_SCHEMES = ("s3://", "s3a://", "s3n://")


class StorageError(StediError, RuntimeError):
    """A location cannot be reached or used: the message names it and says why, in one line."""


class PreconditionFailedError(StorageError):
    """A conditional write found the object other than expected (there already, or changed meanwhile)."""


@dataclass(frozen=True)
class FileEntry:
    """A file found under a prefix: its path relative to that prefix (``/``-separated), its size, and a version
    that changes whenever its content may have: the S3 ETag, or a local file's modification and change times.

    ``path`` is the file's name in the lake, always UTF-8; a local name that is not (its bytes in another encoding)
    has them escaped there (``J\\xf6rg.json``), and ``location`` says where the store finds the file."""

    path: str
    size: int
    version: str
    location: str | None = None

    @property
    def where(self) -> str:
        """The path to open the file by, below the same prefix."""
        return self.location or self.path


class ByteStream(Protocol):
    """A file opened for reading a part at a time."""

    def read(self, size: int = -1, /) -> bytes: ...

    def close(self) -> None: ...


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


class Store(Protocol):
    """Where files live: one root, paths below it ``/``-separated."""

    root: str

    def files(self, prefix: str) -> list[FileEntry]:
        """Every file under ``prefix`` at any depth, with paths relative to ``prefix``; none when it is missing."""
        ...

    def names(self, prefix: str) -> Iterator[str]:
        """The names of the files and folders directly in ``prefix``, one by one (a caller that finds what it looks
        for stops the listing there); none when it is missing. S3 lists them by name, a page at a time; a local
        folder in no order."""
        ...

    def read(self, path: str) -> bytes: ...

    def open_file(self, path: str) -> ByteStream:
        """A landing file, to read a part at a time; StorageError when it is gone or is no regular file."""
        ...

    def exists(self, prefix: str) -> bool:
        """Whether anything is stored at or under ``prefix``."""
        ...

    def read_text(self, path: str) -> str | None:
        """The text of a small object, or None when there is none."""
        ...

    def write_text(self, path: str, text: str) -> None:
        """Replace a small object in one step: readers see the old text or the new, never a part."""
        ...

    def read_tagged(self, path: str) -> tuple[str | None, str | None]:
        """A small object's text and version tag, or (None, None) when there is none."""
        ...

    def create_text(self, path: str, text: str) -> str:
        """Write a small object only if none exists (else PreconditionFailedError); return its version tag."""
        ...

    def replace_text_if(self, path: str, text: str, version: str) -> str:
        """Replace a small object only if it is still there at version ``version`` (else PreconditionFailedError,
        also when it is gone); return the new version tag."""
        ...

    def delete(self, path: str, version: str | None = None) -> None:
        """Delete an object, only if it is still at ``version`` when one is given (else PreconditionFailedError);
        an object already gone is fine, with or without a version."""
        ...


def open_store(root: str, settings: S3Settings | None = None) -> Store:
    """The store behind a location: S3 for ``s3://`` (``s3a://``) URIs, a local folder otherwise."""
    if is_s3(root):
        return S3Store(root, settings or current().s3)
    return LocalStore(root)


class LocalStore:
    def __init__(self, root: str) -> None:
        self.root = root
        self._folder = Path(root.removeprefix("file://").removeprefix("file:"))

    def files(self, prefix: str) -> list[FileEntry]:
        """Every entry that is not a folder, links included (a link is never followed: the reader rejects it, as it
        rejects a FIFO, a socket or a device)."""
        top = self._folder / prefix
        entries = []
        for folder, folders, names in os.walk(top):
            links = [name for name in folders if os.path.islink(os.path.join(folder, name))]
            for name in names + links:
                path = Path(folder) / name
                try:
                    status = path.lstat()
                except FileNotFoundError:  # gone since the folder was read
                    continue
                relative = path.relative_to(top).as_posix()
                shown = os.fsencode(relative).decode("utf-8", "backslashreplace")
                version = f"{status.st_mtime_ns}:{status.st_ctime_ns}"
                entries.append(FileEntry(shown, status.st_size, version, None if shown == relative else relative))
        return sorted(entries, key=lambda entry: entry.path)

    def names(self, prefix: str) -> Iterator[str]:
        try:
            with os.scandir(self._folder / prefix) as entries:
                for entry in entries:
                    yield entry.name
        except (FileNotFoundError, NotADirectoryError):
            return

    def read(self, path: str) -> bytes:
        return (self._folder / path).read_bytes()

    def open_file(self, path: str) -> ByteStream:
        """Opened without following a link and without waiting (a FIFO would wait for a writer), and only if it is a
        regular file: what the listing saw may have been replaced since."""
        target = self._folder / path
        try:
            if not stat.S_ISREG(target.lstat().st_mode):
                raise StorageError(f"{_kind(target.lstat().st_mode)}, not a regular file")
            descriptor = os.open(target, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except FileNotFoundError as error:
            raise StorageError(f"{path} does not exist (removed since it was listed)") from error
        except OSError as error:
            raise StorageError(f"{path}: {error.strerror or error}") from error
        mode = os.fstat(descriptor).st_mode
        if not stat.S_ISREG(mode):
            os.close(descriptor)
            raise StorageError(f"{_kind(mode)}, not a regular file")
        return os.fdopen(descriptor, "rb")

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

    def read_tagged(self, path: str) -> tuple[str | None, str | None]:
        text = self.read_text(path)
        return (text, _tag(text)) if text is not None else (None, None)

    def create_text(self, path: str, text: str) -> str:
        """Written beside the object, then hard-linked into place: the link fails if the object exists, and a
        reader (or a run killed meanwhile) never sees part of the text. Where the file system has no hard links,
        the object is created in place (``O_EXCL``)."""
        target = self._folder / path
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}")
        staging.write_text(text, encoding="utf-8")
        try:
            os.link(staging, target)
        except FileExistsError as error:
            raise PreconditionFailedError(f"{target} exists") from error
        except OSError:  # no hard links here
            try:
                with open(target, "x", encoding="utf-8") as created:
                    created.write(text)
            except FileExistsError as error:
                raise PreconditionFailedError(f"{target} exists") from error
        finally:
            staging.unlink()
        return _tag(text)

    def replace_text_if(self, path: str, text: str, version: str) -> str:
        """As on S3, but a check then a rename: sound because every writer of a local lake holds its ``flock``
        (:mod:`stedi_transforms.lock`), so the check only ever finds a change made outside any run."""
        if self.read_tagged(path)[1] != version:
            raise PreconditionFailedError(f"{self._folder / path} changed meanwhile")
        self.write_text(path, text)
        return _tag(text)

    def delete(self, path: str, version: str | None = None) -> None:
        if version is not None and self.read_tagged(path)[1] not in (version, None):
            raise PreconditionFailedError(f"{self._folder / path} changed meanwhile")
        with contextlib.suppress(FileNotFoundError):
            (self._folder / path).unlink()


def _tag(text: str) -> str:
    """A local object's version tag: a digest of its content, as S3's ETag is of a simple upload's."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def _kind(mode: int) -> str:
    """What a file that is not a regular file is, in words."""
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "a folder" if stat.S_ISDIR(mode) else "not a file"


def s3_client(settings: S3Settings) -> Any:
    """A boto3 S3 client; path-style addressing for a custom endpoint (MinIO, LocalStack and moto serve buckets
    under the endpoint's path). Few retries and short timeouts: an endpoint that does not answer is a setting to fix,
    said within seconds.

    One client per process and settings, made on first use: making one loads botocore's service models (a fifth of
    a second, more than most requests take), while a client is safe to share between threads. A forked process
    (a classic Spark worker) makes its own, as boto3 asks."""
    return _s3_client(settings, os.getpid())


@functools.lru_cache(maxsize=16)
def _s3_client(settings: S3Settings, process: int) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(
        s3={"addressing_style": "path"} if settings.endpoint_url else {},
        retries={"max_attempts": 2, "mode": "standard"},
        connect_timeout=3,
        read_timeout=60,
        # A connection for every thread of a run that may use the client at once: the three sources are ingested
        # side by side, each reading its files on a thread per core, beside the run's own requests (urllib3 keeps
        # ten by default, and warns of each one it drops beyond them).
        max_pool_connections=4 * (os.cpu_count() or 2),
    )
    return boto3.session.Session().client(
        "s3",
        endpoint_url=settings.endpoint_url,
        region_name=settings.region,
        aws_access_key_id=settings.access_key,
        aws_secret_access_key=settings.secret_key,
        aws_session_token=settings.session_token,
        config=config,
    )


class S3Store:
    def __init__(self, root: str, settings: S3Settings) -> None:
        self.root = root
        self.settings = settings
        self.bucket, self._prefix = split_s3(root)

    @property
    def client(self) -> Any:
        """The process's client for this store's settings (:func:`s3_client`)."""
        return s3_client(self.settings)

    def check(self) -> str | None:
        """Raise StorageError, within seconds, when the bucket cannot be reached, does not exist, or refuses us;
        else return the bucket's region, as S3 says it."""
        try:
            with _s3_errors(f"s3://{self.bucket}"):
                answer = self.client.head_bucket(Bucket=self.bucket)
        except _MissingError as error:
            raise StorageError(
                f"bucket {self.bucket} does not exist ({self.settings.endpoint_url or 'AWS'})"
            ) from error
        region = answer.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("x-amz-bucket-region")
        return str(region) if region else None

    def _key(self, path: str) -> str:
        return "/".join(part for part in (self._prefix, path.strip("/")) if part)

    def files(self, prefix: str) -> list[FileEntry]:
        top = self._key(prefix) + "/"
        entries = []
        with _s3_errors(f"s3://{self.bucket}/{top}"):
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=top):
                for item in page.get("Contents", []):
                    if not item["Key"].endswith("/"):  # a folder marker, as the console makes them
                        entries.append(FileEntry(item["Key"][len(top) :], item["Size"], item["ETag"].strip('"')))
        return entries

    def names(self, prefix: str) -> Iterator[str]:
        top = self._key(prefix) + "/"
        with _s3_errors(f"s3://{self.bucket}/{top}"):
            pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=top, Delimiter="/")
            for page in pages:
                for item in page.get("Contents", []):
                    if item["Key"] != top:  # the folder's own marker, as the console makes them
                        yield item["Key"][len(top) :]
                for folder in page.get("CommonPrefixes", []):
                    yield folder["Prefix"][len(top) :].rstrip("/")

    def read(self, path: str) -> bytes:
        with _s3_errors(f"s3://{self.bucket}/{self._key(path)}"):
            body: bytes = self.client.get_object(Bucket=self.bucket, Key=self._key(path))["Body"].read()
        return body

    def open_file(self, path: str) -> ByteStream:
        location = f"s3://{self.bucket}/{self._key(path)}"
        with _s3_errors(location):
            body = self.client.get_object(Bucket=self.bucket, Key=self._key(path))["Body"]
        return _S3Body(body, location)

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
        """A conditional delete (``If-Match``) of an object already gone is a 404 on S3 (and moto): gone is fine."""
        conditions = {"IfMatch": f'"{version}"'} if version is not None else {}
        with contextlib.suppress(_MissingError), _s3_errors(f"s3://{self.bucket}/{self._key(path)}"):
            self.client.delete_object(Bucket=self.bucket, Key=self._key(path), **conditions)

    def read_tagged(self, path: str) -> tuple[str | None, str | None]:
        """The tag is the object's ETag."""
        try:
            with _s3_errors(f"s3://{self.bucket}/{self._key(path)}"):
                answer = self.client.get_object(Bucket=self.bucket, Key=self._key(path))
        except _MissingError:
            return None, None
        return answer["Body"].read().decode("utf-8"), str(answer["ETag"]).strip('"')

    def replace_text_if(self, path: str, text: str, version: str) -> str:
        """A PUT with ``If-Match`` on the ETag: S3 answers 412 when the object changed, 404 when it is gone."""
        location = f"s3://{self.bucket}/{self._key(path)}"
        try:
            with _s3_errors(location):
                answer = self.client.put_object(
                    Bucket=self.bucket, Key=self._key(path), Body=text.encode("utf-8"), IfMatch=f'"{version}"'
                )
        except _MissingError as error:
            raise PreconditionFailedError(f"{location} is gone") from error
        return str(answer["ETag"]).strip('"')


class _S3Body:
    """An object's body read a part at a time, its errors as StorageError."""

    def __init__(self, body: Any, location: str) -> None:
        self._body, self._location = body, location

    def read(self, size: int = -1, /) -> bytes:
        with _s3_errors(self._location):
            data: bytes = self._body.read(None if size < 0 else size)
        return data

    def close(self) -> None:
        self._body.close()


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


def check_s3(*locations: str) -> S3Settings:
    """Check every S3 location (reachable endpoint, existing bucket, accepted credentials) before any work, and
    return the S3 settings to use, with the buckets' region where the environment names none."""
    settings = current().s3
    for location in locations:
        if is_s3(location):
            region = S3Store(location, settings).check()
            if settings.region is None and region:
                settings = S3Settings(**{**asdict(settings), "region": region})
    return settings
