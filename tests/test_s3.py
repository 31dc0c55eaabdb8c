"""Lakes and landing in S3: a real S3 API on loopback (moto's server), end to end on both engines; the failures a
user can fix, as one line; and the lake's lock as an object written with a conditional PUT."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession

from stedi_transforms import engines, ledger
from stedi_transforms.cli import main
from stedi_transforms.lake import CUSTOMER_TRUSTED, Lake
from stedi_transforms.lock import LOCK_INFO, LakeBusyError, LeaseLostError, lake_lock
from stedi_transforms.settings import S3Settings
from stedi_transforms.storage import (
    PreconditionFailedError,
    S3Store,
    StorageError,
    Store,
    open_store,
    s3_client,
)
from tests.compare import assert_lake_holds_the_expected_tables
from tests.conftest import LocalS3, classic_in_integration
from tests.fixture_tables import EXPECTED_COUNTS
from tests.processes import STEDI, child_environment, free_port, moto_server

pytestmark = pytest.mark.s3


def stedi(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(argv), out=out), out.getvalue()


def stedi_process(*argv: str, **environment: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [STEDI, *argv], capture_output=True, text=True, env=child_environment(**environment), timeout=120, check=False
    )


@pytest.fixture(scope="module")
def buckets(s3: LocalS3, fixtures_landing: str) -> str:
    """A landing bucket holding the fixtures, and an empty lake bucket; returns the landing root."""
    for bucket in ("stedi-landing", "stedi-lake"):
        s3.client.create_bucket(Bucket=bucket)
    return s3.upload(fixtures_landing, "stedi-landing", "raw")


@classic_in_integration  # classic Spark's S3 (s3a) loads the AWS SDK: with the Glue job in S3, in make test-integration
def test_a_lake_in_s3_is_built_verified_and_read_back_exact(
    spark: SparkSession, engine: str, buckets: str, tmp_path: Path
) -> None:
    lake = f"s3://stedi-lake/{engine}"
    assert stedi("run", "--landing", buckets, "--lake", lake, "--engine", engine)[0] == 0
    # On classic Spark verify would read the tables as the read-back below does; its checks run on classic Spark in
    # test_pipeline (and on the real data in make test-integration).
    if engine == "sail":
        code, out = stedi("verify", "--lake", lake, "--engine", engine, "--json")
        report = json.loads(out)
        assert (code, report["counts"]) == (0, EXPECTED_COUNTS)
        assert [check["name"] for check in report["checks"] if not check["passed"]] == []
    engines.use_s3(spark)
    assert_lake_holds_the_expected_tables(spark, Lake(lake))
    if engine == "sail":  # the ledger in S3 is the library's own Python; a second classic run would show nothing new
        code, out = stedi("run", "--landing", buckets, "--lake", lake, "--engine", engine)
        assert (code, out.splitlines()[1]) == (0, "customer         0        0        0          1             0")


def test_a_process_makes_one_client_per_settings_and_a_forked_one_makes_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Making a boto3 client loads botocore's models: when every store made its own, that was most of the time of a
    run in S3 that found nothing new."""
    settings = S3Settings(endpoint_url="http://127.0.0.1:9", region="us-east-1", access_key="a", secret_key="b")
    client = s3_client(settings)
    assert (S3Store("s3://landing", settings).client, S3Store("s3://lake/x", settings).client) == (client, client)
    assert s3_client(S3Settings(endpoint_url="http://127.0.0.1:9", region="eu-west-1")) is not client
    monkeypatch.setattr(os, "getpid", lambda: -1)  # a forked child: boto3's clients are not shared between processes
    assert s3_client(settings) is not client


