"""`make bench`: how the cost of `stedi run` grows with the data, beside a naive read and DuckDB on the same files.

    .venv/bin/python -m benchmarks.bench_run [--scales 1 10 100] [--engines sail spark] [--no-real] [--no-remote]
                                             [--repeat N]

Landing sets are generated once per scale (seed 0) under ``benchmarks/data/`` and reused. The real STEDI data joins
them when $STEDI_LANDING or ../shared/stedi-landing exists. For each set and each engine of RUNS these commands run
on the same files, each one in a cold process of its own, as a user runs it:

- `stedi run` into a fresh lake. The process starts its engine and ends with it.
- The same after one small new file has landed in that lake's landing folder: the incremental run.
- Both again through ``--remote`` to a warm local server (``stedi serve --engine E``), started once for the set and
  engine and stopped after. Each run goes into a fresh lake of its own.
- The naive reference on the same engine and format (:mod:`benchmarks.naive`).
- DuckDB (:mod:`benchmarks.duckdb_reference`), once per set.

Each command is measured for wall time and for memory as the kernel's high-water marks: of every process it uses,
and of the warm server's processes while it runs. :mod:`benchmarks.high_water` says exactly what is summed. The
table goes to the terminal and the figures to ``benchmarks/results.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import statistics
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Column, Table

from benchmarks.high_water import LocalServer, Measurement, local_server, measure
from stedi_transforms.generate import Plan, generate, read_manifest

ROOT = Path(__file__).resolve().parent.parent
REAL = "real"
MEASURED = ("stedi_run", "incremental", "remote", "remote_incremental", "naive", "duckdb")
"""The commands measured on each landing set, in the table's order."""
ENGINE_CHOICE = ("SPARK_REMOTE", "SPARK_CONNECT_MODE_ENABLED")
"""Variables that send PySpark to a Spark Connect server, left out of the commands' environment."""
REMOTE = ("remote", "remote_incremental")
"""The ones that run through a warm local server (left out by ``--no-remote``)."""


@dataclass(frozen=True)
class EngineRun:
    """An engine, the table format it writes, and the landing sets it runs on (scales, and the real data)."""

    engine: str
    table_format: str
    scales: tuple[float, ...]
    real_data: bool = True


RUNS = (
    EngineRun("sail", "delta", scales=(1, 10, 100, 1000)),
    EngineRun("spark", "delta", scales=(1, 10, 100)),
)
NEW_FILE_LINES = 200
"""The small file that lands before the incremental run: this many new accelerometer readings."""
NEW_FILE_FOLDER = Path("accelerometer", "landing", "2026")


def measure_median(
    argvs: Sequence[Sequence[str]], environment: dict[str, str], server: LocalServer | None = None
) -> Measurement:
    """Each of ``argvs`` measured in turn (through ``server``'s processes, if given): the median time and the
    largest peak."""
    return median([measure(argv, environment, ROOT, server) for argv in argvs])


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


def free_port() -> int:
    """A loopback port no one listens on (as of now)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def bench(
    runs: Sequence[EngineRun], sets: Sequence[LandingSet], repeat: int, remote: bool = True
) -> list[dict[str, Any]]:
    """One row per (landing set, engine): `stedi run` cold, then through a warm local server, and the naive
    reference, with DuckDB's figures for the set. Without ``remote`` no server is started and its figures are
    None."""
    python, stedi = sys.executable, str(Path(sys.executable).with_name("stedi"))
    # Cold runs start their own engine, whatever Spark Connect server the bench's own environment may name.
    environment = {name: value for name, value in os.environ.items() if name not in ENGINE_CHOICE}
    rows = []
    for landing in sets:
        wanted = [run for run in runs if landing.wanted_by(run)]
        if not wanted:
            continue
        lines = count_lines(landing.path)
        with tempfile.TemporaryDirectory() as scratch:
            duckdb_reference = [python, "-m", "benchmarks.duckdb_reference", "--landing", str(landing.path)]
            duckdb = measure_median([[*duckdb_reference, "--out", scratch]] * repeat, environment)
        for run in wanted:
            print(f"{landing.name}: {run.engine} ({run.table_format})", file=sys.stderr, flush=True)
            load = os.getloadavg()[0]
            with tempfile.TemporaryDirectory() as scratch:
                own = Path(scratch) / "landing"  # hard links: the new file lands in this copy only
                shutil.copytree(landing.path, own, copy_function=os.link)
                options = ["--landing", str(own), "--format", run.table_format]
                local = [*options, "--engine", run.engine]  # through --remote, the engine is the server's
                cold = [[stedi, "run", "--lake", f"{scratch}/lake-{i}", *local] for i in range(repeat)]
                warm = [[stedi, "run", "--lake", f"{scratch}/remote-{i}", *options] for i in range(repeat)]
                stedi_run = measure_median(cold, environment)
                served: dict[str, dict[str, float] | None] = dict.fromkeys(REMOTE)
                if remote:
                    serve = [stedi, "serve", "--engine", run.engine, "--port", str(free_port())]
                    with local_server(serve, environment, ROOT) as server:
                        through = [[*argv, "--remote", server.address] for argv in warm]
                        served["remote"] = asdict(measure_median(through, environment, server))
                        add_new_file(own)
                        served["remote_incremental"] = asdict(measure_median(through, environment, server))
                else:
                    add_new_file(own)
                incremental = measure_median(cold, environment)
                naive_reference = [python, "-m", "benchmarks.naive", "--lake", f"{scratch}/naive", *local]
                naive = measure_median([naive_reference] * repeat, environment)
            rows.append(
                {
                    "load_average_before": round(load, 2),  # other work on the machine skews the figures
                    "data": landing.name,
                    "lines": lines,
                    "engine": run.engine,
                    "format": run.table_format,
                    "stedi_run": asdict(stedi_run),
                    "incremental": asdict(incremental),
                    **served,
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
            "remote s",
            "MB",
            "+1 remote s",
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
            "-" if row[kind] is None else f"{row[kind][name]:,.{digits}f}"
            for kind in MEASURED
            for name, digits in (("seconds", 1), ("peak_mb", 0))
        ]
        table.add_row(row["data"], f"{row['lines']:,}", f"{row['engine']} ({row['format']})", *figures)
    console.print(table)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", type=float, nargs="+", help="only these scales (default: those of RUNS)")
    parser.add_argument("--engines", nargs="+", help="only these engines (default: those of RUNS)")
    parser.add_argument("--no-real", action="store_true", help="leave out the real data even when it is there")
    parser.add_argument("--no-remote", action="store_true", help="leave out the runs through a warm local server")
    parser.add_argument("--repeat", type=int, default=1, help="runs per measurement; the median time is shown")
    parser.add_argument("--data", type=Path, default=ROOT / "benchmarks" / "data", help="generated landing sets")
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results.json", help="where to write")
    args = parser.parse_args(argv)

    runs = [run for run in RUNS if not args.engines or run.engine in args.engines]
    if args.scales:
        runs = [replace(run, scales=tuple(args.scales)) for run in runs]
    started = datetime.now(UTC)
    load = os.getloadavg()[0]
    sets = landing_sets(runs, args.data, None if args.no_real else real_landing())
    rows = bench(runs, sets, args.repeat, remote=not args.no_remote)
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
        "memory": "MiB: the sum of the kernel's high-water marks of a command's processes (benchmarks/high_water.py)",
        "rows": rows,
    }
    args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
