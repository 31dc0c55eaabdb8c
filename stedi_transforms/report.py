"""The data-quality report of a lake: one HTML page that opens offline, and the charts the notebook draws.

Three layers, each usable alone:

- **gathering**: functions of ``(spark, lake)`` that return plain Python data (the dataclasses below), read from the
  lake's tables; nothing is written and no pipeline runs;
- **charts**: functions of that data that return plotly figures (the notebook shows the same ones);
- **the page**: :func:`render` puts the data and the charts into the packaged Jinja2 template, with autoescape on,
  so every value from landing data is text on the page, and plotly.js inline, so the page needs no network.

Personal data is masked on the page unless asked for (:func:`masked`): the report is meant to be shared.

Needs plotly and jinja2 (the ``local`` extra); nothing in the core imports this module.
"""

from __future__ import annotations

import html
import json
import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import cache
from typing import Any

import plotly.graph_objects as go
from jinja2 import Environment, PackageLoader
from plotly.offline import get_plotlyjs
from plotly.subplots import make_subplots
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from stedi_transforms import registry, transforms
from stedi_transforms.dq.evaluate import RuleResult
from stedi_transforms.engines import reused
from stedi_transforms.lake import (
    ACCELEROMETER_TRUSTED,
    CUSTOMER_CURATED,
    CUSTOMER_TRUSTED,
    STEP_TRAINER_TRUSTED,
    Lake,
    ingested_table,
    rejected_table,
)
from stedi_transforms.ledger import RunRecord, history
from stedi_transforms.reader import accepted
from stedi_transforms.schemas import (
    ACCELEROMETER,
    BIRTH_DAY,
    CUSTOMER,
    CUSTOMER_NAME,
    DISTANCE_FROM_OBJECT,
    EMAIL,
    FILE,
    LINE,
    LINE_NUMBER,
    PHONE,
    REASON,
    SENSOR_READING_TIME,
    SERIAL_NUMBER,
    SOURCES,
    STEP_TRAINER,
    TIMESTAMP,
    USER,
    X,
    Y,
    Z,
)
from stedi_transforms.transforms import ML_JOINS
from stedi_transforms.verify import Check, verify

MAX_POINTS = 2_000
"""At most this many readings per series on a customer's charts: longer series are thinned evenly."""

SAMPLES_PER_REASON = 2
"""Rejected lines shown per source and reason."""

FUNNEL_STAGES = ("landing", "accepted", "rejected", "trusted", "curated")


class CustomerNotFoundError(ValueError):
    """The customer asked for is not in customer_trusted."""


# --- the data ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Funnel:
    """Where a source's rows fall away: its landing lines, accepted and rejected, then its trusted and curated
    tables (the accelerometer has no curated table of its own: ``None``; the step trainer's is the ML table)."""

    source: str
    landing: int
    accepted: int
    rejected: int
    trusted: int
    curated: int | None

    def stages(self) -> list[tuple[str, int | None]]:
        return [(stage, getattr(self, stage)) for stage in FUNNEL_STAGES]


@dataclass(frozen=True)
class Rejections:
    """How many lines of one landing file a source's reader rejected for one reason."""

    source: str
    reason: str
    file: str
    lines: int


@dataclass(frozen=True)
class RejectedLine:
    """One rejected line as the quarantine table keeps it (``line`` is None for a file that could not be read)."""

    source: str
    file: str
    line_number: int
    line: str | None
    reason: str


@dataclass(frozen=True)
class MlJoinCount:
    """The ML table under one combination of its options: its rows, and how many of them pair a step-trainer
    reading with a reading of another customer's phone: the rows beyond those the owner join gives (which pairs each
    device only with readings of a curated customer who owns it)."""

    ml_join: str
    consent_cutoff: bool
    rows: int
    other_customers_rows: int

    @property
    def label(self) -> str:
        return f"{self.ml_join}{' + consent cutoff' if self.consent_cutoff else ''}"


@dataclass(frozen=True)
class CustomerReadings:
    """One trusted customer and their readings over time, in epoch milliseconds: accelerometer (timestamp, x, y, z)
    and their device's step trainer (sensorReadingTime, distanceFromObject); each series thinned evenly to at most
    :data:`MAX_POINTS`, with the totals before thinning."""

    name: str | None
    email: str
    phone: str | None
    birthday: str | None
    serial_number: str | None
    accelerometer: list[tuple[int, float | None, float | None, float | None]]
    step_trainer: list[tuple[int, int | None]]
    accelerometer_total: int
    step_trainer_total: int


