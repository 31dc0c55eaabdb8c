"""``stedi report``: the data-quality report of a lake, as one HTML page that opens offline.

The report's module (and with it plotly and Jinja2, from the ``local`` extra) is imported only when the command
runs, so the rest of the ``stedi`` command works where only the bare wheel is installed.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, TextIO

from stedi_transforms.cli_lake import UsageError, add_lake_arguments, open_lake

DEFAULT_OUT = "report.html"


def add_commands(commands: Any) -> None:
    parser = commands.add_parser("report", help="write a lake's data-quality report as one HTML page")
    add_lake_arguments(parser)
    parser.add_argument("--out", default=DEFAULT_OUT, help=f"the page to write (default: ./{DEFAULT_OUT})")
    parser.add_argument("--customer", metavar="EMAIL", help="whose readings to draw (default: the first by email)")
    parser.add_argument("--show-pii", action="store_true", help="show names, emails, phones and birthdays unmasked")
    parser.set_defaults(handler=command_report)


def command_report(args: argparse.Namespace, out: TextIO) -> int:
    try:
        from stedi_transforms import report
    except ImportError as error:
        raise UsageError(f"stedi report needs the local extra (plotly and jinja2): {error}") from error

    target = Path(args.out)
    if not target.parent.is_dir():
        raise UsageError(f"cannot write {args.out}: folder {target.parent} does not exist")
    spark, lake, landing = open_lake(args.lake, args.landing, args.format, args.engine, args.remote)
    try:
        page = report.build_report(spark, lake, landing, args.customer, args.show_pii)
    except report.CustomerNotFoundError as error:
        raise UsageError(str(error)) from error
    target.write_text(page, encoding="utf-8")
    unmasked = " with personal data unmasked" if args.show_pii else ""
    print(f"wrote {target} ({len(page.encode()) / 1e6:.1f} MB){unmasked}", file=out)
    return 0
