"""`make bench`: how the cost of `stedi run` grows with the data, beside a naive read and DuckDB on the same files.

    .venv/bin/python -m benchmarks.bench_run [--scales 1 10 100] [--engines sail spark] [--no-real] [--repeat N]

Landing sets are generated once per scale (seed 0) under ``benchmarks/data/`` and reused; the real STEDI data joins
them when $STEDI_LANDING or ../shared/stedi-landing exists. For each set and each engine of RUNS, these processes
run on the same files, each measured for wall time and peak memory (the RSS of its whole process tree, with the
server it runs in): `stedi run` as a user runs it, into a fresh lake from a cold start (no server: it starts one);
`stedi run` again into that lake once one small new file has landed (the incremental run, run by that server); the
same two runs alone (``STEDI_SERVER=off``: each process starts its own engine and ends with it); the naive
reference on the same engine and format (:mod:`benchmarks.naive`); and DuckDB (:mod:`benchmarks.duckdb_reference`,
once per set). The table goes to the terminal, the figures to
``benchmarks/results.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import IO, Any

import psutil
from rich.console import Console
from rich.table import Column, Table

from stedi_transforms.generate import Plan, generate, read_manifest

ROOT = Path(__file__).resolve().parent.parent
REAL = "real"
MEASURED = ("stedi_run", "incremental", "alone", "alone_incremental", "naive", "duckdb")
"""The processes measured on each landing set, in the table's order."""


@dataclass(frozen=True)
class EngineRun:
    """An engine, the table format it writes, and the landing sets it runs on (scales, and the real data)."""

    engine: str
    table_format: str
    scales: tuple[float, ...]
    real_data: bool = True


RUNS = (
    EngineRun("sail", "delta", scales=(1, 10, 100)),
    EngineRun("spark", "delta", scales=(1, 10)),
)
NEW_FILE_LINES = 200
"""The small file that lands before the incremental run: this many new accelerometer readings."""
NEW_FILE_FOLDER = Path("accelerometer", "landing", "2026")


@dataclass(frozen=True)
class Measurement:
    seconds: float
    peak_mb: float


@dataclass(frozen=True)
class Expect:
    """What a measured process's stderr must say (``said``) and must not (``unsaid``), so that a figure measures
    what its column claims: a cold start, or a command a server ran."""

    said: bytes | None = None
    unsaid: tuple[bytes, ...] = ()


COLD = Expect(said=b"stedi: starting a server", unsaid=(b"stedi: not served",))
WARM = Expect(unsaid=(b"stedi: starting a server", b"stedi: not served"))


