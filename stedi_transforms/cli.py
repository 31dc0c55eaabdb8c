"""The ``stedi`` command: ``stedi run`` builds the lake from landing files, ``stedi verify`` checks it.

A thin shell over :mod:`stedi_transforms.pipeline` and :mod:`stedi_transforms.verify` (and the generator, the SQL
files and the Glue deployment). Problems a user can fix (a missing landing folder, an unwritable lake, an engine that
cannot write the format, a bad argument to ``stedi generate``) print one line and exit 2.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import TextIO

from stedi_transforms.deploy import GLUE_VERSIONS, DeployError, GlueSettings, deploy, plan, run_jobs, teardown
from stedi_transforms.engines import DEFAULT_ENGINE, ENGINES, EngineError, check_delta_writable, get_session
from stedi_transforms.generate import LAYOUTS, GenerateError, Plan, file_count, generate
from stedi_transforms.glue import GLUE_FORMATS
from stedi_transforms.lake import DEFAULT_FORMAT, FORMATS, OUTPUT_TABLES, Lake, detect_format, local_path
from stedi_transforms.pipeline import JobTiming, LandingError, check_landing, run
from stedi_transforms.queries import DEFAULT_DATABASE, render, sql_files
from stedi_transforms.verify import Report, count_tables, verify

DEFAULT_LAKE = "lake"
MANIFEST = "_stedi_run.json"
"""Written into the lake by ``stedi run``: where its landing data came from, so ``stedi verify`` can count it."""


class UsageError(Exception):
    """A problem the user can fix; printed as one line, exit code 2."""


def sample_landing() -> Path:
    """The bundled sample landing data: inside an installed wheel, or ``fixtures/`` of a source checkout."""
    packaged = resources.files("stedi_transforms") / "sample"
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parent.parent / "fixtures"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stedi", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    run_parser = commands.add_parser("run", help="build every zone of the lake from the landing files")
    run_parser.add_argument(
        "--landing",
        help="landing root with */landing/*.json (default: the lake itself, "
        "or the bundled sample when neither --landing nor --lake is given)",
    )
    run_parser.add_argument("--lake", help=f"lake root to write (default: ./{DEFAULT_LAKE})")
    run_parser.add_argument("--format", choices=FORMATS, default=DEFAULT_FORMAT, help="table format")
    run_parser.add_argument("--engine", choices=ENGINES, default=DEFAULT_ENGINE, help="local engine")

    verify_parser = commands.add_parser("verify", help="count every table and run the checks over a lake")
    verify_parser.add_argument("--lake", default=DEFAULT_LAKE, help=f"lake root (default: ./{DEFAULT_LAKE})")
    verify_parser.add_argument("--landing", help="landing root (default: the one `stedi run` recorded)")
    verify_parser.add_argument("--format", choices=FORMATS, help="table format (default: detected)")
    verify_parser.add_argument("--engine", choices=ENGINES, default=DEFAULT_ENGINE, help="local engine")
    verify_parser.add_argument("--json", action="store_true", help="print the report as JSON")

    generate_parser = commands.add_parser("generate", help="write STEDI-shaped landing data at any scale")
    generate_parser.add_argument("--out", required=True, help="the landing root to write (<entity>/landing/...)")
    generate_parser.add_argument("--scale", type=float, default=1.0, help="1 is about the real data's volumes")
    generate_parser.add_argument("--seed", type=int, default=0, help="the same seed gives the same bytes")
    generate_parser.add_argument("--bad-fraction", type=float, default=0.0, help="share of bad lines mixed in")
    generate_parser.add_argument("--gzip", action="store_true", help="write *.gz files")
    generate_parser.add_argument("--layout", choices=LAYOUTS, default=LAYOUTS[0], help="flat, or as Firehose delivers")
    generate_parser.add_argument(
        "--workers", type=int, help="processes writing files (default: one per core, for a big plan)"
    )

    sql_parser = commands.add_parser("sql", help="print a packaged SQL file (Athena DDL, validation queries)")
    sql_parser.add_argument("name", nargs="?", help="the file, e.g. customer_landing.sql (default: list them)")
    sql_parser.add_argument("--bucket", default="${bucket}", help="the S3 bucket of the lake")
    sql_parser.add_argument("--database", default=DEFAULT_DATABASE, help="the Glue database")

    glue_parser = commands.add_parser("glue", help="deploy, run and tear down the Glue jobs (boto3)")
    glue_commands = glue_parser.add_subparsers(dest="glue_command", required=True)
    for name, text in (
        ("deploy", "upload the wheel and scripts; create the database, landing tables and jobs"),
        ("run", "start the five jobs in order, waiting for each; stop at the first failure"),
        ("teardown", "remove what deploy created (zone outputs only with --outputs)"),
    ):
        command = glue_commands.add_parser(name, help=text)
        command.add_argument("--bucket", required=True, help="the S3 bucket of the lake")
        command.add_argument("--database", default=DEFAULT_DATABASE, help="the Glue database")
        if name == "deploy":
            command.add_argument("--role", required=True, help="the IAM role ARN the jobs run as")
            command.add_argument("--glue-version", choices=GLUE_VERSIONS, default=GLUE_VERSIONS[0])
            command.add_argument("--format", choices=GLUE_FORMATS, default="json", help="the jobs' table format")
            command.add_argument("--wheel", help="the wheel to ship (default: the newest in dist/, `make wheel`)")
            command.add_argument("--dry-run", action="store_true", help="print the plan, touch nothing")
        if name == "teardown":
            command.add_argument("--outputs", action="store_true", help="also delete rejected/trusted/curated data")
    return parser


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


def _progress(timing: JobTiming) -> None:
    print(f"  {timing.name:<36} {timing.seconds:6.2f} s", file=sys.stderr, flush=True)


def _print_counts(counts: dict[str, int], out: TextIO) -> None:
    print(f"{'zone':<10}{'table':<28}{'rows':>10}", file=out)
    for name, rows in counts.items():
        print(f"{name.rsplit('_', 1)[1]:<10}{name:<28}{rows:>10,}", file=out)


def command_run(args: argparse.Namespace, out: TextIO) -> int:
    lake_root = _absolute(args.lake or DEFAULT_LAKE)
    landing = _absolute(args.landing or args.lake or str(sample_landing()))
    check_landing(landing)
    if args.format == "delta":
        check_delta_writable(args.engine)
    _check_writable(lake_root)

    started = time.perf_counter()
    print(f"stedi run: {landing} → {lake_root} ({args.format}, {args.engine})", file=sys.stderr, flush=True)
    spark = get_session(args.engine)
    lake = Lake(lake_root, args.format)
    run(spark, landing, lake, on_job_done=_progress)
    _write_manifest(lake_root, landing, args)
    _print_counts(count_tables(spark, landing, lake), out)
    print(f"done in {time.perf_counter() - started:.2f} s", file=out)
    return 0


def _write_manifest(lake_root: str, landing: str, args: argparse.Namespace) -> None:
    folder = local_path(lake_root)
    if folder is None:
        return
    manifest = {
        "landing": landing,
        "format": args.format,
        "engine": args.engine,
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


def recorded_landing(lake_root: str) -> str | None:
    """The landing root the last ``stedi run`` into this lake read, if it recorded one."""
    folder = local_path(lake_root)
    manifest = folder / MANIFEST if folder else None
    if manifest is None or not manifest.is_file():
        return None
    landing: str = json.loads(manifest.read_text(encoding="utf-8"))["landing"]
    return landing


def command_verify(args: argparse.Namespace, out: TextIO) -> int:
    lake_root = _absolute(args.lake)
    folder = local_path(lake_root)
    if folder is not None and not folder.is_dir():
        raise UsageError(f"lake {args.lake} does not exist; build it with `stedi run --lake {args.lake}`")
    landing = _absolute(args.landing or recorded_landing(lake_root) or lake_root)
    check_landing(landing)
    table_format = args.format or _detected_format(lake_root)
    if table_format == "delta":
        check_delta_writable(args.engine)

    report = verify(get_session(args.engine), landing, Lake(lake_root, table_format))
    if args.json:
        print(json.dumps(report.as_json(), indent=2), file=out)
    else:
        _print_report(report, out)
    return 0 if report.passed else 1


def _detected_format(lake_root: str) -> str:
    lake = Lake(lake_root)
    for table in OUTPUT_TABLES:
        detected = detect_format(lake.path(table))
        if detected:
            return detected
    raise UsageError(f"no tables found in lake {lake_root}; build it with `stedi run --lake {lake_root}`")


def _print_report(report: Report, out: TextIO) -> None:
    _print_counts(report.counts, out)
    for name, value in report.info.items():
        print(f"info  {name}: {value:,}", file=out)
    for check in report.checks:
        verdict = f"PASS  {check.name}" if check.passed else f"FAIL  {check.name} ({check.violations:,} violations)"
        print(verdict, file=out)


def command_generate(args: argparse.Namespace, out: TextIO) -> int:
    try:
        plan = Plan(args.scale, args.seed, args.bad_fraction, args.gzip, args.layout)
    except ValueError as error:
        raise UsageError(str(error)) from error
    # Imported here: rich comes with the local extra, and this module is also imported where only the wheel is.
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Column, Table

    started = time.perf_counter()
    with Progress(console=Console(stderr=True), transient=True) as progress:
        files = progress.add_task(f"stedi generate: scale {plan.scale:g} → {args.out}", total=file_count(plan))
        written = generate(Path(args.out), plan, args.workers, on_file=lambda _: progress.advance(files))
    figures = [Column(name, justify="right") for name in ("files", "records", "bad lines", "MB")]
    table = Table("entity", *figures, box=None, pad_edge=False)
    for name, counts in written.items():
        bad = sum(counts.bad_lines.values())
        table.add_row(name, f"{counts.files:,}", f"{counts.records:,}", f"{bad:,}", f"{counts.bytes / 1e6:,.1f}")
    Console(file=out, width=100).print(table)
    print(f"done in {time.perf_counter() - started:.2f} s", file=out)
    return 0


def command_sql(args: argparse.Namespace, out: TextIO) -> int:
    if args.name is None:
        print("\n".join(sql_files()), file=out)
        return 0
    try:
        print(render(args.name, args.bucket, args.database), end="", file=out)
    except ValueError as error:
        raise UsageError(str(error)) from error
    return 0


def _newest_wheel() -> Path:
    wheels = sorted(Path("dist").glob("stedi_transforms-*.whl"), key=lambda path: path.stat().st_mtime)
    if not wheels:
        raise UsageError("no wheel in dist/: build one with `make wheel`, or name it with --wheel")
    return wheels[-1]


def command_glue(args: argparse.Namespace, out: TextIO) -> int:
    settings = GlueSettings(
        bucket=args.bucket,
        role=getattr(args, "role", ""),
        database=args.database,
        glue_version=getattr(args, "glue_version", GLUE_VERSIONS[0]),
        table_format=getattr(args, "format", "json"),
    )
    if args.glue_command == "deploy":
        wheel = Path(args.wheel) if args.wheel else _newest_wheel()
        if not wheel.is_file():
            raise UsageError(f"wheel {wheel} does not exist")
        if args.dry_run:
            print("\n".join(plan(settings, wheel).lines(settings.bucket)), file=out)
            return 0
    import boto3

    s3, glue_client = boto3.client("s3"), boto3.client("glue")
    if args.glue_command == "deploy":
        print("\n".join(deploy(settings, wheel, s3, glue_client).lines(settings.bucket)), file=out)
    elif args.glue_command == "run":
        run_jobs(glue_client, on_state=lambda job, state: print(f"{job:<36}{state}", file=out, flush=True))
    else:
        print("\n".join(f"removed {item}" for item in teardown(settings, s3, glue_client, args.outputs)), file=out)
    return 0


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run the ``stedi`` command; returns the exit code."""
    args = _parser().parse_args(argv)
    commands = {
        "run": command_run,
        "verify": command_verify,
        "generate": command_generate,
        "sql": command_sql,
        "glue": command_glue,
    }
    try:
        return commands[args.command](args, out or sys.stdout)
    except (UsageError, LandingError, EngineError, DeployError, GenerateError) as error:
        print(f"stedi: error: {error}", file=sys.stderr)
        return 2


def entry_point() -> None:
    sys.exit(main())