@dataclass(frozen=True)
class ReportData:
    """Everything the report shows, as plain data."""

    lake: str
    table_format: str
    counts: dict[str, int]
    checks: list[Check]
    info: dict[str, int]
    options: dict[str, str]
    funnels: list[Funnel]
    rejections: list[Rejections]
    samples: list[RejectedLine]
    runs: list[RunRecord]
    ml_joins: list[MlJoinCount]
    customer: CustomerReadings | None
    masked: bool = False
    rules: dict[str, list[RuleResult]] = field(default_factory=dict)
    """Each table's DQDL rule outcomes, as ``verify`` gives them."""


# --- gathering ----------------------------------------------------------------------------------------------------


def zone_funnels(spark: SparkSession, lake: Lake, counts: dict[str, int]) -> list[Funnel]:
    """Each source's funnel, from the table counts (as :func:`stedi_transforms.verify.verify` gives them) and the
    accepted lines of its ingested table."""
    curated = {CUSTOMER.name: "customer_curated", STEP_TRAINER.name: "machine_learning_curated"}
    funnels = []
    for source in SOURCES:
        accepted_lines = accepted(lake.read(spark, ingested_table(source)), source).count()
        funnels.append(
            Funnel(
                source.name,
                counts[f"{source.name}_landing"],
                accepted_lines,
                counts[rejected_table(source).name],
                counts[f"{source.name}_trusted"],
                counts[curated[source.name]] if source.name in curated else None,
            )
        )
    return funnels


def rejections(spark: SparkSession, lake: Lake) -> list[Rejections]:
    """The rejected lines of every source counted by reason and file, most first."""
    found = []
    for source in SOURCES:
        rows = lake.read(spark, rejected_table(source)).groupBy(REASON, FILE).agg(F.count(F.lit(1)).alias("lines"))
        found += [Rejections(source.name, row[REASON], row[FILE], int(row["lines"])) for row in rows.collect()]
    return sorted(found, key=lambda entry: (-entry.lines, entry.source, entry.reason, entry.file))


def rejected_samples(spark: SparkSession, lake: Lake, per_reason: int = SAMPLES_PER_REASON) -> list[RejectedLine]:
    """The first ``per_reason`` rejected lines (by file and line number) of each source and reason."""
    first = Window.partitionBy(REASON).orderBy(FILE, LINE_NUMBER)
    samples = []
    for source in SOURCES:
        ranked = lake.read(spark, rejected_table(source)).withColumn("_rank", F.row_number().over(first))
        rows = ranked.filter(F.col("_rank") <= per_reason).collect()
        samples += [RejectedLine(source.name, row[FILE], int(row[LINE_NUMBER]), row[LINE], row[REASON]) for row in rows]
    return sorted(samples, key=lambda sample: (sample.source, sample.reason, sample.file, sample.line_number))


def ml_join_counts(spark: SparkSession, lake: Lake) -> list[MlJoinCount]:
    """The ML table's rows, and those pairing a device with another customer's phone, under every combination of
    its options: built in memory with the transforms, from the lake's accepted readings and customer_trusted (which
    no option changes), whichever options built the lake."""
    inputs = {
        "customers_trusted": lake.read(spark, CUSTOMER_TRUSTED),
        "phone": accepted(lake.read(spark, ingested_table(ACCELEROMETER)), ACCELEROMETER),
        "device": accepted(lake.read(spark, ingested_table(STEP_TRAINER)), STEP_TRAINER),
    }
    counts = []
    with reused(inputs) as frames:
        customers_trusted = frames["customers_trusted"]
        for consent_cutoff in (False, True):
            readings = transforms.accelerometer_trusted(frames["phone"], customers_trusted, consent_cutoff)
            customers_curated = transforms.customer_curated(customers_trusted, readings)
            steps = transforms.step_trainer_trusted(frames["device"], customers_curated, consent_cutoff)
            rows = {
                ml_join: transforms.machine_learning_curated(steps, readings, customers_curated, ml_join).count()
                for ml_join in ML_JOINS
            }
            # The owner join keeps a subset of the timestamp join's pairs (each pair at most once: a reading has one
            # user), so the pairs with another customer's phone are the difference.
            counts += [
                MlJoinCount(ml_join, consent_cutoff, rows[ml_join], rows[ml_join] - rows["owner"])
                for ml_join in ML_JOINS
            ]
    return counts


