"""``stedi run``, ``stedi verify`` and ``stedi history``: the commands that build, check and describe a lake."""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from dataclasses import replace
from typing import Any, TextIO

from pyspark.sql import SparkSession
from rich.console import Console
from rich.table import Table as RichTable

from stedi_transforms.engines import DEFAULT_ENGINE, ENGINES, engine_of, get_session, remote_address, require, use_s3
from stedi_transforms.errors import StediError
from stedi_transforms.lake import DEFAULT_FORMAT, FORMATS, OUTPUT_TABLES, Lake, detect_format, local_path
from stedi_transforms.ledger import RunRecord, history, recorded_format
from stedi_transforms.lock import LakeBusyError
from stedi_transforms.options import FORMS
from stedi_transforms.parsing import GIB, KIB, MIB, Limits, size_text
from stedi_transforms.pipeline import JobResult, Settings, check_landing, update
from stedi_transforms.reader import sample_landing
from stedi_transforms.signals import Interrupted
from stedi_transforms.storage import check_s3, is_s3
from stedi_transforms.transforms import Options
from stedi_transforms.verify import Report, verify

DEFAULT_LAKE = "lake"
WATCH_SECONDS = 5.0


class UsageError(StediError):
    """A problem the user can fix; printed as one line, exit code 2."""


def add_commands(commands: Any) -> None:
    run_parser = commands.add_parser("run", help="bring every zone of the lake up to date with the landing files")
    run_parser.add_argument(
        "--landing",
        help="landing root with <entity>/landing/ folders, local or s3:// (default: the lake itself, "
        "or the bundled sample when neither --landing nor --lake is given)",
    )
    run_parser.add_argument("--lake", help=f"lake root to write, local or s3:// (default: ./{DEFAULT_LAKE})")
    run_parser.add_argument("--format", choices=FORMATS, default=DEFAULT_FORMAT, help="table format")
    add_engine_arguments(run_parser)
    run_parser.add_argument(
        "--full-refresh", action="store_true", help="parse every landing file again and rebuild every table"
    )
    run_parser.add_argument(
        "--watch",
        type=float,
        nargs="?",
        const=WATCH_SECONDS,
        metavar="SECONDS",
        help=f"keep running: look at the landing again every SECONDS (default {WATCH_SECONDS:g}) and bring the lake "
        "up to date when it changed, until Ctrl-C or SIGTERM",
    )
    add_option_arguments(run_parser)
    defaults, whole_file = Limits(), "past it, the file is one rejected record naming the limit"
    for flag, limit, what in (
        ("--max-file-size", defaults.file_size, f"the most bytes of a landing file as stored; {whole_file}"),
        ("--max-decompressed-size", defaults.decompressed_size, f"the most bytes a *.gz file expands to; {whole_file}"),
        ("--max-line-length", defaults.line_length, "the most bytes of a landing line; a longer one is rejected"),
    ):
        run_parser.add_argument(
            flag,
            type=size_argument,
            default=limit,
            metavar="SIZE",
            help=f"{what} (default {size_text(limit)}; a number of bytes, or with KiB, MiB, GiB)",
        )
    run_parser.set_defaults(handler=command_run)

    verify_parser = commands.add_parser("verify", help="count every table and run the checks over a lake")
    add_lake_arguments(verify_parser)
    verify_parser.add_argument("--by-file", action="store_true", help="also count lines per landing file")
    verify_parser.add_argument("--json", action="store_true", help="print the report as JSON")
    verify_parser.set_defaults(handler=command_verify)

    history_parser = commands.add_parser("history", help="list the runs that wrote a lake")
    history_parser.add_argument("--lake", default=DEFAULT_LAKE, help=f"lake root (default: ./{DEFAULT_LAKE})")
    history_parser.add_argument("--json", action="store_true", help="print the runs as JSON")
    history_parser.add_argument(
        "--remote",
        metavar="sc://HOST:PORT",
        help="accepted as by the other lake commands; the history is read from the lake's own files, with no engine",
    )
    history_parser.set_defaults(handler=command_history)


_SIZE = re.compile(r"\s*([0-9][0-9_,]*)\s*(b|bytes?|k|kb|kib|m|mb|mib|g|gb|gib)?\s*", re.IGNORECASE)
_UNITS = {"k": KIB, "m": MIB, "g": GIB}


def size_argument(text: str) -> int:
    """A size in bytes as a flag takes it: ``1048576``, ``512KiB``, ``64 MiB``, ``2G`` (the units are binary)."""
    match = _SIZE.fullmatch(text)
    size = int(match.group(1).replace(",", "").replace("_", "")) if match else 0
    if not match or size < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size: a number of bytes above 0, with KiB, MiB or GiB")
    unit = (match.group(2) or "b").lower()[0]
    return size * _UNITS.get(unit, 1)


def _absolute(path: str) -> str:
    """A local path made absolute: the classic engine's JVM does not follow this process's working directory."""
    folder = local_path(path)
    return str(folder.resolve()) if folder is not None else path


