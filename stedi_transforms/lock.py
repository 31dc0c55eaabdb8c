"""One writer per lake: a run holds the lake's lock from its first read of the lake's state to its last write.

Neither engine guards a lake against two writers (Sail has no commit-conflict detection at all: two first writes of
a table both succeed), so the lake is locked as a whole:

- a local lake with an OS file lock (``flock``) on ``<lake>/_stedi/lock``: the kernel releases it when the holder
  dies, so a killed run never leaves a stale lock (the standard library's ``fcntl``, not a dependency: the wheel
  has none, since Glue jobs often cannot reach PyPI);
- an S3 lake with a lock object, ``<lake>/_stedi/lock.json``, created with a conditional PUT (``If-None-Match: *``)
  that only one writer can win. It names its holder and an expiry that a heartbeat pushes forward while the run
  lives; a lock whose holder died expires and is taken over (deleted only if it is still the same object).

A second run does not wait: it stops at once, naming the run that holds the lake.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from stedi_transforms.storage import PreconditionFailedError, S3Store, Store, open_store

LOCK = "_stedi/lock"
LOCK_INFO = "_stedi/lock.json"
S3_LEASE_SECONDS = 600.0


class LakeBusyError(RuntimeError):
    """Another run holds the lake."""


@dataclass(frozen=True)
class Holder:
    run_id: str
    job: str
    host: str
    pid: int
    started: float
    expires: float

    def describe(self) -> str:
        started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self.started))
        return f"run {self.run_id} ({self.job}, pid {self.pid} on {self.host}, started {started})"


def _holder(run_id: str, job: str, lease: float) -> Holder:
    now = time.time()
    return Holder(run_id, job, socket.gethostname(), os.getpid(), now, now + lease)


def _parse(text: str | None) -> Holder | None:
    try:
        return Holder(**json.loads(text)) if text else None
    except (ValueError, TypeError):
        return None


@contextmanager
def lake_lock(lake_root: str, run_id: str, job: str) -> Iterator[None]:
    """Hold the lake's lock for the body; raise LakeBusyError at once if another run holds it."""
    store = open_store(lake_root)
    if isinstance(store, S3Store):
        with _s3_lock(store, run_id, job):
            yield
    else:
        with _local_lock(lake_root, store, run_id, job):
            yield


@contextmanager
def _local_lock(lake_root: str, store: Store, run_id: str, job: str) -> Iterator[None]:
    folder = Path(lake_root.removeprefix("file://").removeprefix("file:")) / "_stedi"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "lock", "a+b") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = _parse(store.read_text(LOCK_INFO))
            raise LakeBusyError(
                f"lake {lake_root} is being written by {other.describe() if other else 'another run'}; "
                "run again when it has finished"
            ) from None
        try:
            store.write_text(LOCK_INFO, json.dumps(asdict(_holder(run_id, job, 0.0))))
            yield
        finally:
            store.delete(LOCK_INFO)
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def _s3_lock(store: S3Store, run_id: str, job: str, lease: float = S3_LEASE_SECONDS) -> Iterator[None]:
    holder = _holder(run_id, job, lease)
    tag = _take_s3_lock(store, holder)
    stop = threading.Event()
    heartbeat = threading.Thread(target=_renew, args=(store, holder, tag, lease, stop), daemon=True)
    heartbeat.start()
    try:
        yield
    finally:
        stop.set()
        heartbeat.join()
        current = _parse(store.read_text(LOCK_INFO))
        if current is not None and current.run_id == run_id:
            store.delete(LOCK_INFO)


def _take_s3_lock(store: S3Store, holder: Holder) -> str:
    for _ in range(2):
        try:
            return store.create_text(LOCK_INFO, json.dumps(asdict(holder)))
        except PreconditionFailedError:
            other, tag = _read_with_tag(store)
            if other is not None and other.expires > time.time():
                raise LakeBusyError(
                    f"lake {store.root} is being written by {other.describe()}; run again when it has finished"
                ) from None
            # Expired (its holder died) or unreadable: take it over, unless someone else just did.
            with contextlib.suppress(PreconditionFailedError):
                store.delete(LOCK_INFO, version=tag)
    raise LakeBusyError(f"lake {store.root} is being locked by another run right now; run again in a moment")


def _read_with_tag(store: S3Store) -> tuple[Holder | None, str | None]:
    text, tag = store.read_tagged(LOCK_INFO)
    return _parse(text), tag


def _renew(store: S3Store, holder: Holder, tag: str, lease: float, stop: threading.Event) -> None:
    """Push the lock's expiry forward every tenth of the lease, while the run lives."""
    while not stop.wait(lease / 10):
        renewed = Holder(**{**asdict(holder), "expires": time.time() + lease})
        try:
            answer = store.client.put_object(
                Bucket=store.bucket,
                Key=store._key(LOCK_INFO),
                Body=json.dumps(asdict(renewed)).encode("utf-8"),
                IfMatch=f'"{tag}"',
            )
            tag = str(answer["ETag"]).strip('"')
        except Exception:
            return


def new_run_id() -> str:
    return uuid.uuid4().hex[:12]
