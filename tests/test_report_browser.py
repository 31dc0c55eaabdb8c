"""``stedi report`` opened in a real headless browser (Debian's ``chromium``; the test set-up installs it, and the
tests skip without it): the page loads offline without a console message, shows every table's count, draws every
chart, and shows landing values holding markup or script as text."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from stedi_transforms.cli import main
from tests.conftest import only_on
from tests.landing_sets import write_files

# A browser's processes for each page: in make test-integration; make test checks the page's markup and data.
pytestmark = pytest.mark.integration

CHARTS = ("chart-funnel", "chart-rejections", "chart-customer", "chart-ml-join")

PWN = "document.body.dataset.pwned = 'yes'"
"""What the injected scripts would do if they ran: mark the page's body (and the dumped DOM with it)."""

INJECTED_CUSTOMERS = "\n".join(
    [
        # accepted and trusted (consent, no readings): its name and email are drawn with --customer
        json.dumps(
            {
                "customerName": f'<b>Mallory</b><img src=x onerror="{PWN}">',
                "email": "mallory@evil.test",
                "phone": "5550199",
                "birthDay": "1990-01-01",
                "serialNumber": "dev-mallory",
                "registrationDate": 1_600_000_000_000,
                "lastUpdateDate": 1_600_000_000_000,
                "shareWithResearchAsOfDate": 1_600_000_000_000,
            }
        ),
        # rejected: malformed JSON, not an object
        f"</script><script>{PWN}</script>",
        '{"customerName":"<i>Eve</i>","email":"eve@evil.test"',
        '["<script>alert(1)</script>"]',
    ]
)


@dataclass(frozen=True)
class Opened:
    dom: str
    console: list[str]


def open_in_chromium(page: Path) -> Opened:
    """The page's DOM after its scripts ran, and every message its console printed."""
    browser = shutil.which("chromium")
    if browser is None:
        pytest.skip("chromium is not installed (apt-get install chromium): the report is not opened in a browser")
    command = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=10000",
        "--dump-dom",
        page.resolve().as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
    return Opened(done.stdout, [line for line in done.stderr.splitlines() if ":CONSOLE" in line])


def stedi(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(argv), out=out)
    return code, out.getvalue()


def shown_counts(dom: str) -> dict[str, str]:
    """Each table's count as the page's table of counts shows it."""
    cells = re.findall(r'<tr id="count-(\w+)"><td>\w+</td><td>\w+</td><td class="num">([\d,]+)</td></tr>', dom)
    return dict(cells)


def drawn_charts(dom: str) -> list[str]:
    """The ids of the chart places that plotly drew into (each holds its SVG)."""
    return re.findall(r'<div id="(chart-[\w-]+)" class="chart[^"]*js-plotly-plot"[^>]*><div class="plot-container', dom)


def landing_with_injected_customers(landing: Path, tmp_path: Path) -> str:
    """``landing`` as it is and one more customer file of injected lines, in the test's folder. Its files are copies:
    a symbolic link is not landing data, and a hard link changes the file's ctime, which is part of its version, so
    a test reading the real landing beside this one would see every file changed."""
    root = tmp_path / "landing"
    for source in ("customer", "accelerometer", "step_trainer"):
        target = root / source / "landing"
        target.mkdir(parents=True)
        for file in sorted((landing / source / "landing").iterdir()):
            shutil.copyfile(file, target / file.name)
    write_files(root, {"customer/landing/injected.json": INJECTED_CUSTOMERS.encode()})
    return str(root)


REAL_COUNTS_WITH_INJECTED_LINES = {
    "customer_landing": "960",
    "accelerometer_landing": "81,273",
    "step_trainer_landing": "28,680",
    "customer_rejected": "3",
    "accelerometer_rejected": "0",
    "step_trainer_rejected": "0",
    "customer_trusted": "483",
    "accelerometer_trusted": "40,981",
    "step_trainer_trusted": "14,460",
    "customer_curated": "482",
    "machine_learning_curated": "43,681",
}
"""The real data's counts (its SOURCE.md) with the four injected lines: one more trusted customer, three rejected."""


