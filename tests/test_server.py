"""``stedi serve``: the lake commands of other ``stedi`` processes run in one long-lived process.

On Sail only: a server runs the same in-process ``main`` that the command-line tests run on both engines; what it
adds (the socket, the streams sent back, the working directory, the refusals) is the library's own Python, and a
classic Spark server would take ten times longer to start.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from stedi_transforms import ledger
from stedi_transforms.lake import Lake
from stedi_transforms.server import fingerprint, run_environment
from tests.compare import assert_lake_holds_the_expected_tables
from tests.conftest import only_on
from tests.processes import STEDI, child_environment, start_stedi_server


def _environment(socket_file: Path) -> dict[str, str]:
    return child_environment(STEDI_SOCKET=str(socket_file))


def _stedi(*argv: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([STEDI, *argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False)


def _request(path: Path, request: dict[str, object]) -> list[dict[str, object]]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
        connection.connect(str(path))
        connection.sendall(json.dumps(request).encode() + b"\n")
        with connection.makefile("r", encoding="utf-8") as replies:
            return [json.loads(line) for line in replies]


def _timeless(text: str) -> str:
    return re.sub(r"\d+\.\d\d s", "_ s", text)


STARTING = (
    "stedi: starting a server that keeps the engine started for this command and the next ones (it stops after 60 "
    "idle minutes; STEDI_SERVER=off runs each command alone)\n"
)


def _server_ended(path: Path, seconds: float = 30) -> bool:
    """Whether the server of ``path`` has ended (within ``seconds``): none holds the lock beside its socket."""
    deadline = time.monotonic() + seconds
    with path.with_suffix(".lock").open("a") as lock:
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if time.monotonic() > deadline:
                    return False
                time.sleep(0.05)
            else:
                return True


def _kill_server(path: Path) -> None:
    """Whatever a test did, no server it started outlives it."""
    if path.with_suffix(".lock").exists() and not _server_ended(path, seconds=0):
        os.kill(int(path.with_suffix(".lock").read_text()), signal.SIGKILL)


@only_on("sail")
def test_a_server_runs_the_lake_commands_of_other_stedi_processes_as_they_would_run_them(
    spark: SparkSession, fixtures_landing: str, tmp_path: Path
) -> None:
    path = tmp_path / "stedi.sock"
    environment = _environment(path)
    local = _stedi("run", "--landing", fixtures_landing, "--lake", "local", cwd=tmp_path, env=environment)
    server = start_stedi_server(environment)
    try:
        served = _stedi("run", "--landing", fixtures_landing, "--lake", "lake", cwd=tmp_path, env=environment)
        again = _stedi("run", "--landing", fixtures_landing, "--lake", "lake", cwd=tmp_path, env=environment)
        missing = _stedi("run", "--landing", "missing", "--lake", "lake", cwd=tmp_path, env=environment)
        second = _stedi("serve", cwd=tmp_path, env=environment)
        other = _stedi("history", "--lake", "lake", cwd=tmp_path, env={**environment, "AWS_REGION": "elsewhere"})
        status = _stedi("serve", "--status", cwd=tmp_path, env=environment)
        stop = _stedi("serve", "--stop", cwd=tmp_path, env=environment)
        out, err = server.communicate(timeout=60)
    finally:
        server.kill()
    assert (local.returncode, served.returncode, again.returncode) == (0, 0, 0)
    assert _timeless(served.stdout) == _timeless(local.stdout.replace("/local", "/lake"))
    assert _timeless(served.stderr) == _timeless(local.stderr.replace("/local", "/lake"))
    assert_lake_holds_the_expected_tables(spark, Lake(str(tmp_path / "lake")))
    assert again.stderr.count("nothing to do") == 6
    assert (missing.returncode, missing.stderr) == (
        2,
        f"stedi: error: landing folder {tmp_path}/missing does not exist\n",
    )
    assert (second.returncode, second.stderr) == (
        2,
        f"stedi: error: a server already runs on {path} (pid {server.pid}); stedi serve --stop stops it\n",
    )
    assert (other.returncode, other.stderr) == (0, "stedi: not served: the environment differs (AWS_REGION)\n")
    assert status.returncode == 0
    assert re.fullmatch(  # the refused command is not one it ran
        rf"a sail server \(pid {server.pid}, started by hand\) listens on {path}: up \d+ s, 3 commands run, "
        r"idle \d+ s; stops after 5 idle minutes\n",
        status.stdout,
    )
    assert (stop.returncode, server.returncode, path.exists()) == (0, 0, False)
    assert [_timeless(line[9:]) for line in err.splitlines()] == [
        f"stedi run --landing {fixtures_landing} --lake lake: exit 0 in _ s",
        f"stedi run --landing {fixtures_landing} --lake lake: exit 0 in _ s",
        "stedi run --landing missing --lake lake: exit 2 in _ s",
        "not serving stedi history --lake lake: the environment differs (AWS_REGION)",
    ]
    assert out.startswith("stedi serve: sail started in ")


@only_on("sail")
def test_a_server_finishes_a_command_whose_client_left_and_refuses_other_code_or_engines(
    spark: SparkSession, fixtures_landing: str, tmp_path: Path
) -> None:
    path = tmp_path / "stedi.sock"
    environment = _environment(path)
    server = start_stedi_server(environment)
    lake = tmp_path / "lake"
    request = {"cwd": str(tmp_path), "code": fingerprint(), "env": run_environment(environment)}
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as leaving:  # a client gone at once, as with Ctrl-C
            leaving.connect(str(path))
            leaving.sendall(json.dumps({**request, "argv": ["run", "--landing", fixtures_landing]}).encode() + b"\n")
        other_code = _request(path, {**request, "argv": ["history"], "code": "other"})
        other_engine = _request(path, {**request, "argv": ["verify", "--engine", "spark"]})
        garbage = _request(path, {"argv": "history"})
        gone = _request(path, {**request, "argv": ["history"], "cwd": str(tmp_path / "gone")})
        _stedi("serve", "--stop", cwd=tmp_path, env=environment)
        _, err = server.communicate(timeout=60)
    finally:
        server.kill()
    assert other_code == [{"refused": "the client runs other code", "stops": False}]
    assert other_engine == [{"refused": "the server runs sail, not spark", "stops": False}]
    assert garbage == []  # logged, and the server goes on
    assert "not a stedi request: " in err
    message = f"stedi: error: cannot enter the working directory {tmp_path}/gone: No such file or directory\n"
    assert gone == [{"err": message}, {"exit": 2}]
    assert len(ledger.history(Lake(str(lake)).store)) == 1
    assert_lake_holds_the_expected_tables(spark, Lake(str(lake)))


def test_without_a_server_stedi_runs_the_command_itself(tmp_path: Path) -> None:
    done = _stedi("run", "--landing", "missing", cwd=tmp_path, env=_environment(tmp_path / "none.sock"))
    assert (done.returncode, done.stderr) == (2, f"stedi: error: landing folder {tmp_path}/missing does not exist\n")


@pytest.mark.parametrize("asked", ["--stop", "--status"])
def test_serve_stop_or_status_without_a_server_says_so(asked: str, tmp_path: Path) -> None:
    done = _stedi("serve", asked, cwd=tmp_path, env=_environment(tmp_path / "none.sock"))
    assert (done.returncode, done.stderr) == (2, f"stedi: error: no server listens on {tmp_path}/none.sock\n")


def test_serve_takes_a_number_of_idle_minutes(tmp_path: Path) -> None:
    done = _stedi("serve", "--idle", "-1", cwd=tmp_path, env=_environment(tmp_path / "s.sock"))
    assert (done.returncode, done.stderr) == (2, "stedi: error: --idle takes a number of minutes, 0 or more, not -1\n")


def test_a_socket_in_a_folder_others_can_write_is_never_used(tmp_path: Path) -> None:
    """Another user could have put it there, and would see the commands (the environment goes only as digests)."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    path = shared / "stedi.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(str(path))
        listener.listen()
        listener.setblocking(False)
        done = _stedi("run", "--landing", "missing", cwd=tmp_path, env=_environment(path))
        by_default = {**_environment(path), "STEDI_SERVER": "auto"}
        starting = _stedi("run", "--landing", "missing", cwd=tmp_path, env=by_default)
        with pytest.raises(BlockingIOError):  # nobody connected
            listener.accept()
        serve = _stedi("serve", cwd=tmp_path, env=_environment(path))
    unsafe = f"{shared} is not a folder that only you can write; set STEDI_SOCKET\n"
    missing = f"stedi: error: landing folder {tmp_path}/missing does not exist\n"
    assert (done.returncode, done.stderr) == (2, missing)
    assert (starting.returncode, starting.stderr) == (2, f"stedi: not served: {unsafe}{missing}")  # and starts none
    assert (serve.returncode, serve.stderr) == (2, f"stedi: error: {unsafe}")
    assert sorted(entry.name for entry in shared.iterdir()) == ["stedi.sock"]


