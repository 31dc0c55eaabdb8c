"""One writer per lake: a run holds the lake's lock from its first read of the lake's state to its last write.

Neither engine guards a lake against two writers (Sail has no commit-conflict detection at all: two first writes of
a table both succeed), so the lake is locked as a whole:

- a local lake with an OS file lock (``flock``) on ``<lake>/_stedi/lock``: the kernel releases it when the holder
  dies, so a killed run never leaves a stale lock (the standard library's ``fcntl``, not a dependency: the wheel
  has none, since Glue jobs often cannot reach PyPI);
- an S3 lake with a lock object, ``<lake>/_stedi/lock.json``, created with a conditional PUT (``If-None-Match: *``)
  that only one writer can win. It names its holder and an expiry, a *lease*, that a heartbeat pushes forward
  while the run lives (a PUT with ``If-Match`` on the lock's ETag); the lock of a run that died expires and is taken
  over, every step conditional: only the expired object itself is deleted (``If-Match``), and a lost race stops the
  taker with one line.

A second run does not wait: it stops at once, naming the run that holds the lake. A run holds a :class:`Lease`,
which its writes ask before every Delta commit and every write of the ledger (:meth:`Lease.check`): a run whose
lock was taken over, or that could not renew its lease for half of it (a network down, a laptop suspended: the
taker judges expiry by its own clock), stops there with one line (:class:`LeaseLostError`), and the next run repairs
what it left, as it repairs a killed run's.
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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Protocol

from stedi_transforms.errors import StediError
from stedi_transforms.storage import PreconditionFailedError, Store, is_s3, open_store

Clock = Callable[[], float]

LOCK = "_stedi/lock"
LOCK_INFO = "_stedi/lock.json"
S3_LEASE_SECONDS = 600.0


class LakeBusyError(StediError, RuntimeError):
    """Another run holds the lake."""


class LeaseLostError(LakeBusyError):
    """This run no longer holds the lake it writes: it stops before its next commit."""


class Lease(Protocol):
    """The lake's lock as the run that holds it sees it."""

    def check(self) -> None:
        """Raise LeaseLostError unless the lake is still this run's, for long enough to commit one more write."""
        ...


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


def _holder(run_id: str, job: str, lease: float, clock: Clock = time.time) -> Holder:
    now = clock()
    return Holder(run_id, job, socket.gethostname(), os.getpid(), now, now + lease)


def _parse(text: str | None) -> Holder | None:
    try:
        return Holder(**json.loads(text)) if text else None
    except (ValueError, TypeError):
        return None


@contextmanager
def lake_lock(
    lake_root: str, run_id: str, job: str, lease: float = S3_LEASE_SECONDS, clock: Clock = time.time
) -> Iterator[Lease]:
    """Hold the lake's lock for the body, and yield the run's lease; raise LakeBusyError at once if another run holds
    it. ``lease`` and ``clock`` are an S3 lock's (seconds, and the wall clock its expiry is told by)."""
    store = open_store(lake_root)
    if is_s3(lake_root):
        with _s3_lock(store, run_id, job, lease, clock) as held:
            yield held
    else:
        with _local_lock(lake_root, store, run_id, job) as held:
            yield held


class _LocalLease:
    """An ``flock`` is the run's until it lets it go: the kernel takes it from no living process."""

    def __init__(self, lake_root: str) -> None:
        self.lake_root = lake_root
        self.released = False

    def check(self) -> None:
        if self.released:
            raise LeaseLostError(f"lake {self.lake_root} is no longer locked by this run")


@contextmanager
def _local_lock(lake_root: str, store: Store, run_id: str, job: str) -> Iterator[Lease]:
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
        lease = _LocalLease(lake_root)
        try:
            store.write_text(LOCK_INFO, json.dumps(asdict(_holder(run_id, job, 0.0))))
            yield lease
        finally:
            lease.released = True
            store.delete(LOCK_INFO)
            fcntl.flock(handle, fcntl.LOCK_UN)


