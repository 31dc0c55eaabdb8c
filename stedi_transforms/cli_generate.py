"""``stedi generate``: STEDI-shaped landing data at any scale (see :mod:`stedi_transforms.generate`)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from rich.console import Console
from rich.progress import Progress
from rich.table import Column, Table

from stedi_transforms.cli_lake import UsageError
from stedi_transforms.generate import LAYOUTS, Plan, file_count, generate


def add_commands(commands: Any) -> None:
    parser = commands.add_parser("generate", help="write STEDI-shaped landing data at any scale")
    parser.add_argument("--out", required=True, help="the landing root to write (<entity>/landing/...)")
    parser.add_argument("--scale", type=float, default=1.0, help="1 is about the real data's volumes")
    parser.add_argument("--seed", type=int, default=0, help="the same seed gives the same bytes")
    parser.add_argument("--bad-fraction", type=float, default=0.0, help="share of bad lines mixed in")
    parser.add_argument("--gzip", action="store_true", help="write *.gz files")
    parser.add_argument("--layout", choices=LAYOUTS, default=LAYOUTS[0], help="flat, or as Firehose delivers")
    parser.add_argument("--workers", type=int, help="processes writing files (default: one per core, for a big plan)")
    parser.set_defaults(handler=command_generate)


def command_generate(args: argparse.Namespace, out: TextIO) -> int:
    try:
        plan = Plan(args.scale, args.seed, args.bad_fraction, args.gzip, args.layout)
    except ValueError as error:
        raise UsageError(str(error)) from error
    started = time.perf_counter()
    with Progress(console=Console(file=sys.stderr), transient=True) as progress:
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