@only_on("sail")
def test_a_client_that_finds_no_server_starts_one_that_runs_it_and_the_commands_after_it(
    spark: SparkSession, fixtures_landing: str, tmp_path: Path
) -> None:
    path = tmp_path / "server" / "stedi.sock"
    # relative to the clients' working directory: the server, which runs elsewhere, is told where that is
    by_default = {**_environment(Path("server", "stedi.sock")), "STEDI_SERVER": "auto"}
    alone = {**by_default, "STEDI_SERVER": "off"}
    local = _stedi("run", "--landing", fixtures_landing, "--lake", "local", cwd=tmp_path, env=alone)
    try:
        first = _stedi("run", "--landing", fixtures_landing, "--lake", "lake", cwd=tmp_path, env=by_default)
        served = _stedi("verify", "--lake", "lake", cwd=tmp_path, env=by_default)
        status = _stedi("serve", "--status", cwd=tmp_path, env=by_default)
        by_itself = _stedi("verify", "--lake", "lake", cwd=tmp_path, env=alone)
        helped = _stedi("run", "--help", cwd=tmp_path, env=by_default)
        stop = _stedi("serve", "--stop", cwd=tmp_path, env=by_default)
        ended = _server_ended(path)
        help_alone = _stedi("run", "--help", cwd=tmp_path, env=by_default)  # help starts no server
    finally:
        _kill_server(path)
    assert (local.returncode, first.returncode, served.returncode, stop.returncode) == (0, 0, 0, 0)
    assert _timeless(first.stdout) == _timeless(local.stdout.replace("/local", "/lake"))
    assert _timeless(first.stderr) == STARTING + _timeless(local.stderr.replace("/local", "/lake"))
    assert_lake_holds_the_expected_tables(spark, Lake(str(tmp_path / "lake")))
    assert (served.stdout, served.stderr) == (by_itself.stdout, by_itself.stderr)
    assert re.fullmatch(
        rf"a sail server \(pid \d+, started by a client\) listens on {path}: up \d+ s, 2 commands run, idle \d+ s; "
        r"stops after 60 idle minutes\n",
        status.stdout,
    )
    assert (helped.stdout, helped.stderr) == (help_alone.stdout, "")
    assert (ended, path.exists(), help_alone.returncode) == (True, False, 0)
    log = path.with_suffix(".log").read_text().splitlines()
    assert log[0].startswith("stedi serve: sail started in ")
    assert [_timeless(line[9:]) for line in log[1:]] == [  # the commands it ran: not the one run alone
        f"stedi run --landing {fixtures_landing} --lake lake: exit 0 in _ s",
        "stedi verify --lake lake: exit 0 in _ s",
        "stedi run --help: exit 0 in _ s",
    ]