def measure(
    argv: Sequence[str], environment: dict[str, str], expect: Expect = Expect(), server: psutil.Process | None = None
) -> Measurement:
    """Run ``argv`` to its end; its wall time and the peak of the summed RSS of it and all its children (the
    server it starts among them), and of ``server``."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as errors:
        process = psutil.Popen(argv, cwd=ROOT, env=environment, stdout=subprocess.DEVNULL, stderr=errors)
        peak = 0
        while process.poll() is None:
            peak = max(peak, _tree_rss(process) + (_tree_rss(server) if server else 0))
            time.sleep(0.02)
        seconds = time.perf_counter() - started
        errors.seek(0)
        said = errors.read()
        if (
            process.returncode != 0
            or (expect.said is not None and expect.said not in said)
            or any(text in said for text in expect.unsaid)
        ):
            raise _failure(process, errors)
    return Measurement(round(seconds, 2), round(peak / 2**20))


def _tree_rss(process: psutil.Process) -> int:
    total = 0
    try:
        for member in [process, *process.children(recursive=True)]:
            total += member.memory_info().rss
    except psutil.Error:  # a member ended while we looked
        pass
    return total


def running_server(socket_file: Path) -> psutil.Process:
    """The server listening on ``socket_file`` (its pid is in the lock file beside it)."""
    return psutil.Process(int(socket_file.with_suffix(".lock").read_text()))


def stop_server(environment: dict[str, str]) -> None:
    """Stop the server listening where ``environment`` says, if one does, and wait until it has ended."""
    socket_file = Path(environment["STEDI_SOCKET"])
    if not socket_file.is_socket():
        return
    server = running_server(socket_file)
    stedi = str(Path(sys.executable).with_name("stedi"))
    subprocess.run([stedi, "serve", "--stop"], env=environment, check=True, capture_output=True)
    server.wait(timeout=120)


def _failure(process: psutil.Popen, errors: IO[bytes]) -> RuntimeError:
    """A measured process that ended badly, or did not say what it had to, with the end of its stderr."""
    errors.seek(0)
    tail = errors.read().decode(errors="replace")[-2_000:]
    return RuntimeError(f"{' '.join(process.args)} exited {process.returncode}:\n{tail}")


def measure_median(argv: Sequence[str], environment: dict[str, str], repeat: int) -> Measurement:
    return median([measure(argv, environment) for _ in range(repeat)])


def median(runs: Sequence[Measurement]) -> Measurement:
    return Measurement(round(statistics.median(run.seconds for run in runs), 2), max(run.peak_mb for run in runs))


def add_new_file(landing: Path) -> None:
    """Land one small file as Firehose would, in a dated folder: new readings of the first accelerometer lines,
    a millisecond after the originals."""
    first = min((landing / "accelerometer" / "landing").rglob("*.json"))
    with first.open(encoding="utf-8") as lines:
        readings = [json.loads(line) for line, _ in zip(lines, range(NEW_FILE_LINES), strict=False)]
    folder = landing / NEW_FILE_FOLDER / "11" / "26" / "09"
    folder.mkdir(parents=True)
    with (folder / "accelerometer-new").open("w", encoding="utf-8") as new:
        for reading in readings:
            print(json.dumps(reading | {"timestamp": reading["timestamp"] + 1}), file=new)


def landing_set(data: Path, scale: float) -> Path:
    """The generated landing set of ``scale``, made the first time it is asked for."""
    folder = data / f"scale-{scale:g}"
    plan = Plan(scale=scale, seed=0)
    manifest = read_manifest(folder)
    if manifest is None or manifest["plan"] != asdict(plan):
        shutil.rmtree(folder, ignore_errors=True)
        print(f"generating scale {scale:g} into {folder}", file=sys.stderr, flush=True)
        generate(folder, plan)
    return folder


def real_landing() -> Path | None:
    folder = Path(os.environ.get("STEDI_LANDING", ROOT.parent / "shared" / "stedi-landing"))
    return folder if folder.is_dir() else None


def count_lines(landing: Path) -> int:
    return sum(path.read_bytes().count(b"\n") for path in landing.glob("*/landing/*.json"))


@dataclass(frozen=True)
class LandingSet:
    name: str
    path: Path
    scale: float | None
    """None for the real data."""

    def wanted_by(self, run: EngineRun) -> bool:
        return run.real_data if self.scale is None else self.scale in run.scales


def landing_sets(runs: Sequence[EngineRun], data: Path, real: Path | None) -> list[LandingSet]:
    """The real data (when given), then every scale of ``runs``, smallest first."""
    sets = [LandingSet(REAL, real, None)] if real is not None else []
    scales = sorted({scale for run in runs for scale in run.scales})
    return sets + [LandingSet(f"scale {scale:g}", landing_set(data, scale), scale) for scale in scales]


def bench(runs: Sequence[EngineRun], sets: Sequence[LandingSet], repeat: int) -> list[dict[str, Any]]:
    """One row per (landing set, engine): `stedi run` and the naive reference, with DuckDB's figures for the set."""
    python, stedi = sys.executable, str(Path(sys.executable).with_name("stedi"))
    rows = []
    alone = os.environ | {"STEDI_SERVER": "off"}
    for landing in sets:
        wanted = [run for run in runs if landing.wanted_by(run)]
        if not wanted:
            continue
        lines = count_lines(landing.path)
        with tempfile.TemporaryDirectory() as scratch:
            duckdb = measure_median(
                [python, "-m", "benchmarks.duckdb_reference", "--landing", str(landing.path), "--out", scratch],
                alone,
                repeat,
            )
        for run in wanted:
            print(f"{landing.name}: {run.engine} ({run.table_format})", file=sys.stderr, flush=True)
            load = os.getloadavg()[0]
            with tempfile.TemporaryDirectory() as scratch:
                own = Path(scratch) / "landing"  # hard links: the new file lands in this copy only
                shutil.copytree(landing.path, own, copy_function=os.link)
                options = ["--landing", str(own), "--engine", run.engine, "--format", run.table_format]
                lakes = [[stedi, "run", "--lake", f"{scratch}/lake-{i}", *options] for i in range(repeat)]
                alone_lakes = [[stedi, "run", "--lake", f"{scratch}/alone-{i}", *options] for i in range(repeat)]
                by_default = alone | {"STEDI_SOCKET": f"{scratch}/server/stedi.sock", "STEDI_SERVER": "auto"}
                stedi_alone = median([measure(argv, alone) for argv in alone_lakes])
                stedi_run = []
                try:
                    for argv in lakes:  # each from a cold start: the run starts the server
                        stop_server(by_default)
                        stedi_run.append(measure(argv, by_default, COLD))
                    add_new_file(own)
                    # each fresh lake then takes the new file, in the server the last full run started
                    server = running_server(Path(by_default["STEDI_SOCKET"]))
                    incremental = median([measure(argv, by_default, WARM, server) for argv in lakes])
                finally:
                    stop_server(by_default)
                incremental_alone = median([measure(argv, alone) for argv in alone_lakes])
                naive = measure_median(
                    [python, "-m", "benchmarks.naive", "--lake", f"{scratch}/naive", *options], alone, repeat
                )
            rows.append(
                {
                    "load_average_before": round(load, 2),  # other work on the machine skews the figures
                    "data": landing.name,
                    "lines": lines,
                    "engine": run.engine,
                    "format": run.table_format,
                    "stedi_run": asdict(median(stedi_run)),
                    "incremental": asdict(incremental),
                    "alone": asdict(stedi_alone),
                    "alone_incremental": asdict(incremental_alone),
                    "naive": asdict(naive),
                    "duckdb": asdict(duckdb),
                }
            )
    return rows


