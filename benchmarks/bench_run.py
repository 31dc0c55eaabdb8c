"""Time `stedi run` on the real STEDI landing data, whole process, per engine.

    .venv/bin/python benchmarks/bench_run.py [--landing DIR] [--repeat N]

The landing root defaults to $STEDI_LANDING, else ../shared/stedi-landing beside the project. Budgets (2 cores):
Sail with Delta under 4 s, classic Spark with Parquet under 25 s, wall time of the whole `stedi run` process.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BUDGETS = {("sail", "delta"): 4.0, ("spark", "parquet"): 25.0}


def timed_run(stedi: Path, landing: str, engine: str, table_format: str) -> float:
    with tempfile.TemporaryDirectory() as lake:
        started = time.perf_counter()
        subprocess.run(
            [str(stedi), "run", "--landing", landing, "--lake", lake, "--engine", engine, "--format", table_format],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return time.perf_counter() - started


def main() -> int:
    root = Path(__file__).resolve().parent.parent
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--landing", default=os.environ.get("STEDI_LANDING", str(root.parent / "shared" / "stedi-landing"))
    )
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    stedi = Path(sys.executable).with_name("stedi")

    within_budget = True
    print(f"{'engine':<8}{'format':<9}{'median s':>10}{'best s':>9}{'budget s':>10}")
    for (engine, table_format), budget in BUDGETS.items():
        runs = [timed_run(stedi, args.landing, engine, table_format) for _ in range(args.repeat)]
        median = statistics.median(runs)
        within_budget &= median < budget
        print(f"{engine:<8}{table_format:<9}{median:>10.2f}{min(runs):>9.2f}{budget:>10.1f}")
    print("within budget" if within_budget else "OVER BUDGET")
    return 0 if within_budget else 1


if __name__ == "__main__":
    sys.exit(main())
