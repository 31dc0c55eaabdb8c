"""``stedi sql`` and ``stedi glue``: the Athena SQL and the Glue jobs, deployed, run and torn down with boto3."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, TextIO

from stedi_transforms.cli_lake import UsageError, add_option_arguments, options_of
from stedi_transforms.deploy import GLUE_VERSIONS, GlueSettings, deploy, plan, run_jobs, teardown
from stedi_transforms.glue import DQ_ACTIONS, GLUE_FORMATS
from stedi_transforms.queries import DEFAULT_DATABASE, render, sql_files
from stedi_transforms.transforms import Options


def add_commands(commands: Any) -> None:
    sql_parser = commands.add_parser("sql", help="print a packaged SQL file (Athena DDL, validation queries)")
    sql_parser.add_argument("name", nargs="?", help="the file, e.g. customer_landing.sql (default: list them)")
    sql_parser.add_argument("--bucket", default="${bucket}", help="the S3 bucket of the lake")
    sql_parser.add_argument("--database", default=DEFAULT_DATABASE, help="the Glue database")
    sql_parser.set_defaults(handler=command_sql)

    glue_parser = commands.add_parser("glue", help="deploy, run and tear down the Glue jobs (boto3)")
    glue_parser.set_defaults(handler=command_glue)
    glue_commands = glue_parser.add_subparsers(dest="glue_command", required=True)
    for name, text in (
        ("deploy", "upload the wheel and scripts; create the database, landing tables and jobs"),
        ("run", "start the five jobs in order, waiting for each; stop at the first failure"),
        ("teardown", "remove what this deployment created (zone outputs only with --outputs)"),
    ):
        command = glue_commands.add_parser(name, help=text)
        command.add_argument("--bucket", required=True, help="the S3 bucket of the lake")
        command.add_argument(
            "--name", default="", help="the deployment's name, which its jobs carry (default: the bucket)"
        )
        command.add_argument("--database", default=DEFAULT_DATABASE, help="the Glue database")
        if name == "deploy":
            command.add_argument("--role", required=True, help="the IAM role ARN the jobs run as")
            command.add_argument("--glue-version", choices=GLUE_VERSIONS, default=GLUE_VERSIONS[0])
            command.add_argument("--format", choices=GLUE_FORMATS, default="json", help="the jobs' table format")
            add_option_arguments(command)
            command.add_argument(
                "--dq-action",
                choices=DQ_ACTIONS,
                default=DQ_ACTIONS[0],
                help="when a table fails its Data Quality ruleset: say so in the job's log, or fail the job",
            )
            command.add_argument("--wheel", help="the wheel to ship (default: the newest in dist/, `make wheel`)")
            command.add_argument("--dry-run", action="store_true", help="print the plan, touch nothing")
        if name == "teardown":
            command.add_argument("--outputs", action="store_true", help="also delete rejected/trusted/curated data")
            command.add_argument("--dry-run", action="store_true", help="print what would be removed, touch nothing")


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
    try:
        settings = GlueSettings(
            bucket=args.bucket,
            role=getattr(args, "role", ""),
            database=args.database,
            glue_version=getattr(args, "glue_version", GLUE_VERSIONS[0]),
            table_format=getattr(args, "format", "json"),
            options=options_of(args) if args.glue_command == "deploy" else Options(),
            name=args.name,
            dq_action=getattr(args, "dq_action", DQ_ACTIONS[0]),
        )
    except ValueError as error:
        raise UsageError(str(error)) from error
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
        width = max(map(len, settings.job_names())) + 2
        run_jobs(
            glue_client, settings, on_state=lambda job, state: print(f"{job:<{width}}{state}", file=out, flush=True)
        )
    else:
        print("\n".join(teardown(settings, s3, glue_client, args.outputs, args.dry_run)), file=out)
    return 0
