"""``stedi serve``: the lake commands of other ``stedi`` processes run in one long-lived process.

On Sail only: a server runs the same in-process ``main`` that the command-line tests run on both engines; what it
adds (the socket, the streams sent back, the working directory, the refusals) is the library's own Python, and a
classic Spark server would take ten times longer to start.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from stedi_transforms import ledger
from stedi_transforms.lake import Lake
from stedi_transforms.server import fingerprint, run_environment
from tests.conftest import only_on
from tests.test_lock import assert_lake_holds_the_expected_tables

STEDI = str(Path(sys.executable).with_name("stedi"))


def _environment(socket_file: Path) -> dict[str, str]:
    kept = {name: value for name, value in os.environ.items() if not name.startswith(("SPARK_", "PYSPARK_"))}
    return {**kept, "STEDI_SOCKET": str(socket_file)}


def _stedi(*argv: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([STEDI, *argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False)


def _start_server(environment: dict[str, str]) -> subprocess.Popen[str]:
    """``stedi serve`` on the socket ``environment`` names, once it listens."""
    server = subprocess.Popen(
        [STEDI, "serve", "--idle", "5"], env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 60
    while not Path(environment["STEDI_SOCKET"]).is_socket():
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            raise AssertionError(f"the server did not listen: {server.communicate()}")
        time.sleep(0.05)
    return server


def _request(path: Path, request: dict[str, object]) -> list[dict[str, object]]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
        connection.connect(str(path))
        connection.sendall(json.dumps(request).encode() + b"\n")
        with connection.makefile("r", encoding="utf-8") as replies:
            return [json.loads(line) for line in replies]


def _timeless(text: str) -> str:
    return re.sub(r"\d+\.\d\d s", "_ s", text)


@only_on("sail")
def test_a_server_runs_the_lake_commands_of_other_stedi_processes_as_they_would_run_them(
    spark: SparkSession, fixtures_landing: str, tmp_path: Path
) -> None:
    path = tmp_path / "stedi.sock"
    environment = _environment(path)
    local = _stedi("run", "--landing", fixtures_landing, "--lake", "local", cwd=tmp_path, env=environment)
    server = _start_server(environment)
    try:
        served = _stedi("run", "--landing", fixtures_landing, "--lake", "lake", cwd=tmp_path, env=environment)
        again = _stedi("run", "--landing", fixtures_landing, "--lake", "lake", cwd=tmp_path, env=environment)
        missing = _stedi("run", "--landing", "missing", "--lake", "lake", cwd=tmp_path, env=environment)
        second = _stedi("serve", cwd=tmp_path, env=environment)
        other = _stedi("history", "--lake", "lake", cwd=tmp_path, env={**environment, "AWS_REGION": "elsewhere"})
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
        f"stedi: error: a server already listens on {path}; stedi serve --stop stops it\n",
    )
    assert (other.returncode, other.stderr) == (0, "stedi: not served: the environment differs (AWS_REGION)\n")
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
    server = _start_server(environment)
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
    assert other_code == [{"refused": "the client runs other code"}]
    assert other_engine == [{"refused": "the server runs sail, not spark"}]
    assert garbage == []  # logged, and the server goes on
    assert "not a stedi request: " in err
    message = f"stedi: error: cannot enter the working directory {tmp_path}/gone: No such file or directory\n"
    assert gone == [{"err": message}, {"exit": 2}]
    assert len(ledger.history(Lake(str(lake)).store)) == 1
    assert_lake_holds_the_expected_tables(spark, Lake(str(lake)))


def test_without_a_server_stedi_runs_the_command_itself(tmp_path: Path) -> None:
    done = _stedi("run", "--landing", "missing", cwd=tmp_path, env=_environment(tmp_path / "none.sock"))
    assert (done.returncode, done.stderr) == (2, f"stedi: error: landing folder {tmp_path}/missing does not exist\n")


def test_serve_stop_without_a_server_says_so(tmp_path: Path) -> None:
    done = _stedi("serve", "--stop", cwd=tmp_path, env=_environment(tmp_path / "none.sock"))
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
        with pytest.raises(BlockingIOError):  # nobody connected
            listener.accept()
        serve = _stedi("serve", cwd=tmp_path, env=_environment(path))
    assert (done.returncode, done.stderr) == (2, f"stedi: error: landing folder {tmp_path}/missing does not exist\n")
    assert (serve.returncode, serve.stderr) == (
        2,
        f"stedi: error: {shared} is not a folder that only you can write; set STEDI_SOCKET\n",
    )