def _thinned(df: DataFrame, key: str, order: str, total: int, max_points: int) -> list[tuple[Any, ...]]:
    """The rows of ``df`` (of one ``key``) by ``order``, without those two columns' first: every k-th row, k chosen
    so that at most ``max_points`` remain."""
    step = -(-total // max_points) if total > max_points else 1
    numbered = df.withColumn("_n", F.row_number().over(Window.partitionBy(key).orderBy(order)))
    kept = numbered.filter((F.col("_n") - 1) % step == 0).orderBy(order).drop("_n", key)
    return [tuple(row) for row in kept.collect()]


def customer_readings(
    spark: SparkSession, lake: Lake, email: str | None = None, max_points: int = MAX_POINTS
) -> CustomerReadings | None:
    """A customer's readings: ``email``'s (a customer_trusted customer, else CustomerNotFoundError), or by default
    the first by email of customer_curated (who all have readings); None when there is no such customer."""
    if email is None:
        first = lake.read(spark, CUSTOMER_CURATED).orderBy(EMAIL).limit(1).collect()
    else:
        first = lake.read(spark, CUSTOMER_TRUSTED).filter(F.col(EMAIL) == email).limit(1).collect()
        if not first:
            raise CustomerNotFoundError(f"customer {email} is not in customer_trusted")
    if not first:
        return None
    customer = first[0]
    phone = (
        lake.read(spark, ACCELEROMETER_TRUSTED).filter(F.col(USER) == customer[EMAIL]).select(USER, TIMESTAMP, X, Y, Z)
    )
    device = (
        lake.read(spark, STEP_TRAINER_TRUSTED)
        .filter(F.col(SERIAL_NUMBER) == customer[SERIAL_NUMBER])
        .select(SERIAL_NUMBER, SENSOR_READING_TIME, DISTANCE_FROM_OBJECT)
    )
    phone_total, device_total = phone.count(), device.count()
    return CustomerReadings(
        customer[CUSTOMER_NAME],
        customer[EMAIL],
        customer[PHONE],
        customer[BIRTH_DAY],
        customer[SERIAL_NUMBER],
        _thinned(phone, USER, TIMESTAMP, phone_total, max_points),
        _thinned(device, SERIAL_NUMBER, SENSOR_READING_TIME, device_total, max_points),
        phone_total,
        device_total,
    )


def gather(spark: SparkSession, lake: Lake, landing: str | None = None, customer: str | None = None) -> ReportData:
    """Everything the report shows, read from the lake: the counts and checks of ``verify`` (with ``landing``, also
    whether every landing file is ingested), the funnels, the rejections, the run history, the ML join under every
    option and one customer's readings (``customer``'s, or the first by email)."""
    checked = verify(spark, lake, landing)
    return ReportData(
        lake=lake.root,
        table_format=lake.table_format,
        counts=checked.counts,
        checks=checked.checks,
        info=checked.info,
        options=checked.options,
        funnels=zone_funnels(spark, lake, checked.counts),
        rejections=rejections(spark, lake),
        samples=rejected_samples(spark, lake),
        runs=history(lake.store),
        ml_joins=ml_join_counts(spark, lake),
        customer=customer_readings(spark, lake, customer),
        rules=checked.rules,
    )


# --- masking ------------------------------------------------------------------------------------------------------

_AT = r"(?:@|\\+u0040|\\+x40|%40|&#0*64;|&#x0*40;)"
_EMAIL = re.compile(
    rf"(?<![A-Za-z0-9._%+\-\\])[A-Za-z0-9._%+\-\\]+?(?P<at>{_AT})[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*", re.IGNORECASE
)
"""An email anywhere: its ``@`` as it is or escaped (JSON, percent or HTML), its domain with or without a dot."""
_PII_KEY = re.compile(
    rf"(?<![A-Za-z0-9_])(?P<name>{CUSTOMER_NAME}|{PHONE}|{BIRTH_DAY}|{EMAIL}|{USER})(?![A-Za-z0-9_])"
    r"""(?:\\*["'])?\s*[:=]\s*""",
    re.IGNORECASE,
)
"""The key of a field of personal data, however it is quoted (or not), and its ``:`` or ``=``."""
_QUOTE = re.compile(r"""\\*["']""")
_BARE_END = re.compile(r"[,;}\]\r\n]")
_WORDS = re.compile(r"""[^\s"'\\,:;\[\]{}]+""")
MAX_LINE_CHARS = 300
"""Characters of a rejected line shown in the report (masked first): a longer line is cut, and ends with ``…``."""
_STARS = "*****"


def mask_email(email: str) -> str:
    """The first two characters of the local part, then stars; the domain as it is.

    >>> mask_email("Santosh.Clayton@test.com")
    'Sa*****@test.com'
    """
    local, at, domain = email.partition("@")
    return f"{local[:2]}{_STARS}{at}{domain}"


def mask_name(name: str) -> str:
    """The first letter of each word, then stars.

    >>> mask_name("Santosh Clayton")
    'S***** C*****'
    """
    return " ".join(f"{word[:1]}{_STARS}" for word in name.split())


def mask_phone(phone: str) -> str:
    """Every digit but the last two as a star.

    >>> mask_phone("801-555-1212")
    '***-***-**12'
    """
    digits = sum(character.isdigit() for character in phone)
    seen = 0
    masked = []
    for character in phone:
        if character.isdigit():
            seen += 1
            masked.append(character if seen > digits - 2 else "*")
        else:
            masked.append(character)
    return "".join(masked)


def mask_birthday(birthday: str) -> str:
    """Every digit as a star.

    >>> mask_birthday("1990-12-10")
    '****-**-**'
    """
    return re.sub(r"[0-9]", "*", birthday)


def _mask_user(value: str) -> str:
    """An email field's value: an email as :func:`mask_email` masks it, anything else but its first two characters."""
    masked = _EMAIL.sub(_mask_found_email, value)
    return masked if masked != value else mask_email(value.split()[0] if value.split() else value)


_FIELD_MASKS: dict[str, Callable[[str], str]] = {
    CUSTOMER_NAME.lower(): mask_name,
    PHONE.lower(): mask_phone,
    BIRTH_DAY.lower(): mask_birthday,
    EMAIL.lower(): _mask_user,
    USER.lower(): _mask_user,
}


def _mask_found_email(match: re.Match[str]) -> str:
    local, at, domain = match.group(0).partition(match.group("at"))
    return f"{local[:2]}{_STARS}{at}{domain}"


def _value_end(text: str, start: int) -> int:
    """Where the value that starts at ``start`` ends: its closing quote (as escaped as its opening one), its closing
    bracket, or (unquoted) the next separator; the end of the text when it has none (a line cut short)."""
    if start >= len(text):
        return start
    if text[start] in "[{":
        depth = 0
        for index in range(start, len(text)):
            depth += (text[index] in "[{") - (text[index] in "]}")
            if depth == 0:
                return index + 1
        return len(text)
    quote = _QUOTE.match(text, start)
    if quote:
        escapes, mark = len(quote.group(0)) - 1, quote.group(0)[-1]
        index = quote.end()
        while (index := text.find(mark, index)) >= 0:
            before = len(text[:index]) - len(text[:index].rstrip("\\"))
            if before == escapes:
                return index + 1
            index += 1
        return len(text)
    bare = _BARE_END.search(text, start)
    return bare.start() if bare else len(text)


def _mask_value(name: str, value: str) -> str:
    """A field's value masked: inside its quotes when it is one string, else every word of it (an array, an
    object, a bare value)."""
    mask = _FIELD_MASKS[name.lower()]
    quote = _QUOTE.match(value)
    if quote and value[0] not in "[{":
        mark = quote.group(0)
        inner = value[len(mark) :]
        closed = len(inner) >= len(mark) and inner.endswith(mark)
        inner = inner[: len(inner) - len(mark)] if closed else inner
        return f"{mark}{mask(inner)}{mark if closed else ''}"
    if value[:1] in "[{":
        return _WORDS.sub(lambda word: mask(word.group(0)), value)
    return mask(value)


def _mask_fields(text: str) -> str:
    masked, position = [], 0
    while key := _PII_KEY.search(text, position):
        end = _value_end(text, key.end())
        masked += [text[position : key.end()], _mask_value(key.group("name"), text[key.end() : end])]
        position = max(end, key.end())
    masked.append(text[position:])
    return "".join(masked)


def mask_text(text: str) -> str:
    """Free text (a raw landing line, a file name) with its personal data masked: every email anywhere, and the
    values of the name, phone, birthday and email fields, however they are quoted or escaped, even in a line that
    is not valid JSON or is cut short.

    >>> mask_text('{"customerName":"Ada Lovelace","email":"ada@stedi.test","phone":"5550100"}')
    '{"customerName":"A***** L*****","email":"ad*****@stedi.test","phone":"*****00"}'
    """
    return _EMAIL.sub(_mask_found_email, _mask_fields(text))


def shown_line(line: str) -> str:
    """A rejected line as the report shows it: at most :data:`MAX_LINE_CHARS` characters, then ``…``."""
    return line if len(line) <= MAX_LINE_CHARS else line[:MAX_LINE_CHARS] + "…"


def _optional(mask: Callable[[str], str], value: str | None) -> str | None:
    return None if value is None else mask(value)


def masked(data: ReportData) -> ReportData:
    """``data`` with every piece of personal data masked: the customer's name, email, phone and birthday, and any
    email, name, phone or birthday in rejected lines, reasons and file names."""
    customer = data.customer
    if customer is not None:
        customer = replace(
            customer,
            name=_optional(mask_name, customer.name),
            email=mask_email(customer.email),
            phone=_optional(mask_phone, customer.phone),
            birthday=_optional(mask_birthday, customer.birthday),
        )
    return replace(
        data,
        rejections=[
            replace(entry, reason=mask_text(entry.reason), file=mask_text(entry.file)) for entry in data.rejections
        ],
        samples=[
            replace(
                sample,
                file=mask_text(sample.file),
                line=_optional(mask_text, sample.line),
                reason=mask_text(sample.reason),
            )
            for sample in data.samples
        ],
        customer=customer,
        masked=True,
    )


# --- charts -------------------------------------------------------------------------------------------------------

_LAYOUT: dict[str, Any] = {"margin": {"l": 60, "r": 20, "t": 60, "b": 50}, "template": "plotly_white"}


def _text(value: str) -> str:
    """A value from landing data as chart text: plotly reads a few HTML tags in its text (``<b>``, ``<br>``, ...)
    and turns entities back into characters, so escaping shows the value as it is, tags and all."""
    return html.escape(value, quote=False)


def funnel_chart(funnels: Sequence[Funnel]) -> go.Figure:
    """One bar chart per source: its rows at each stage, landing to curated."""
    figure = make_subplots(rows=1, cols=len(funnels), subplot_titles=[funnel.source for funnel in funnels])
    for column, funnel in enumerate(funnels, start=1):
        stages = [(stage, rows) for stage, rows in funnel.stages() if rows is not None]
        figure.add_trace(
            go.Bar(
                x=[stage for stage, _ in stages],
                y=[rows for _, rows in stages],
                text=[f"{rows:,}" for _, rows in stages],
                name=funnel.source,
                showlegend=False,
            ),
            row=1,
            col=column,
        )
    figure.update_layout(title="Rows at each zone, per source", height=380, **_LAYOUT)
    return figure


def rejections_chart(found: Sequence[Rejections]) -> go.Figure:
    """Rejected lines by reason, one bar colour per source."""
    figure = go.Figure()
    for source in SOURCES:
        by_reason: dict[str, int] = {}
        for entry in found:
            if entry.source == source.name:
                by_reason[entry.reason] = by_reason.get(entry.reason, 0) + entry.lines
        figure.add_trace(
            go.Bar(
                y=[_text(reason) for reason in by_reason], x=list(by_reason.values()), orientation="h", name=source.name
            ),
        )
    figure.update_layout(
        title="Rejected lines by reason",
        barmode="stack",
        height=max(300, 120 + 28 * len({entry.reason for entry in found})),
        yaxis={"automargin": True},
        **_LAYOUT,
    )
    return figure


def _times(millis: Sequence[int]) -> list[datetime]:
    return [datetime.fromtimestamp(value / 1000, UTC) for value in millis]


def customer_chart(readings: CustomerReadings) -> go.Figure:
    """A customer's accelerometer x, y and z over time, and their device's distanceFromObject below it."""
    figure = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.1,
        subplot_titles=("accelerometer", _text(f"step trainer {readings.serial_number or ''}".strip())),
    )
    phone_times = _times([reading[0] for reading in readings.accelerometer])
    for axis, index in ((X, 1), (Y, 2), (Z, 3)):
        values = [reading[index] for reading in readings.accelerometer]
        figure.add_trace(go.Scatter(x=phone_times, y=values, mode="lines+markers", name=axis), row=1, col=1)
    figure.add_trace(
        go.Scatter(
            x=_times([reading[0] for reading in readings.step_trainer]),
            y=[reading[1] for reading in readings.step_trainer],
            mode="lines+markers",
            name=DISTANCE_FROM_OBJECT,
        ),
        row=2,
        col=1,
    )
    who = readings.name or readings.email
    figure.update_layout(title=_text(f"Readings of {who} ({readings.email})"), height=560, **_LAYOUT)
    return figure