def _check_writable(lake_root: str) -> None:
    folder = local_path(lake_root)
    if folder is None:
        return
    probe = folder / f".stedi-write-probe-{time.time_ns()}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe.touch()
        probe.unlink()
    except OSError as error:
        raise UsageError(f"lake {lake_root} is not writable: {error.strerror or error}") from error


def _console(out: TextIO) -> Console:
    return Console(file=out, width=200, no_color=True, highlight=False, soft_wrap=True)


def _progress(result: JobResult) -> None:
    written = ", ".join(result.written) or "nothing to do"
    _console(sys.stderr).print(f"  {result.name:<36} {result.seconds:6.2f} s  {written}")
    for table in result.rules_changed:
        _console(sys.stderr).print(f"  {table}: rule changed, rebuilt")


def add_lake_arguments(parser: argparse.ArgumentParser) -> None:
    """The lake to read, as ``stedi verify`` and ``stedi report`` take it (see :func:`open_lake`)."""
    parser.add_argument("--lake", default=DEFAULT_LAKE, help=f"lake root (default: ./{DEFAULT_LAKE})")
    parser.add_argument("--landing", help="landing root (default: the one the last run read)")
    parser.add_argument("--format", choices=FORMATS, help="table format (default: detected)")
    add_engine_arguments(parser)


def add_engine_arguments(parser: argparse.ArgumentParser) -> None:
    """``--engine`` (the engine a command starts for itself) and ``--remote`` (a Spark Connect engine that runs)."""
    parser.add_argument("--engine", choices=ENGINES, default=DEFAULT_ENGINE, help="local engine to start")
    parser.add_argument(
        "--remote",
        metavar="sc://HOST:PORT",
        help="use this Spark Connect engine instead of starting one (default: $SPARK_REMOTE, if set): a `stedi serve`, "
        "a Sail cluster, any Spark 4.1 Connect server",
    )


def add_option_arguments(parser: argparse.ArgumentParser) -> None:
    """The ML table's options, the same for ``stedi run`` and ``stedi glue deploy``."""
    for form in FORMS:
        if form.choices:
            parser.add_argument(form.flag, choices=form.choices, default=form.default, help=form.help)
        else:
            parser.add_argument(form.flag, action="store_true", help=form.help)


def options_of(args: argparse.Namespace) -> Options:
    return Options(**{form.name: getattr(args, form.name) for form in FORMS})


def command_run(args: argparse.Namespace, out: TextIO) -> int:
    if args.watch is not None and not args.watch > 0:
        raise UsageError(f"--watch takes a number of seconds above 0, not {args.watch:g}")
    lake_root = _absolute(args.lake or DEFAULT_LAKE)
    landing = _absolute(args.landing or args.lake or str(sample_landing()))
    remote = remote_address(args.remote)
    if remote is None:
        require(args.engine, delta=args.format == "delta", s3=is_s3(lake_root) or is_s3(landing))
    s3 = check_s3(landing, lake_root)
    check_landing(landing)
    _check_writable(lake_root)

    started = time.perf_counter()
    lake = Lake(lake_root, args.format)
    spark = get_session(args.engine, remote)
    engine = engine_of(spark)
    on = f"{engine} at {remote.split(';')[0]}" if remote else engine
    _console(sys.stderr).print(f"stedi run: {landing} → {lake_root} ({args.format}, {on})")
    if is_s3(lake_root) or is_s3(landing):
        use_s3(spark, s3)
    limits = Limits(args.max_file_size, args.max_decompressed_size, args.max_line_length)
    settings = Settings(args.full_refresh, options=options_of(args), limits=limits)
    if args.watch is not None:
        return _watch(spark, landing, lake, engine, settings, args.watch, out)
    record = update(spark, landing, lake, engine, settings, on_job_done=_progress)
    _print_run(record, started, out)
    return 0


def _print_run(record: RunRecord, started: float, out: TextIO) -> None:
    console = _console(out)
    _print_files(record, console)
    _print_counts(record.rows, console)
    console.print(f"done in {time.perf_counter() - started:.2f} s")


def _watch(
    spark: SparkSession, landing: str, lake: Lake, engine: str, settings: Settings, seconds: float, out: TextIO
) -> int:
    """``stedi run --watch``: one session, a run every ``seconds`` until SIGINT or SIGTERM: between runs it ends
    there (exit 0); during one, it interrupts the run as it would any other. A run that finds nothing new prints
    nothing and leaves no record in the history; a lake held by another run is tried again at the next turn."""
    first = True
    while True:
        started = time.perf_counter()
        done: list[JobResult] = []  # a later run's progress is shown only if it had something to do
        try:
            record = update(spark, landing, lake, engine, settings, _progress if first else done.append, first)
        except LakeBusyError as error:
            _console(sys.stderr).print(f"stedi run: {error}; trying again in {seconds:g} s")
        else:
            if done and record.rows_written:
                _console(sys.stderr).print(f"{time.strftime('%H:%M:%S')} the landing changed")
                for result in done:
                    _progress(result)
            if first or record.rows_written:
                _print_run(record, started, out)
                out.flush()
            if first:
                _console(sys.stderr).print(f"watching {landing} every {seconds:g} s (Ctrl-C stops)")
            first, settings = False, replace(settings, full_refresh=False)
        try:
            time.sleep(seconds)
        except Interrupted:
            _console(sys.stderr).print("stedi run: stopped watching")
            return 0