def test_the_threads_of_a_run_share_one_client_and_keep_their_connections(
    s3: LocalS3, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The three sources are ingested at once, each reading its files on a thread per core, all through the
    process's one client: on 8 cores, 24 requests at a time. urllib3 keeps ten connections unless told otherwise,
    and prints a warning for each one it then drops."""
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    s3.client.create_bucket(Bucket="stedi-threads")
    names = [f"landing/f{index}.json" for index in range(48)]
    for name in names:
        s3.client.put_object(Bucket="stedi-threads", Key=name, Body=name.encode())
    settings = S3Settings(endpoint_url=s3.endpoint, region="us-east-1", access_key="threads", secret_key="t")
    store = S3Store("s3://stedi-threads", settings)
    with caplog.at_level(logging.WARNING, logger="urllib3"):
        for threads in (8, 24):  # the first connections made a few at a time: moto accepts them slowly
            with ThreadPoolExecutor(threads) as pool:
                texts = list(pool.map(store.read_text, names))
    assert (texts, [record.getMessage() for record in caplog.records]) == (names, [])


def test_an_unreachable_endpoint_is_one_line(buckets: str) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    started = time.perf_counter()
    result = stedi_process("run", "--landing", buckets, "--lake", "s3://stedi-lake/x", AWS_ENDPOINT_URL=closed)
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == (
        f'stedi: error: s3://stedi-landing: Could not connect to the endpoint URL: "{closed}/stedi-landing"'
    )
    assert "Traceback" not in result.stderr
    assert time.perf_counter() - started < 30


def test_a_missing_bucket_is_one_line(s3: LocalS3, buckets: str) -> None:
    result = stedi_process("run", "--landing", buckets, "--lake", "s3://no-such-bucket/lake")
    assert (result.returncode, result.stderr.splitlines()[-1]) == (
        2,
        f"stedi: error: bucket no-such-bucket does not exist ({s3.endpoint})",
    )


def test_refused_credentials_are_one_line(tmp_path: Path) -> None:
    """A second server that checks credentials, as AWS does: moto accepts any until told otherwise."""
    with moto_server(INITIAL_NO_AUTH_ACTION_COUNT="0") as endpoint:
        # Keys of its own: this test may run in a worker where the module's S3 fixture never set any.
        result = stedi_process(
            "run",
            "--landing",
            "s3://stedi-landing/raw",
            "--lake",
            "s3://stedi-lake/x",
            AWS_ENDPOINT_URL=endpoint,
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_REGION="us-east-1",
            AWS_ALLOW_HTTP="true",
        )
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1].startswith(
        "stedi: error: s3://stedi-landing: access refused (403: Forbidden); check the AWS credentials"
    )


def test_a_second_writer_of_an_s3_lake_stops_at_once_naming_the_first(s3: LocalS3, buckets: str) -> None:
    lake = "s3://stedi-lake/locked"
    with lake_lock(lake, "run-one", "stedi run"):
        result = stedi_process("run", "--landing", buckets, "--lake", lake)
        with pytest.raises(LakeBusyError, match="is being written by run run-one"), lake_lock(lake, "two", "x"):
            pass
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1].startswith(f"stedi: error: lake {lake} is being written by run run-one")
    with lake_lock(lake, "run-three", "stedi run"):  # released: the next run takes it
        pass


def test_the_lock_of_a_run_that_died_expires_and_is_taken_over(s3: LocalS3, buckets: str) -> None:
    lake = "s3://stedi-lake/abandoned"
    dead = {"run_id": "dead", "job": "stedi run", "host": "gone", "pid": 1, "started": 0.0, "expires": time.time() - 1}
    store = S3Store(lake, S3Settings.from_environment())
    store.create_text(LOCK_INFO, json.dumps(dead))
    with lake_lock(lake, "alive", "stedi run"):
        held = json.loads(store.read_text(LOCK_INFO) or "{}")
    assert held["run_id"] == "alive"
    assert store.read_text(LOCK_INFO) is None


def test_a_delta_table_in_s3_exists_from_its_first_commit_as_on_disk(s3: LocalS3, buckets: str, tmp_path: Path) -> None:
    """The same log on disk and in S3 (with the folder marker the console makes): the names directly in it are the
    same, and only a commit or checkpoint among them makes a table."""
    log = "customer/trusted/_delta_log"
    before = ["_last_checkpoint", "_sidecars/0a.parquet", "_staged_commits/00000000000000000000.3a.json"]
    s3.client.put_object(Bucket="stedi-lake", Key=f"versions/{log}/", Body=b"")
    for name in before:
        s3.client.put_object(Bucket="stedi-lake", Key=f"versions/{log}/{name}", Body=b"{}")
        (tmp_path / log / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / log / name).write_text("{}")
    in_s3, on_disk = Lake("s3://stedi-lake/versions", "delta"), Lake(str(tmp_path), "delta")
    assert (
        sorted(in_s3.store.names(log))
        == sorted(on_disk.store.names(log))
        == [
            "_last_checkpoint",
            "_sidecars",
            "_staged_commits",
        ]
    )
    assert (in_s3.exists(CUSTOMER_TRUSTED), on_disk.exists(CUSTOMER_TRUSTED)) == (False, False)
    s3.client.put_object(Bucket="stedi-lake", Key=f"versions/{log}/00000000000000000000.json", Body=b"{}")
    (tmp_path / log / "00000000000000000000.json").write_text("{}")
    assert (in_s3.exists(CUSTOMER_TRUSTED), on_disk.exists(CUSTOMER_TRUSTED)) == (True, True)
    assert (list(in_s3.store.names("missing")), list(on_disk.store.names("missing"))) == ([], [])


@pytest.fixture(params=["s3", "local"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    """An empty store: a prefix of the local S3 server, or a local folder."""
    if request.param == "local":
        return open_store(str(tmp_path))
    request.getfixturevalue("buckets")
    return open_store(f"s3://stedi-lake/conditions-{time.time_ns()}")


def test_both_stores_and_the_local_s3_server_honour_every_condition_the_lock_and_the_state_rely_on(
    store: Store,
) -> None:
    created = store.create_text("x.json", "one")
    with pytest.raises(PreconditionFailedError):
        store.create_text("x.json", "two")  # If-None-Match: *
    assert store.read_tagged("x.json") == ("one", created)
    replaced = store.replace_text_if("x.json", "two", created)  # If-Match on the tag it still has
    with pytest.raises(PreconditionFailedError):
        store.replace_text_if("x.json", "three", created)  # a tag it no longer has
    with pytest.raises(PreconditionFailedError):
        store.delete("x.json", version=created)  # a conditional delete of what it no longer is
    assert store.read_tagged("x.json") == ("two", replaced)
    store.delete("x.json", version=replaced)
    assert store.read_tagged("x.json") == (None, None)
    store.delete("x.json", version=replaced)  # already gone: fine, with a version or without
    store.delete("x.json")
    with pytest.raises(PreconditionFailedError):
        store.replace_text_if("x.json", "four", replaced)  # gone: nothing to replace
    assert store.read_tagged("x.json") == (None, None)


DEAD = {"run_id": "dead", "job": "stedi run", "host": "gone", "pid": 1, "started": 0.0, "expires": 1.0}


def _holder(run_id: str, seconds: float = 600.0) -> str:
    now = time.time()
    return json.dumps({**DEAD, "run_id": run_id, "started": now, "expires": now + seconds})


def _meanwhile(monkeypatch: pytest.MonkeyPatch, method: str, before: Callable[[S3Store], None]) -> None:
    """Run ``before`` once, right before the store's next call of ``method``, as another run would meanwhile."""
    real = getattr(S3Store, method)
    done = False

    def patched(self: S3Store, *args: Any, **kwargs: Any) -> Any:
        nonlocal done
        if not done:
            done = True
            before(self)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(S3Store, method, patched)


def test_a_takeover_that_finds_the_lock_gone_never_deletes_a_third_runs_fresh_lock(
    s3: LocalS3, buckets: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The dead run's lock is gone by the time the taker reads it, and a third run makes its own right after: the
    taker deleted, unconditionally, whatever lock was there, the third run's, then took the lake too."""
    lake = "s3://stedi-lake/third"
    store = S3Store(lake, S3Settings.from_environment())
    store.create_text(LOCK_INFO, json.dumps(DEAD))
    third = _holder("third")
    real_read = S3Store.read_tagged

    def read_as_the_third_run_starts(self: S3Store, path: str) -> tuple[str | None, str | None]:
        monkeypatch.setattr(S3Store, "read_tagged", real_read)
        self.delete(path)  # someone took the dead lock away, and read nothing
        answer = real_read(self, path)
        self.create_text(path, third)  # the third run locks the lake
        return answer

    monkeypatch.setattr(S3Store, "read_tagged", read_as_the_third_run_starts)
    with pytest.raises(LakeBusyError, match="is being written by run third"), lake_lock(lake, "taker", "stedi run"):
        pass
    assert store.read_text(LOCK_INFO) == third


def test_a_takeover_whose_conditional_delete_finds_the_lock_already_gone_takes_the_lake(
    s3: LocalS3, buckets: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another taker deleted the expired lock between this one's read and its delete: the delete of a key already
    gone failed the run with "does not exist"."""
    lake = "s3://stedi-lake/gone"
    store = S3Store(lake, S3Settings.from_environment())
    store.create_text(LOCK_INFO, json.dumps(DEAD))
    _meanwhile(
        monkeypatch,
        "delete",
        lambda other: other.client.delete_object(Bucket="stedi-lake", Key="gone/_stedi/lock.json"),
    )
    with lake_lock(lake, "taker", "stedi run"):
        held = json.loads(store.read_text(LOCK_INFO) or "{}")
    assert (held["run_id"], store.read_text(LOCK_INFO)) == ("taker", None)


def test_a_takeover_that_loses_the_race_stops_in_one_line_naming_the_winner(
    s3: LocalS3, buckets: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = "s3://stedi-lake/race"
    store = S3Store(lake, S3Settings.from_environment())
    store.create_text(LOCK_INFO, json.dumps(DEAD))
    winner = _holder("winner")

    def win(other: S3Store) -> None:  # the other taker deletes the expired lock, and makes its own
        other.client.delete_object(Bucket="stedi-lake", Key="race/_stedi/lock.json")
        other.create_text(LOCK_INFO, winner)

    _meanwhile(monkeypatch, "delete", win)
    with pytest.raises(LakeBusyError, match="is being written by run winner"), lake_lock(lake, "loser", "stedi run"):
        pass
    assert store.read_text(LOCK_INFO) == winner


class FakeClock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def test_a_run_whose_lock_was_taken_over_stops_at_its_next_check_and_leaves_the_new_lock(
    s3: LocalS3, buckets: str
) -> None:
    lake = "s3://stedi-lake/taken"
    store = S3Store(lake, S3Settings.from_environment())
    taker = _holder("taker")
    with lake_lock(lake, "first", "stedi run") as lease:
        lease.check()
        store.write_text(LOCK_INFO, taker)  # as a run that judged the lease expired by its own clock
        with pytest.raises(LeaseLostError) as lost:
            lease.check()
    assert str(lost.value).startswith(
        f"lake {lake} is no longer this run's: its lock was taken over by run taker (stedi run, pid 1 on gone, "
    )
    assert store.read_text(LOCK_INFO) == taker  # the first run, leaving, did not delete the taker's lock


def test_a_run_that_cannot_renew_its_lease_stops_once_half_of_it_is_gone(
    s3: LocalS3, buckets: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The heartbeat returned silently on any error: after a network blip of a lease's length, another run took the
    lake over while this one went on writing."""
    lake = "s3://stedi-lake/blip"
    clock = FakeClock()
    renewals: list[str] = []

    def unreachable(self: S3Store, path: str, text: str, version: str) -> str:
        renewals.append(path)
        raise StorageError(f"s3://stedi-lake/{path}: Could not connect to the endpoint URL")

    with lake_lock(lake, "first", "stedi run", lease=1.0, clock=clock) as lease:
        monkeypatch.setattr(S3Store, "replace_text_if", unreachable)
        deadline = time.monotonic() + 10
        while not renewals and time.monotonic() < deadline:  # the heartbeat, every tenth of the lease
            time.sleep(0.02)
        clock.now += 0.4
        lease.check()  # more than half the lease left: a blip is not yet a lost lake
        clock.now += 0.2
        with pytest.raises(LeaseLostError) as lost:
            lease.check()
        monkeypatch.undo()
    assert renewals
    assert str(lost.value) == (
        f"lake {lake} is no longer this run's: its lease could not be renewed (0 s of 1 s left, last error: "
        f"s3://stedi-lake/{LOCK_INFO}: Could not connect to the endpoint URL); stopped before its next write, the "
        "next run repairs the lake"
    )


def test_the_state_in_s3_is_written_only_over_the_state_this_run_read(s3: LocalS3, buckets: str) -> None:
    store = S3Store("s3://stedi-lake/state", S3Settings.from_environment())
    first = ledger.load_state(store, "delta")
    ledger.save_state(store, first)  # none yet: created
    ledger.save_state(store, first)  # the one it wrote: replaced
    second = ledger.load_state(store, "delta")
    second.rows["customer_trusted"] = 4
    ledger.save_state(store, second)
    first.rows["customer_trusted"] = 5
    with pytest.raises(LeaseLostError, match="was changed by another run meanwhile"):
        ledger.save_state(store, first)
    assert ledger.load_state(store, "delta") == second