@only_on("sail")
def test_clients_started_at_once_share_one_server_which_gives_way_to_a_client_of_another_environment(
    spark: SparkSession, fixtures_landing: str, tmp_path: Path
) -> None:
    path = tmp_path / "server" / "stedi.sock"
    by_default = {**_environment(path), "STEDI_SERVER": "auto"}
    try:
        clients = [
            subprocess.Popen(
                [STEDI, "run", "--landing", fixtures_landing, "--lake", lake],
                cwd=tmp_path,
                env=by_default,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            for lake in ("a", "b")
        ]
        said = [client.communicate(timeout=120)[1] for client in clients]
        elsewhere = _stedi("history", "--lake", "a", cwd=tmp_path, env={**by_default, "AWS_REGION": "elsewhere"})
        only_use = _stedi("history", "--lake", "a", cwd=tmp_path, env={**by_default, "STEDI_SERVER": "use"})
        ended = _server_ended(path)
    finally:
        _kill_server(path)
    assert [client.returncode for client in clients] == [0, 0]
    assert sorted(text.count(STARTING) for text in said) == [0, 1]  # one started it; the other waited for it
    for lake in ("a", "b"):
        assert_lake_holds_the_expected_tables(spark, Lake(str(tmp_path / lake)))
    assert (elsewhere.returncode, elsewhere.stderr) == (
        0,
        "stedi: the environment differs (AWS_REGION): the server stops, and a new one starts\n" + STARTING,
    )
    assert (only_use.returncode, only_use.stderr) == (
        0,
        "stedi: not served: the environment differs (AWS_REGION) (the server stops)\n",
    )
    assert only_use.stdout == elsewhere.stdout
    assert len(ledger.history(Lake(str(tmp_path / "a")).store)) == 1
    assert (ended, path.exists()) == (True, False)


def test_stedi_server_takes_one_of_its_modes(tmp_path: Path) -> None:
    done = _stedi("history", cwd=tmp_path, env={**_environment(tmp_path / "s.sock"), "STEDI_SERVER": "always"})
    assert (done.returncode, done.stderr) == (2, "stedi: error: STEDI_SERVER is one of auto, use, off, not 'always'\n")


def test_refreshed_aws_credentials_are_another_environment(tmp_path: Path) -> None:
    """A server that started with the old credentials does not serve the new ones (boto3 reads them at its start)."""
    credentials = tmp_path / "credentials"
    credentials.write_text("[default]\naws_access_key_id = OLD\n")
    environment = {"AWS_SHARED_CREDENTIALS_FILE": str(credentials), "AWS_CONFIG_FILE": str(tmp_path / "none")}
    before = run_environment(environment)
    credentials.write_text("[default]\naws_access_key_id = NEW\n")  # the same size: the time tells
    os.utime(credentials, ns=(0, credentials.stat().st_mtime_ns + 1))
    after = run_environment(environment)
    assert sorted(before) == sorted(["AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", str(credentials)])
    assert [name for name in before if before[name] != after.get(name)] == [str(credentials)]