def _print_files(record: RunRecord, console: Console) -> None:
    table = RichTable("source", "new", "changed", "removed", "unchanged", "lines parsed", box=None, pad_edge=False)
    for column in table.columns[1:]:
        column.justify = "right"
    for name, files in record.files.items():
        table.add_row(
            name,
            *[f"{files[kind]:,}" for kind in ("new", "changed", "removed", "unchanged")],
            f"{record.lines_ingested.get(name, 0):,}",
        )
    console.print(table)


def _print_counts(counts: dict[str, int], console: Console) -> None:
    table = RichTable("zone", "table", "rows", box=None, pad_edge=False)
    table.columns[2].justify = "right"
    for name, rows in counts.items():
        table.add_row(name.rsplit("_", 1)[1], name, f"{rows:,}")
    console.print(table)


def _last_landing(lake: Lake) -> str | None:
    runs = [record for record in history(lake.store) if record.landing]
    return runs[-1].landing if runs else None


def open_lake(
    lake_arg: str, landing_arg: str | None, table_format: str | None, engine: str, remote: str | None = None
) -> tuple[SparkSession, Lake, str | None]:
    """The session (``engine``'s, or that of the Spark Connect engine at ``remote``), the lake (its format detected
    unless given) and the landing (by default the one the last run read) of a command that reads an existing lake:
    ``stedi verify``, ``stedi report``."""
    lake_root = _absolute(lake_arg)
    folder = local_path(lake_root)
    if folder is not None and not folder.is_dir():
        raise UsageError(f"lake {lake_arg} does not exist; build it with `stedi run --lake {lake_arg}`")
    check_s3(lake_root)
    lake = Lake(lake_root, table_format or _detected_format(lake_root))
    landing = _absolute(landing_arg) if landing_arg else _last_landing(lake)
    s3 = is_s3(lake_root) or bool(landing and is_s3(landing))
    remote = remote_address(remote)
    if remote is None:
        require(engine, delta=lake.table_format == "delta", s3=s3)
    settings = check_s3(lake_root, *([landing] if landing else []))
    spark = get_session(engine, remote)
    if s3:
        use_s3(spark, settings)
    return spark, lake, landing


def command_verify(args: argparse.Namespace, out: TextIO) -> int:
    spark, lake, landing = open_lake(args.lake, args.landing, args.format, args.engine, args.remote)
    report = verify(spark, lake, landing, by_file=args.by_file)
    if args.json:
        print(json.dumps(report.as_json(), indent=2), file=out)
    else:
        _print_report(report, _console(out))
    return 0 if report.passed else 1


def _detected_format(lake_root: str) -> str:
    """The format the lake's last run wrote, else what the tables' files say."""
    recorded = recorded_format(Lake(lake_root).store)
    if recorded:
        return recorded
    lake = Lake(lake_root)
    for table in OUTPUT_TABLES:
        detected = detect_format(lake.path(table))
        if detected:
            return detected
    raise UsageError(f"no tables found in lake {lake_root}; build it with `stedi run --lake {lake_root}`")


def _print_report(report: Report, console: Console) -> None:
    _print_counts(report.counts, console)
    for name, value in report.info.items():
        console.print(f"info  {name}: {value:,}")
    for check in report.checks:
        console.print(
            f"PASS  {check.name}" if check.passed else f"FAIL  {check.name} ({check.violations:,} violations)"
        )
    for name, results in report.rules.items():
        for result in results:
            reason = f" ({result.failure_reason})".replace("\n", "; ") if not result.passed else ""
            console.print(f"{'PASS' if result.passed else 'FAIL'}  {name}: {result.rule}{reason}")
    if report.files:
        table = RichTable("file", "lines", "accepted", "rejected", box=None, pad_edge=False)
        for entry in report.files:
            table.add_row(entry.file, f"{entry.lines:,}", f"{entry.accepted:,}", f"{entry.rejected:,}")
        console.print(table)


def command_history(args: argparse.Namespace, out: TextIO) -> int:
    lake = Lake(_absolute(args.lake))
    records = history(lake.store)
    if args.json:
        print(json.dumps([record.as_json() for record in records], indent=2), file=out)
        return 0
    table = RichTable(
        "started",
        "job",
        "engine",
        "format",
        "new",
        "changed",
        "removed",
        "lines parsed",
        "tables written",
        "seconds",
        box=None,
        pad_edge=False,
    )
    for column in table.columns[4:]:
        column.justify = "right"
    for record in records:
        files = {kind: sum(counts[kind] for counts in record.files.values()) for kind in ("new", "changed", "removed")}
        table.add_row(
            record.started[:19].replace("T", " "),
            record.job,
            record.engine,
            record.table_format,
            *[f"{files[kind]:,}" for kind in ("new", "changed", "removed")],
            f"{sum(record.lines_ingested.values()):,}",
            f"{len(record.rows_written):,}",
            f"{record.seconds:.2f}",
        )
    _console(out).print(table)
    return 0