def ml_join_chart(counts: Sequence[MlJoinCount]) -> go.Figure:
    """The ML table's rows under each option combination: those pairing a device with its owner's phone, and
    those pairing it with another customer's."""
    labels = [count.label for count in counts]
    figure = go.Figure(
        [
            go.Bar(x=labels, y=[count.rows - count.other_customers_rows for count in counts], name="owner's phone"),
            go.Bar(x=labels, y=[count.other_customers_rows for count in counts], name="another customer's phone"),
        ]
    )
    figure.update_layout(title="machine_learning_curated under each option", barmode="stack", height=380, **_LAYOUT)
    return figure


def charts(data: ReportData) -> dict[str, go.Figure]:
    """Every chart of the report, by the id of its place on the page."""
    drawn = {
        "chart-funnel": funnel_chart(data.funnels),
        "chart-rejections": rejections_chart(data.rejections),
        "chart-ml-join": ml_join_chart(data.ml_joins),
    }
    if data.customer is not None:
        drawn["chart-customer"] = customer_chart(data.customer)
    return drawn


# --- the page -----------------------------------------------------------------------------------------------------


@cache
def _plotly_js() -> str:
    script: str = get_plotlyjs()
    if "</script" in script.lower():  # it goes inline, into a <script> element
        raise ValueError("plotly.js holds '</script' and cannot be inlined")
    return script