def assert_nothing_injected_ran(opened: Opened) -> None:
    assert opened.console == []
    assert "data-pwned" not in opened.dom
    assert len(re.findall(r"<script\b", opened.dom)) == 2  # plotly.js and the charts', no other


@pytest.mark.real_data
@only_on("sail")
def test_the_report_on_the_real_data_opens_in_chromium_with_every_count_and_chart(
    spark: SparkSession, engine: str, real_landing: str, tmp_path: Path
) -> None:
    landing, lake, page = (
        landing_with_injected_customers(Path(real_landing), tmp_path),
        tmp_path / "lake",
        tmp_path / "r.html",
    )
    assert stedi("run", "--landing", landing, "--lake", str(lake), "--engine", engine)[0] == 0
    assert stedi("report", "--lake", str(lake), "--out", str(page), "--engine", engine)[0] == 0
    opened = open_in_chromium(page)

    assert_nothing_injected_ran(opened)
    assert shown_counts(opened.dom) == REAL_COUNTS_WITH_INJECTED_LINES
    assert drawn_charts(opened.dom) == list(CHARTS)
    assert "&lt;/script&gt;&lt;script&gt;document.body.dataset.pwned = 'yes'&lt;/script&gt;" in opened.dom
    assert '["&lt;script&gt;alert(1)&lt;/script&gt;"]' in opened.dom
    assert '{"customerName":"&lt;*****","email":"ev*****@evil.test"' in opened.dom
    real_emails = {
        json.loads(line)["email"]
        for file in (Path(real_landing) / "customer" / "landing").iterdir()
        for line in file.read_text().splitlines()
        if line.strip()
    }
    html = page.read_text()
    assert len(real_emails) > 900
    assert [email for email in (*real_emails, "mallory@evil.test", "eve@evil.test") if email in html] == []
    figures = r'<td class="num">([\d,]+)</td><td class="num">([\d,]+)</td>'
    ml_rows = re.findall(rf'<tr id="ml-([\w-]+)"><td>\w+</td><td>\w+</td>{figures}', opened.dom)
    assert ml_rows == [
        ("timestamp-all", "43,681", "2,700"),
        ("owner-all", "40,981", "0"),
        ("timestamp-cutoff", "34,253", "2,228"),
        ("owner-cutoff", "32,025", "0"),
    ]


@only_on("sail")
def test_markup_and_script_in_landing_values_stay_text_even_unmasked(
    spark: SparkSession, engine: str, fixtures_landing: str, tmp_path: Path
) -> None:
    landing, lake, page = (
        landing_with_injected_customers(Path(fixtures_landing), tmp_path),
        tmp_path / "lake",
        tmp_path / "r.html",
    )
    assert stedi("run", "--landing", landing, "--lake", str(lake), "--engine", engine, "--format", "parquet")[0] == 0
    argv = ["report", "--lake", str(lake), "--out", str(page), "--show-pii", "--customer", "mallory@evil.test"]
    assert stedi(*argv)[0] == 0
    opened = open_in_chromium(page)

    assert_nothing_injected_ran(opened)
    name = "&lt;b&gt;Mallory&lt;/b&gt;&lt;img src=x onerror=\"document.body.dataset.pwned = 'yes'\"&gt;"
    assert f"<tr><th>name</th><td>{name}</td></tr>" in opened.dom
    assert f"Readings of {name} (mallory@evil.test)" in opened.dom  # the chart's title, drawn by plotly as text
    assert "&lt;/script&gt;&lt;script&gt;document.body.dataset.pwned = 'yes'&lt;/script&gt;" in opened.dom
    assert drawn_charts(opened.dom) == list(CHARTS)
