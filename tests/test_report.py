"""The report: its masking, its data gathered from the fixture lake on both engines, and its page (escaping and
masking). The page in a real browser is tested in ``test_report_browser``."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import plotly.graph_objects as go
import pytest
from markupsafe import escape
from pyspark.sql import SparkSession

from stedi_transforms.cli import main
from stedi_transforms.dq.evaluate import RuleResult
from stedi_transforms.lake import Lake
from stedi_transforms.pipeline import update
from stedi_transforms.report import (
    CustomerNotFoundError,
    CustomerReadings,
    Funnel,
    MlJoinCount,
    RejectedLine,
    Rejections,
    ReportData,
    _figures_json,
    customer_readings,
    mask_birthday,
    mask_email,
    mask_name,
    mask_phone,
    mask_text,
    masked,
    ml_join_counts,
    rejected_samples,
    rejections,
    render,
    zone_funnels,
)
from stedi_transforms.verify import Check
from tests.conftest import only_on
from tests.fixture_tables import ACCELEROMETER_FILES, CUSTOMER_FILE, EXPECTED, EXPECTED_COUNTS, STEP_TRAINER_FILE, T

ROOT = Path(__file__).resolve().parent.parent

# masking


@pytest.mark.parametrize(
    ("email", "expected"),
    [
        ("Santosh.Clayton@test.com", "Sa*****@test.com"),
        ("ada@stedi.test", "ad*****@stedi.test"),
        ("a@b.c", "a*****@b.c"),
        ("no-at-sign", "no*****"),
    ],
)
def test_an_email_keeps_two_characters_and_its_domain(email: str, expected: str) -> None:
    assert mask_email(email) == expected


def test_names_phones_and_birthdays_are_masked() -> None:
    assert [mask_name("Santosh Clayton"), mask_name("Ada"), mask_name("")] == ["S***** C*****", "A*****", ""]
    assert [mask_phone("8015551212"), mask_phone("801-555-1212"), mask_phone("7")] == [
        "********12",
        "***-***-**12",
        "7",
    ]
    assert mask_birthday("1399-01-01") == "****-**-**"


def test_the_same_value_is_masked_the_same_way_wherever_it_appears() -> None:
    line = '{"customerName":"Ada Lovelace","email":"ada@stedi.test","phone":"5550100","birthDay":"1990-12-10"}'
    assert mask_text(line) == (
        '{"customerName":"A***** L*****","email":"ad*****@stedi.test","phone":"*****00","birthDay":"****-**-**"}'
    )
    assert mask_text(line) == mask_text(line)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        # malformed JSON still has its fields masked, spaces and all
        (
            '{"customerName": "Broken Record", "email": "broken@stedi.test"',
            '{"customerName": "B***** R*****", "email": "br*****@stedi.test"',
        ),
        # a phone written as a number, an escaped quote inside a name
        (
            '{"phone":8015551212,"customerName":"Al \\"Bo\\" Cy"}',
            '{"phone":********12,"customerName":"A***** \\***** C*****"}',
        ),
        # an email outside any field, and key=value text
        ("user=ada@stedi.test timestamp=1700000008000", "user=ad*****@stedi.test timestamp=1700000008000"),
        # timestamps and readings are not personal
        (
            '{"user":"fay@stedi.test","timestamp":1700000007000,"x":0.5}',
            '{"user":"fa*****@stedi.test","timestamp":1700000007000,"x":0.5}',
        ),
        ("[1, 2, 3]", "[1, 2, 3]"),
    ],
)
def test_raw_lines_have_their_personal_data_masked(line: str, expected: str) -> None:
    assert mask_text(line) == expected


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        # a value cut off at the end of the line, or after a field of another kind
        ('{"email":"x@y.z","customerName":"Ada Lovelace', '{"email":"x*****@y.z","customerName":"A***** L*****'),
        ('{"phone":"801-555-1212', '{"phone":"***-***-**12'),
        # single quotes, no quotes, and a JSON line inside a JSON string
        (
            "{'customerName': 'Ada Lovelace', 'phone': '5550100'}",
            "{'customerName': 'A***** L*****', 'phone': '*****00'}",
        ),
        ("customerName=Ada Lovelace; phone=5550100", "customerName=A***** L*****; phone=*****00"),
        ('"{\\"customerName\\":\\"Ada Lovelace\\"}"', '"{\\"customerName\\":\\"A***** L*****\\"}"'),
        # arrays and objects as values
        ('{"customerName":["Ada","Lovelace"],"x":1}', '{"customerName":["A*****","L*****"],"x":1}'),
        (
            '{"customerName":{"first":"Ada","last":"Lovelace"}}',
            '{"customerName":{"f*****":"A*****","l*****":"L*****"}}',
        ),
        ('{"phone":["801-555-1212","555-0100"]}', '{"phone":["***-***-**12","***-**00"]}'),
        # a phone with a plus or a minus before its first digit
        ('{"phone":+18015551212}', '{"phone":+*********12}'),
        ('{"phone":-8015551212}', '{"phone":-********12}'),
        ('{"phone": "+1 801 555 1212"}', '{"phone": "+* *** *** **12"}'),
        # an email with its @ escaped, an email field that holds no email, a domain without a dot
        ('{"email":"ada\\u0040stedi.test"}', '{"email":"ad*****\\u0040stedi.test"}'),
        ('{"user":"ada lovelace"}', '{"user":"ad*****"}'),
        ("mail ada@localhost now", "mail ad*****@localhost now"),
        # another key's name is not a field of personal data
        ('{"phoneModel":"X1","serialNumber":"dev-ada"}', '{"phoneModel":"X1","serialNumber":"dev-ada"}'),
    ],
)
def test_personal_data_is_masked_however_it_is_quoted_or_escaped(line: str, expected: str) -> None:
    assert mask_text(line) == expected


def test_rejected_lines_are_truncated_on_the_page_and_masked_before() -> None:
    """A rejected line of 100,000 characters is shown as its first 300 and an ellipsis, its personal data masked
    first (the cut could leave half a name)."""
    digits = "0123456789" * 10_000
    masked_line = '{"customerName":"A***** L*****","x":"' + digits + '"}'
    html = render(_data("Ada", '{"customerName":"Ada Lovelace","x":"' + digits + '"}'))
    assert re.findall(r'<td class="line">([^<]*)</td>', html) == [str(escape(masked_line[:300] + "…"))]


def _data(name: str, line: str, file: str = "customer/landing/c.json") -> ReportData:
    return ReportData(
        lake="lake",
        table_format="delta",
        counts=dict(EXPECTED_COUNTS),
        checks=[Check("customer_trusted_has_consent", 0), Check("step_trainer_landing_files_ingested", 2)],
        info={"customer_landing_without_consent": 3},
        options={"ml_join": "owner", "consent_cutoff": "off"},
        funnels=[Funnel("customer", 16, 10, 6, 4, 3), Funnel("accelerometer", 15, 10, 5, 6, None)],
        rejections=[Rejections("customer", "malformed JSON", file, 1)],
        samples=[RejectedLine("customer", file, 13, line, "malformed JSON")],
        runs=[],
        ml_joins=[MlJoinCount("timestamp", False, 7, 2), MlJoinCount("owner", False, 5, 0)],
        customer=CustomerReadings(
            name, "ada@stedi.test", "5550100", "1990-12-10", "dev-ada", [(T, 0.1, 0.2, 0.3)], [(T, 40)], 1, 1
        ),
        rules={
            "customer_trusted": [
                RuleResult("RowCount > 0", "Passed", None, {"Dataset.*.RowCount": 4.0}),
                RuleResult('IsComplete "email"', "Failed", "Value: 0.5 does not meet the constraint requirement!"),
            ]
        },
    )


def test_masked_data_masks_every_piece_of_personal_data_and_nothing_else() -> None:
    data = _data("Ada Lovelace", '{"customerName":"Ada Lovelace","email":"ada@stedi.test"', "customer/ada@stedi.test")
    assert masked(data) == ReportData(
        **{
            **data.__dict__,
            "rejections": [Rejections("customer", "malformed JSON", "customer/ad*****@stedi.test", 1)],
            "samples": [
                RejectedLine(
                    "customer",
                    "customer/ad*****@stedi.test",
                    13,
                    '{"customerName":"A***** L*****","email":"ad*****@stedi.test"',
                    "malformed JSON",
                )
            ],
            "customer": CustomerReadings(
                "A***** L*****",
                "ad*****@stedi.test",
                "*****00",
                "****-**-**",
                "dev-ada",
                [(T, 0.1, 0.2, 0.3)],
                [(T, 40)],
                1,
                1,
            ),
            "masked": True,
        }
    )


# the page, without a browser

INJECTED = "</script><script>alert(1)</script><b>x</b>"


def _visible_text(html: str) -> str:
    """The page without plotly.js (which is large and full of angle brackets of its own)."""
    return re.sub(r"<script nonce=\"[^\"]+\">.{100000,}?</script>", "", html, flags=re.DOTALL)


def test_landing_values_are_escaped_in_the_tables_and_the_charts() -> None:
    html = render(_data(INJECTED, INJECTED), show_pii=True)
    assert INJECTED not in html
    assert html.count("</script>") == 2  # plotly.js and the charts' script, nothing from the data
    text = _visible_text(html)
    escaped = "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;b&gt;x&lt;/b&gt;"
    assert text.count(escaped) == 2  # the sample's line and the customer's name
    figures = json.loads(re.search(r"const figures = (\{.*\});\n", html).group(1))  # type: ignore[union-attr]
    # plotly reads tags in chart text, and shows entities as the characters they stand for
    assert figures["chart-customer"]["layout"]["title"]["text"] == f"Readings of {escaped} (ada@stedi.test)"


def test_chart_data_cannot_close_its_script_element() -> None:
    written = _figures_json({"chart-x": go.Figure(go.Bar(x=["</script><b>"], y=[1]))})
    assert "</" not in written
    assert json.loads(written)["chart-x"]["data"][0]["x"] == ["</script><b>"]


def test_the_page_shows_no_email_unless_asked() -> None:
    data = _data("Ada Lovelace", '{"email":"ada@stedi.test","user":"fay@stedi.test"}')
    assert not re.search(r"(ada|fay)@stedi", render(data))
    shown = render(data, show_pii=True)
    assert "ada@stedi.test" in shown
    assert "fay@stedi.test" in shown


def test_the_page_names_every_count_check_and_the_lakes_options() -> None:
    text = _visible_text(render(_data("Ada Lovelace", "[1]")))
    for name, rows in EXPECTED_COUNTS.items():
        assert (
            f'<tr id="count-{name}"><td>{name.rsplit("_", 1)[1]}</td><td>{name}</td><td class="num">{rows:,}</td>'
            in text
        )
    passed = '<tr id="check-customer_trusted_has_consent"><td>customer_trusted_has_consent</td><td class="pass">PASS'
    failed = (
        '<tr id="check-step_trainer_landing_files_ingested"><td>step_trainer_landing_files_ingested</td>'
        '<td class="fail">FAIL</td><td class="num">2</td>'
    )
    assert passed in text
    assert failed in text
    assert '<tr><td>customer_trusted</td><td>RowCount &gt; 0</td><td class="pass">PASS</td><td></td></tr>' in text
    assert (
        '<tr><td>customer_trusted</td><td>IsComplete &#34;email&#34;</td><td class="fail">FAIL</td>'
        "<td>Value: 0.5 does not meet the constraint requirement!</td></tr>" in text
    )
    assert "<strong>--ml-join owner</strong>, without the consent cutoff" in text
    assert (
        '<tr id="ml-owner-all"><td>owner</td><td>off</td><td class="num">5</td><td class="num">0</td><td>✔</td></tr>'
        in text
    )
    accelerometer = "".join(f'<td class="num">{rows}</td>' for rows in ("15", "10", "5", "6", "—"))
    assert f'<tr id="funnel-accelerometer"><td>accelerometer</td>{accelerometer}</tr>' in text


# the data, gathered from the fixture lake on both engines


@pytest.fixture(scope="module")
def fixture_lake(spark: SparkSession, fixtures_landing: str, tmp_path_factory: pytest.TempPathFactory) -> Lake:
    lake = Lake(str(tmp_path_factory.mktemp("report") / "lake"), "parquet")  # quicker than Delta on classic Spark
    update(spark, fixtures_landing, lake, engine="sail" if "connect" in type(spark).__module__ else "spark")
    return lake


def test_the_funnels_follow_each_source_from_landing_to_curated(spark: SparkSession, fixture_lake: Lake) -> None:
    assert zone_funnels(spark, fixture_lake, EXPECTED_COUNTS) == [
        Funnel("customer", 16, 10, 6, 4, 3),
        Funnel("accelerometer", 15, 10, 5, 6, None),
        Funnel("step_trainer", 13, 9, 4, 6, 7),
    ]


def test_rejections_are_counted_by_reason_and_file_most_first(spark: SparkSession, fixture_lake: Lake) -> None:
    a0, a1 = ACCELEROMETER_FILES
    assert rejections(spark, fixture_lake) == [
        Rejections("customer", "email: missing key field", CUSTOMER_FILE, 2),
        Rejections("accelerometer", "malformed JSON", a1, 1),
        Rejections("accelerometer", "timestamp: expected bigint, got string", a0, 1),
        Rejections("accelerometer", "timestamp: missing key field", a1, 1),
        Rejections("accelerometer", "user: missing key field", a0, 1),
        Rejections("accelerometer", "x: expected double, got string", a1, 1),
        Rejections("customer", "email: expected string, got integer", CUSTOMER_FILE, 1),
        Rejections("customer", "malformed JSON", CUSTOMER_FILE, 1),
        Rejections("customer", "not a JSON object", CUSTOMER_FILE, 1),
        Rejections("customer", "registrationDate: expected bigint, got string", CUSTOMER_FILE, 1),
        Rejections("step_trainer", "distanceFromObject: expected bigint, got number", STEP_TRAINER_FILE, 1),
        Rejections("step_trainer", "malformed JSON", STEP_TRAINER_FILE, 1),
        Rejections("step_trainer", "sensorReadingTime: missing key field", STEP_TRAINER_FILE, 1),
        Rejections("step_trainer", "serialNumber: missing key field", STEP_TRAINER_FILE, 1),
    ]


def test_the_samples_are_the_first_lines_of_each_reason(spark: SparkSession, fixture_lake: Lake) -> None:
    """One per reason: of the two customer lines without an email, line 15 and not line 16."""
    expected = [
        RejectedLine(source, file, line_number, line, reason)
        for source in ("accelerometer", "customer", "step_trainer")
        for file, line_number, line, reason in EXPECTED[f"{source}_rejected"]
        if (file, line_number) != (CUSTOMER_FILE, 16)
    ]
    by_reason = sorted(expected, key=lambda sample: (sample.source, sample.reason, sample.file, sample.line_number))
    assert rejected_samples(spark, fixture_lake, per_reason=1) == by_reason


def test_the_ml_join_is_counted_under_every_option(spark: SparkSession, fixture_lake: Lake) -> None:
    """Ada's device pairs with Fay's reading at T + 2 s, and Fay's shared device with Ada's: two rows of another
    customer's phone, whatever the cutoff (which takes Di's device, and its one row, away)."""
    assert ml_join_counts(spark, fixture_lake) == [
        MlJoinCount("timestamp", False, 7, 2),
        MlJoinCount("owner", False, 5, 0),
        MlJoinCount("timestamp", True, 6, 2),
        MlJoinCount("owner", True, 4, 0),
    ]


ADA_READINGS = CustomerReadings(
    "Ada Lovelace",
    "ada@stedi.test",
    "5550100",
    "1990-12-10",
    "dev-ada",
    [(T + 1000, 0.1, 0.2, 0.3), (T + 2000, 1.0, 0.0, -1.0), (T + 3000, 0.5, 0.5, 0.5), (T + 6000, -1.0, -1.0, -1.0)],
    [(T + 1000, 40), (T + 2000, 38), (T + 3000, 36)],
    4,
    3,
)


def test_the_first_curated_customer_by_email_is_drawn_by_default(spark: SparkSession, fixture_lake: Lake) -> None:
    assert customer_readings(spark, fixture_lake) == ADA_READINGS


def test_a_customer_can_be_chosen_and_long_series_are_thinned(spark: SparkSession, fixture_lake: Lake) -> None:
    assert customer_readings(spark, fixture_lake, "ada@stedi.test", max_points=2) == CustomerReadings(
        **{
            **ADA_READINGS.__dict__,
            "accelerometer": [(T + 1000, 0.1, 0.2, 0.3), (T + 3000, 0.5, 0.5, 0.5)],
            "step_trainer": [(T + 1000, 40), (T + 3000, 36)],
        }
    )
    ed = customer_readings(spark, fixture_lake, "ed@stedi.test")  # trusted, but without readings
    assert ed == CustomerReadings("Ed Tied", "ed@stedi.test", "5550104", "1969-02-02", "dev-ed", [], [], 0, 0)
    with pytest.raises(CustomerNotFoundError, match=r"^customer gus@stedi.test is not in customer_trusted$"):
        customer_readings(spark, fixture_lake, "gus@stedi.test")


def stedi(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(argv), out=out)
    return code, out.getvalue()


@only_on("sail")
def test_report_writes_the_page_and_names_what_the_user_can_fix(
    spark: SparkSession, fixture_lake: Lake, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tmp_path / "report.html"
    code, out = stedi("report", "--lake", fixture_lake.root, "--out", str(page))
    assert code == 0
    assert re.fullmatch(rf"wrote {re.escape(str(page))} \(\d+\.\d MB\)\n", out)
    assert '<tr id="count-machine_learning_curated">' in page.read_text()
    code, _ = stedi("report", "--lake", fixture_lake.root, "--out", str(page), "--customer", "gus@stedi.test")
    assert (code, capsys.readouterr().err) == (2, "stedi: error: customer gus@stedi.test is not in customer_trusted\n")
    code, _ = stedi("report", "--lake", str(tmp_path / "nowhere"))
    assert code == 2
    nowhere = tmp_path / "nowhere"
    assert capsys.readouterr().err == (
        f"stedi: error: lake {nowhere} does not exist; build it with `stedi run --lake {nowhere}`\n"
    )
    code, _ = stedi("report", "--lake", fixture_lake.root, "--out", str(tmp_path / "no" / "report.html"))
    assert (code, capsys.readouterr().err) == (
        2,
        f"stedi: error: cannot write {tmp_path / 'no' / 'report.html'}: folder {tmp_path / 'no'} does not exist\n",
    )


def test_the_command_line_loads_neither_plotly_nor_jinja2_until_a_report_is_asked_for() -> None:
    """Glue and the bare wheel have neither: the rest of ``stedi`` must not need them."""
    loaded = "sorted({'plotly', 'jinja2', 'stedi_transforms.report'} & set(sys.modules))"
    probe = f"import sys, stedi_transforms.cli; print({loaded})"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT)
    assert done.stdout == "[]\n"