class _S3Lease:
    """An S3 lock object this run created, and its heartbeat's record: the lock's ETag after the last renewal and
    the expiry it wrote, or why the lake is no longer this run's."""

    def __init__(self, store: Store, holder: Holder, tag: str, lease: float, clock: Clock) -> None:
        self.store, self.holder, self.tag, self.lease, self.clock = store, holder, tag, lease, clock
        self.lost: str | None = None
        self.error: str | None = None  # the last renewal's, while renewals fail
        self._guard = threading.Lock()  # a check and a renewal never interleave

    def renew(self) -> None:
        """Push the lock's expiry forward, if the lock is still the one this run last wrote."""
        with self._guard:
            if self.lost is not None:
                return
            renewed = replace(self.holder, expires=self.clock() + self.lease)
            try:
                self.tag = self.store.replace_text_if(LOCK_INFO, json.dumps(asdict(renewed)), self.tag)
            except PreconditionFailedError:
                self.lost = self._taken_over()
            except Exception as error:  # a network blip: the next heartbeat tries again, check() judges the time
                self.error = str(error).splitlines()[0] if str(error) else type(error).__name__
            else:
                self.holder, self.error = renewed, None

    def check(self) -> None:
        with self._guard:
            if self.lost is None:
                left = self.holder.expires - self.clock()
                if left < self.lease / 2:
                    self.lost = (
                        f"its lease could not be renewed ({left:.0f} s of {self.lease:.0f} s left"
                        f"{f', last error: {self.error}' if self.error else ''})"
                    )
                elif self.store.read_tagged(LOCK_INFO)[1] != self.tag:
                    self.lost = self._taken_over()
            if self.lost is not None:
                raise LeaseLostError(
                    f"lake {self.store.root} is no longer this run's: {self.lost}; stopped before its next write, "
                    "the next run repairs the lake"
                )

    def _taken_over(self) -> str:
        other = _parse(self.store.read_text(LOCK_INFO))
        if other is None:
            return "its lock is gone"
        return f"its lock was taken over by {other.describe()}"

    def release(self) -> None:
        """Delete the lock, only if it is still the one this run last wrote."""
        with self._guard, contextlib.suppress(PreconditionFailedError):
            self.store.delete(LOCK_INFO, version=self.tag)


@contextmanager
def _s3_lock(store: Store, run_id: str, job: str, lease: float, clock: Clock) -> Iterator[Lease]:
    holder = _holder(run_id, job, lease, clock)
    held = _S3Lease(store, holder, _take_s3_lock(store, holder, clock), lease, clock)
    stop = threading.Event()
    heartbeat = threading.Thread(target=_heartbeat, args=(held, stop), daemon=True)
    heartbeat.start()
    try:
        yield held
    finally:
        stop.set()
        heartbeat.join()
        held.release()


def _heartbeat(held: _S3Lease, stop: threading.Event) -> None:
    """Renew the lease every tenth of it, while the run lives."""
    while not stop.wait(held.lease / 10):
        held.renew()


def _take_s3_lock(store: Store, holder: Holder, clock: Clock) -> str:
    """Create the lock object, or take over an expired one: delete exactly the object read (``If-Match``), then
    create anew (``If-None-Match``); whoever loses a race at either step finds the winner's lock, or gives up."""
    for _ in range(3):
        try:
            return store.create_text(LOCK_INFO, json.dumps(asdict(holder)))
        except PreconditionFailedError:
            pass
        text, tag = store.read_tagged(LOCK_INFO)
        if tag is None:  # released since: create it again
            continue
        other = _parse(text)
        if other is not None and other.expires > clock():
            raise LakeBusyError(
                f"lake {store.root} is being written by {other.describe()}; run again when it has finished"
            )
        # Expired (its holder died) or unreadable: delete that very object; one already gone is fine.
        with contextlib.suppress(PreconditionFailedError):  # changed since: the next turn reads what it became
            store.delete(LOCK_INFO, version=tag)
    raise LakeBusyError(f"lake {store.root} is being locked by another run right now; run again in a moment")


def new_run_id() -> str:
    return uuid.uuid4().hex[:12]
