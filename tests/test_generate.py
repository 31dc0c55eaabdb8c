"""`stedi generate`: deterministic, linear in scale, shaped like the real data, every kind of bad line when asked.

Plain Python: the generated files are read back with `json` and judged by the reader's own rules
(:func:`stedi_transforms.records.parse_line`), no Spark session.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from stedi_transforms import generate as gen
from stedi_transforms.generate import GenerateError, Plan, generate
from stedi_transforms.parsing import BLANK_LINE
from stedi_transforms.records import MALFORMED_JSON, NOT_AN_OBJECT, parse_line
from stedi_transforms.schemas import SOURCES

SOURCE = {source.name: source for source in SOURCES}


def digests(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def raw_lines(root: Path, entity: str) -> list[bytes]:
    """Every line of an entity's landing files, in file-name order, decompressed."""
    lines: list[bytes] = []
    for path in sorted(path for path in (root / entity / "landing").rglob("*") if path.is_file()):
        data = path.read_bytes()
        lines.extend((gzip.decompress(data) if path.suffix == ".gz" else data).splitlines())
    return lines


@pytest.fixture(scope="module")
def scale_1(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("scale_1")
    generate(out, Plan(scale=1, seed=7))
    return out


@pytest.fixture(scope="module")
def lines_1(scale_1: Path) -> dict[str, list[bytes]]:
    return {entity: raw_lines(scale_1, entity) for entity in gen.ENTITIES}


@pytest.fixture(scope="module")
def records_1(lines_1: dict[str, list[bytes]]) -> dict[str, list[dict[str, Any]]]:
    return {entity: [json.loads(line) for line in lines] for entity, lines in lines_1.items()}


def test_the_same_arguments_give_the_same_bytes_whatever_the_workers(tmp_path: Path) -> None:
    plan = Plan(scale=0.3, seed=7, bad_fraction=0.02, gzip=True, layout="firehose")
    generate(tmp_path / "one", plan, workers=1)
    generate(tmp_path / "two", plan, workers=2)
    generate(tmp_path / "one", plan, workers=1)  # again, into the same folder
    assert digests(tmp_path / "one") == digests(tmp_path / "two")
    assert len(digests(tmp_path / "one")) == 1 + 3 + 1 + 1  # the manifest and the three entities' files


def test_another_seed_gives_other_data(tmp_path: Path) -> None:
    generate(tmp_path / "a", Plan(scale=0.05, seed=1))
    generate(tmp_path / "b", Plan(scale=0.05, seed=2))
    assert raw_lines(tmp_path / "a", "customer") != raw_lines(tmp_path / "b", "customer")


def test_volumes_are_linear_in_the_scale(tmp_path: Path) -> None:
    written = {scale: generate(tmp_path / str(scale), Plan(scale=scale, seed=3)) for scale in (0.5, 1, 2)}
    for entity in gen.ENTITIES:
        per_scale = [written[scale][entity].records / scale for scale in (0.5, 1, 2)]
        assert max(per_scale) / min(per_scale) == pytest.approx(1, abs=0.03), entity


def test_scale_1_has_about_the_real_data_volumes(lines_1: dict[str, list[bytes]]) -> None:
    volumes = {entity: len(lines_1[entity]) for entity in gen.ENTITIES}
    assert volumes["customer"] == pytest.approx(956, rel=0.03)
    assert volumes["accelerometer"] == pytest.approx(81_000, rel=0.03)
    assert volumes["step_trainer"] == pytest.approx(28_700, rel=0.03)


def test_files_hold_about_ten_thousand_lines_and_are_named_as_the_real_ones(scale_1: Path) -> None:
    for entity in gen.ENTITIES:
        paths = sorted((scale_1 / entity / "landing").iterdir())
        assert all(re.fullmatch(rf"{entity}-\d{{13}}\.json", path.name) for path in paths)
        sizes = [len(path.read_bytes().splitlines()) for path in paths]
        assert all(9_000 <= size <= 11_000 for size in sizes[:-1]), (entity, sizes)
    assert len(list((scale_1 / "accelerometer" / "landing").iterdir())) == 9


def test_the_fields_names_order_and_types_are_the_landing_schemas(lines_1: dict[str, list[bytes]]) -> None:
    for entity in gen.ENTITIES.values():
        assert entity.fields == tuple(SOURCE[entity.name].schema.fieldNames())
        for line in lines_1[entity.name][::5]:
            text = line.decode()
            assert list(json.loads(text)) == list(entity.fields)
            assert parse_line(text, SOURCE[entity.name])[-1] is None, text


def test_lines_are_spaced_as_in_the_real_files(
    lines_1: dict[str, list[bytes]], records_1: dict[str, list[dict[str, Any]]]
) -> None:
    """Customer lines have ", " and ": " between items, readings are compact with doubles printed as 1.0."""
    for entity, separators in (("customer", (", ", ": ")), ("accelerometer", (",", ":")), ("step_trainer", (",", ":"))):
        for line in lines_1[entity][:500]:
            assert json.dumps(json.loads(line), separators=separators).encode() == line
    axes = {value for record in records_1["accelerometer"] for value in (record["x"], record["y"], record["z"])}
    assert axes == {-1.0, 0.0, 1.0}


def current_records(customers: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    current: dict[str, dict[str, Any]] = {}
    for record in sorted(customers, key=lambda record: record["lastUpdateDate"]):
        current[record["email"]] = record
    return current


def test_about_half_the_customers_consent_to_research(records_1: dict[str, list[dict[str, Any]]]) -> None:
    current = current_records(records_1["customer"])
    consenting = sum(record["shareWithResearchAsOfDate"] is not None for record in current.values())
    assert consenting / len(current) == pytest.approx(0.5, abs=0.05)


def test_later_records_revoke_and_grant_consent(records_1: dict[str, list[dict[str, Any]]]) -> None:
    histories: dict[str, list[dict[str, Any]]] = {}
    for record in records_1["customer"]:
        histories.setdefault(record["email"], []).append(record)
    changes: Counter[str] = Counter()
    for history in histories.values():
        first, *later = sorted(history, key=lambda record: record["lastUpdateDate"])
        for record in later:
            before, after = (entry["shareWithResearchAsOfDate"] is not None for entry in (first, record))
            changes["grant" if after and not before else "revoke" if before and not after else "other"] += 1
    assert changes["revoke"] > 5
    assert changes["grant"] > 5
    assert changes["other"] == 0


def test_step_readings_fall_when_the_owners_phone_records(records_1: dict[str, list[dict[str, Any]]]) -> None:
    owner = {record["serialNumber"]: record["email"] for record in records_1["customer"]}
    phone_moments = {(record["user"], record["timestamp"]) for record in records_1["accelerometer"]}
    steps = records_1["step_trainer"]
    assert all((owner[step["serialNumber"]], step["sensorReadingTime"]) in phone_moments for step in steps)


def test_some_customers_have_no_readings(records_1: dict[str, list[dict[str, Any]]]) -> None:
    emails = {record["email"] for record in records_1["customer"]}
    users = {record["user"] for record in records_1["accelerometer"]}
    assert users < emails
    assert 0 < len(emails - users) < 0.1 * len(emails)


def test_readings_of_different_customers_collide_as_in_the_real_data(
    lines_1: dict[str, list[bytes]], records_1: dict[str, list[dict[str, Any]]]
) -> None:
    """In the real data, the timestamp-only join of the consenting customers' distinct readings gives 43,681 pairs
    where the owners' own are 40,981: about 6.6 % more."""
    current = current_records(records_1["customer"])
    consenting = {email for email, record in current.items() if record["shareWithResearchAsOfDate"] is not None}
    owner = {record["serialNumber"]: email for email, record in current.items() if email in consenting}
    readings = set(lines_1["accelerometer"])
    moments = [(reading["user"], reading["timestamp"]) for reading in map(json.loads, readings)]
    readings_at = Counter(timestamp for user, timestamp in moments if user in consenting)
    own_readings_at = Counter(moment for moment in moments if moment[0] in consenting)
    steps = [json.loads(line) for line in set(lines_1["step_trainer"])]
    steps = [step for step in steps if step["serialNumber"] in owner]
    all_pairs = sum(readings_at[step["sensorReadingTime"]] for step in steps)
    own_pairs = sum(own_readings_at[owner[step["serialNumber"]], step["sensorReadingTime"]] for step in steps)
    assert all_pairs / own_pairs == pytest.approx(43_681 / 40_981, abs=0.015)


def test_some_readings_are_delivered_twice_byte_for_byte(lines_1: dict[str, list[bytes]]) -> None:
    for entity in ("accelerometer", "step_trainer"):
        lines = lines_1[entity]
        twice = len(lines) - len(set(lines))
        assert 0.002 * len(lines) < twice < 0.01 * len(lines), entity


# What the reader says of each kind of bad line (blank lines are skipped; invalid UTF-8 is not text).
REASONS = {
    "truncated": MALFORMED_JSON,
    "NaN": MALFORMED_JSON,
    "string for a bigint": "expected bigint, got string",
    "fraction for a bigint": "expected bigint, got number",
    "bigint beyond 64 bits": "expected bigint, got integer",
    "number for a string": "expected string, got integer",
    "boolean": "got boolean",
    "missing key field": "missing key field",
    "null key field": "missing key field",
    "not an object": NOT_AN_OBJECT,
    "invalid UTF-8": "invalid UTF-8",
    "blank": "blank",
}


def judged(line: bytes, entity: str) -> str | None:
    """The reason the reader skips or rejects a line (as in REASONS), None when it accepts it."""
    try:
        text = line.decode()
    except UnicodeDecodeError:
        return "invalid UTF-8"
    if re.fullmatch(BLANK_LINE, text):
        return "blank"
    reason = parse_line(text, SOURCE[entity])[-1]
    return next((known for known in set(REASONS.values()) if reason and known in reason), reason)


def test_bad_lines_of_every_kind_are_inserted_between_the_same_good_lines(tmp_path: Path) -> None:
    clean, dirty = tmp_path / "clean", tmp_path / "dirty"
    generate(clean, Plan(scale=0.3, seed=5))
    written = generate(dirty, Plan(scale=0.3, seed=5, bad_fraction=0.05))
    for entity in gen.ENTITIES:
        lines = raw_lines(dirty, entity)
        verdicts = [judged(line, entity) for line in lines]
        assert [line for line, verdict in zip(lines, verdicts, strict=True) if verdict is None] == raw_lines(
            clean, entity
        )
        expected: Counter[str] = Counter()
        for kind, count in written[entity].bad_lines.items():
            expected[REASONS[kind]] += count
        assert Counter(verdict for verdict in verdicts if verdict is not None) == expected
        if entity != "customer":  # 0.3 x 956 customer lines hold only a few bad ones
            assert set(written[entity].bad_lines) == set(gen.BAD_LINE_KINDS)
            assert sum(expected.values()) / len(lines) == pytest.approx(0.05, abs=0.01)


def test_gzip_and_the_firehose_layout_hold_the_same_lines(tmp_path: Path) -> None:
    generate(tmp_path / "flat", Plan(scale=0.3, seed=5))
    generate(tmp_path / "firehose", Plan(scale=0.3, seed=5, gzip=True, layout="firehose"))
    firehose = re.compile(r"\d{4}/\d{2}/\d{2}/\d{2}/stedi-[a-z_]+-1-\d{4}(-\d{2}){5}-[0-9a-f-]{36}\.gz")
    for entity in gen.ENTITIES:
        paths = [
            path.relative_to(tmp_path / "firehose" / entity / "landing")
            for path in (tmp_path / "firehose" / entity / "landing").rglob("*")
            if path.is_file()
        ]
        assert len(paths) == {"accelerometer": 3, "step_trainer": 1, "customer": 1}[entity]
        assert all(firehose.fullmatch(str(path)) for path in paths)
        assert sorted(raw_lines(tmp_path / "firehose", entity)) == sorted(raw_lines(tmp_path / "flat", entity))


def test_the_manifest_says_what_was_written(tmp_path: Path) -> None:
    written = generate(tmp_path, Plan(scale=0.05, seed=5))
    manifest = gen.read_manifest(tmp_path)
    assert manifest is not None
    assert manifest["plan"] == {"scale": 0.05, "seed": 5, "bad_fraction": 0.0, "gzip": False, "layout": "flat"}
    assert manifest["written"]["accelerometer"]["records"] == written["accelerometer"].records
    assert manifest["written"]["customer"]["records"] == len(raw_lines(tmp_path, "customer"))


def test_files_of_another_generation_are_refused_and_leftovers_of_a_killed_one_removed(tmp_path: Path) -> None:
    generate(tmp_path, Plan(scale=0.05, seed=5))
    leftover = next((tmp_path / "customer" / "landing").iterdir()).with_name(".customer-1.json.tmp")
    leftover.write_text('{"customerName": "Half')
    generate(tmp_path, Plan(scale=0.05, seed=5))
    assert not leftover.exists()
    with pytest.raises(GenerateError, match="files of another generation"):
        generate(tmp_path, Plan(scale=0.1, seed=5))


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"scale": 0}, "scale must be positive"),
        ({"seed": -1}, "seed must be a non-negative integer"),
        ({"bad_fraction": 1.0}, "bad fraction must be at least 0 and below 1"),
        ({"layout": "tree"}, "unknown layout 'tree'"),
    ],
)
def test_a_plan_is_checked_when_it_is_made(arguments: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Plan(**arguments)


def test_the_generator_imports_no_spark() -> None:
    code = "import sys, stedi_transforms.generate; print(sorted(m for m in sys.modules if 'spark' in m))"
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert child.stdout.strip() == "[]"