def _environment() -> Environment:
    environment = Environment(
        loader=PackageLoader("stedi_transforms", "templates"), autoescape=True, trim_blocks=True, lstrip_blocks=True
    )
    environment.filters["thousands"] = lambda value: "—" if value is None else f"{value:,}"
    environment.filters["when"] = lambda millis: datetime.fromtimestamp(millis / 1000, UTC).isoformat(
        sep=" ", timespec="milliseconds"
    )
    return environment


def _figures_json(figures: dict[str, go.Figure]) -> str:
    """The figures as one JavaScript object literal, safe inside a <script> element: plotly's JSON writes ``<``,
    ``>`` and ``/`` in strings as unicode escapes, so no value can close the element."""
    members = ",".join(f"{json.dumps(chart_id)}:{figure.to_json()}" for chart_id, figure in figures.items())
    text = "{" + members + "}"
    if "</" in text:
        raise ValueError("chart data would close its <script> element")
    return text


@dataclass(frozen=True)
class _Page:
    generated: str = field(default_factory=lambda: datetime.now(UTC).isoformat(sep=" ", timespec="seconds"))
    nonce: str = field(default_factory=lambda: secrets.token_urlsafe(16))


def render(data: ReportData, show_pii: bool = False) -> str:
    """The report as one self-contained HTML page; personal data masked unless ``show_pii``; rejected lines cut to
    :data:`MAX_LINE_CHARS`."""
    shown = data if show_pii else masked(data)  # masked whole, then cut: a cut could hide a value's key
    shown = replace(
        shown, samples=[replace(sample, line=_optional(shown_line, sample.line)) for sample in shown.samples]
    )
    page = _Page()
    zones = {f"{source.name}_landing": "landing" for source in SOURCES}
    zones |= {table.name: table.zone for table in registry.tables() if table.zone != "ingested"}
    reasons: dict[tuple[str, str], int] = {}
    for entry in shown.rejections:
        reasons[(entry.source, entry.reason)] = reasons.get((entry.source, entry.reason), 0) + entry.lines
    template = _environment().get_template("report.html.j2")
    return template.render(
        data=shown,
        page=page,
        zones=zones,
        reasons=sorted(reasons.items(), key=lambda item: (-item[1], item[0])),
        lake_ml_join=shown.options.get("ml_join"),
        lake_consent_cutoff=shown.options.get("consent_cutoff") == "on",
        sources=[source.name for source in SOURCES],
        plotly_js=_plotly_js(),
        figures_json=_figures_json(charts(shown)),
    )


def build_report(
    spark: SparkSession,
    lake: Lake,
    landing: str | None = None,
    customer: str | None = None,
    show_pii: bool = False,
) -> str:
    """Gather the lake's figures and render the page: what ``stedi report`` writes.

    >>> Path("report.html").write_text(build_report(spark, Lake("lake")))  # doctest: +SKIP
    """
    return render(gather(spark, lake, landing, customer), show_pii)