def print_table(rows: Sequence[dict[str, Any]], console: Console) -> None:
    lines, *measured = [
        Column(heading, justify="right")
        for heading in (
            "lines",
            "stedi run s",
            "MB",
            "+1 file s",
            "MB",
            "alone s",
            "MB",
            "+1 alone s",
            "MB",
            "naive read s",
            "MB",
            "DuckDB s",
            "MB",
        )
    ]
    table = Table("data", lines, "engine", *measured, box=None, pad_edge=False)
    for row in rows:
        figures = [
            f"{row[kind][name]:,.{digits}f}" for kind in MEASURED for name, digits in (("seconds", 1), ("peak_mb", 0))
        ]
        table.add_row(row["data"], f"{row['lines']:,}", f"{row['engine']} ({row['format']})", *figures)
    console.print(table)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", type=float, nargs="+", help="only these scales (default: those of RUNS)")
    parser.add_argument("--engines", nargs="+", help="only these engines (default: those of RUNS)")
    parser.add_argument("--no-real", action="store_true", help="leave out the real data even when it is there")
    parser.add_argument("--repeat", type=int, default=1, help="runs per measurement; the median time is shown")
    parser.add_argument("--data", type=Path, default=ROOT / "benchmarks" / "data", help="generated landing sets")
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results.json", help="where to write")
    args = parser.parse_args(argv)

    runs = [run for run in RUNS if not args.engines or run.engine in args.engines]
    if args.scales:
        runs = [replace(run, scales=tuple(args.scales)) for run in runs]
    started = datetime.now(UTC)
    load = os.getloadavg()[0]
    rows = bench(runs, landing_sets(runs, args.data, None if args.no_real else real_landing()), args.repeat)
    print_table(rows, Console(width=150))
    report = {
        "measured_at": started.isoformat(timespec="seconds"),
        "machine": {
            "cores": os.cpu_count(),
            "load_average_before": round(load, 2),
            "python": platform.python_version(),
            **{package: metadata.version(package) for package in ("pysail", "pyspark", "duckdb")},
        },
        "repeat": args.repeat,
        "rows": rows,
    }
    args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
