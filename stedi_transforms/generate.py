"""STEDI-shaped landing data at any scale: plain streaming Python, no engine.

Every value is a pure function of (seed, stream, index): customer ``i``'s record, their readings and the bad lines
of a file each come from their own seeded ``random.Random``, so nothing is held that grows with the scale, files can
be written by any number of worker processes, and the same arguments always give the same bytes. Files hold about
10,000 lines each and are laid out as the bucket (``<entity>/landing/…``); each is written under a hidden temporary
name and renamed, so a killed generation never leaves half a file under a real name.

The shape follows the real STEDI data's ratios: about 956 customer records, 81,000 accelerometer and 28,700
step-trainer lines at scale 1; half the customers consent to research; each customer's step trainer reads at the
moments their phone records (about three phone readings per moment); readings of different customers collide on the
same millisecond; on top of that, some customers have no readings, some have a later record that revokes or grants
consent, and some readings are delivered twice, byte for byte.

>>> generate(Path("landing"), Plan(scale=0.1, seed=7))  # doctest: +SKIP
"""

from __future__ import annotations

import bisect
import gzip
import itertools
import json
import multiprocessing
import os
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from random import Random
from typing import Any

from stedi_transforms.errors import StediError
from stedi_transforms.fields import (
    BIRTH_DAY,
    CUSTOMER_NAME,
    DISTANCE_FROM_OBJECT,
    EMAIL,
    LAST_UPDATE_DATE,
    PHONE,
    REGISTRATION_DATE,
    SENSOR_READING_TIME,
    SERIAL_NUMBER,
    SHARE_WITH_FRIENDS_AS_OF_DATE,
    SHARE_WITH_PUBLIC_AS_OF_DATE,
    SHARE_WITH_RESEARCH_AS_OF_DATE,
    TIMESTAMP,
    USER,
    X,
    Y,
    Z,
)

# The fields in the landing schemas' order (stedi_transforms.schemas builds Spark types, which the generator must do
# without; tests hold the two to each other).
CUSTOMER_FIELDS = (
    CUSTOMER_NAME,
    EMAIL,
    PHONE,
    BIRTH_DAY,
    SERIAL_NUMBER,
    REGISTRATION_DATE,
    LAST_UPDATE_DATE,
    SHARE_WITH_RESEARCH_AS_OF_DATE,
    SHARE_WITH_PUBLIC_AS_OF_DATE,
    SHARE_WITH_FRIENDS_AS_OF_DATE,
)
ACCELEROMETER_FIELDS = (USER, TIMESTAMP, X, Y, Z)
STEP_TRAINER_FIELDS = (SENSOR_READING_TIME, SERIAL_NUMBER, DISTANCE_FROM_OBJECT)

MANIFEST = "_stedi_generated.json"
"""Written last into the output folder: the plan and what was written. Its presence means the set is complete."""
LAYOUTS = ("flat", "firehose")

# The shape, calibrated on the real data's ratios.
CUSTOMERS_PER_SCALE = 920
"""Customers at scale 1; with their later records, about the real data's 956 customer lines."""
LATER_RECORD_SHARE = 0.04
"""Customers with a later record (a later lastUpdateDate) that revokes or grants research consent."""
CONSENT_SHARE = 0.5
"""Each of the three consents (research, public, friends) is given at registration by about half the customers."""
NO_READINGS_SHARE = 0.03
MOMENTS = (28, 36)
"""Moments a customer's step trainer reads (fewest, most); the phone records at each of them too."""
PHONE_READINGS = ((1, 0.003), (2, 0.16), (3, 0.837))
"""Phone readings per moment, with their shares: the real data has about 2.83, each of distinct axes."""
DUPLICATE_SHARE = 0.005
"""Readings delivered twice, byte for byte, in the same file."""
EPOCH_MS = 1_693_526_400_000
"""2023-09-01T00:00Z: customer 0 registers then, the others every REGISTRATION_SPACING_MS on average."""
REGISTRATION_SPACING_MS = 2_700
TICK_MS = 12
"""Readings fall on a shared clock of 12 ms ticks, each tick at one millisecond: customers reading at the same time
share ticks, so different customers' readings collide about as often as in the real data."""
READING_GAP_TICKS = (200, 400)
FIRST_READING_DELAY_TICKS = 6_000
DELIVERY_DELAY_MS = 300_000
"""A file is delivered five minutes after the last registration of its customers (its name's time)."""
LINES_PER_FILE = 10_000

_HOUR_MS, _DAY_MS = 3_600_000, 86_400_000
_MEAN_MOMENTS = sum(MOMENTS) / 2
_MEAN_PHONE_READINGS = sum(count * share for count, share in PHONE_READINGS)
_READINGS_SHARE = (1 - NO_READINGS_SHARE) * (1 + DUPLICATE_SHARE)
"""Readings per customer, as a share of one customer's moments: those with readings, and the readings sent twice."""

_FIRST_NAMES = (
    "Ada", "Amara", "Anders", "Aiko", "Bea", "Bilal", "Carmen", "Chidi", "Dara", "Diego", "Elif", "Emeka", "Farah",
    "Felix", "Greta", "Hana", "Hugo", "Ines", "Ivan", "Jae", "Jonas", "Kai", "Kofi", "Lena", "Luca", "Maya", "Mateo",
    "Nadia", "Nils", "Omar", "Priya", "Quinn", "Rosa", "Rui", "Sana", "Soren", "Tariq", "Uma", "Vera", "Yusuf",
)  # fmt: skip
_LAST_NAMES = (
    "Abbott", "Adeyemi", "Bauer", "Castillo", "Chen", "Dubois", "Eriksen", "Farouk", "Garcia", "Haddad", "Ito",
    "Jensen", "Kowalski", "Larsen", "Mbeki", "Moreau", "Nakamura", "Novak", "Okafor", "Oliveira", "Petrov", "Quispe",
    "Rossi", "Sato", "Schmidt", "Silva", "Tanaka", "Usman", "Varga", "Weber", "Xu", "Yilmaz", "Zhou",
)  # fmt: skip
_AREA_CODES = ("801", "385", "435")

# Random streams: each (seed, stream, index) has a generator of its own.
_CUSTOMER, _MOMENTS, _ACCELEROMETER, _STEP_TRAINER, _BAD_LINES, _FILE_NAME = range(6)

_AXES = [f'"{X}":{x},"{Y}":{y},"{Z}":{z}}}' for x, y, z in itertools.product((-1.0, 0.0, 1.0), repeat=3)]
"""The end of an accelerometer line for each of the 27 axis readings, printed as the real data prints doubles."""
_PHONE_READINGS_LIMITS = list(itertools.accumulate(share for _, share in PHONE_READINGS))[:-1]
_AXES_ORDERS = list(itertools.permutations(range(len(_AXES)), 3))
"""Three distinct axis readings, in order: the first n of a random one are n distinct readings at random."""


def _rng(seed: int, stream: int, index: int) -> Random:
    # An int seed is hashed the same way in every process and on every platform (str and tuple seeds are not).
    return Random(((seed * 8 + stream) << 48) + index)


@dataclass(frozen=True)
class Plan:
    """What to generate. ``scale`` 1 is about the real data's volumes and volumes are linear in it (0.1 is fine);
    ``bad_fraction`` of the lines are bad (every kind the reader rejects, blank lines and invalid UTF-8 among them),
    inserted between the good lines, which stay the same whatever the fraction."""

    scale: float = 1.0
    seed: int = 0
    bad_fraction: float = 0.0
    gzip: bool = False
    layout: str = "flat"

    def __post_init__(self) -> None:
        if not self.scale > 0:
            raise ValueError(f"scale must be positive, got {self.scale}")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")
        if not 0 <= self.bad_fraction < 1:
            raise ValueError(f"bad fraction must be at least 0 and below 1, got {self.bad_fraction}")
        if self.layout not in LAYOUTS:
            raise ValueError(f"unknown layout {self.layout!r}; choose one of {', '.join(LAYOUTS)}")

    @property
    def customers(self) -> int:
        return max(1, round(self.scale * CUSTOMERS_PER_SCALE))


@dataclass(frozen=True)
class Customer:
    """One customer: their first record, and the date of their later record when they have one."""

    index: int
    name: str
    email: str
    phone: str
    birth_day: str
    serial_number: str
    registration: int
    last_update: int
    research: int | None
    public: int | None
    friends: int | None
    has_readings: bool
    later_update: int | None


def customer(seed: int, index: int) -> Customer:
    """Customer ``index`` of the set generated with ``seed``."""
    rng = _rng(seed, _CUSTOMER, index)
    first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
    registration = EPOCH_MS + index * REGISTRATION_SPACING_MS + rng.randrange(REGISTRATION_SPACING_MS)
    last_update = registration if rng.random() < 0.95 else registration + rng.randrange(1, 70_000)
    research, public, friends = (registration if rng.random() < CONSENT_SHARE else None for _ in range(3))
    later_update = last_update + rng.randrange(_HOUR_MS, 30 * _DAY_MS)
    birth_day = date.fromordinal(date(1940, 1, 1).toordinal() + rng.randrange(65 * 365)).isoformat()
    return Customer(
        index=index,
        name=f"{first} {last}",
        email=f"{first}.{last}.{index}@example.com",
        phone=f"{rng.choice(_AREA_CODES)}5550{rng.randrange(100, 200)}",
        birth_day=birth_day,
        serial_number=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        registration=registration,
        last_update=last_update,
        research=research,
        public=public,
        friends=friends,
        has_readings=rng.random() >= NO_READINGS_SHARE,
        later_update=later_update if rng.random() < LATER_RECORD_SHARE else None,
    )


def _customer_line(person: Customer, last_update: int, research: int | None) -> str:
    values = (
        person.name,
        person.email,
        person.phone,
        person.birth_day,
        person.serial_number,
        person.registration,
        last_update,
        research,
        person.public,
        person.friends,
    )
    return json.dumps(dict(zip(CUSTOMER_FIELDS, values, strict=True)))  # ", " and ": " as in the real files


def customer_lines(seed: int, people: list[Customer]) -> list[str]:
    """The customers' first records, then the later records that flip their research consent."""
    first = [_customer_line(person, person.last_update, person.research) for person in people]
    later = [
        _customer_line(person, person.later_update, None if person.research is not None else person.later_update)
        for person in people
        if person.later_update is not None
    ]
    return first + later


def _tick_ms(seed: int, tick: int) -> int:
    """The millisecond of a tick of the shared clock: every reading at that tick, whoever's, carries it."""
    mixed = ((tick + seed * 0x9E3779B97F4A7C15) * 0xBF58476D1CE4E5B9) & 0xFFFF_FFFF_FFFF_FFFF
    return EPOCH_MS + tick * TICK_MS + (mixed >> 32) % TICK_MS


def moments(seed: int, person: Customer) -> list[int]:
    """The epoch milliseconds at which the customer's step trainer and phone both read (none without readings)."""
    if not person.has_readings:
        return []
    rng = _rng(seed, _MOMENTS, person.index)
    tick = (person.registration - EPOCH_MS) // TICK_MS + rng.randrange(FIRST_READING_DELAY_TICKS)
    result = []
    for _ in range(rng.randint(*MOMENTS)):
        result.append(_tick_ms(seed, tick))
        tick += rng.randint(*READING_GAP_TICKS)
    return result


def _with_duplicates(lines: list[str], rng: Random) -> list[str]:
    return lines + [line for line in lines if rng.random() < DUPLICATE_SHARE]


def accelerometer_lines(seed: int, people: list[Customer]) -> list[str]:
    """Each customer's phone readings: one to three (of distinct axes) at each of their moments."""
    lines: list[str] = []
    for person in people:
        rng = _rng(seed, _ACCELEROMETER, person.index)
        head = f'{{"{USER}":"{person.email}","{TIMESTAMP}":'
        own: list[str] = []
        for moment in moments(seed, person):
            count = PHONE_READINGS[bisect.bisect(_PHONE_READINGS_LIMITS, rng.random())][0]
            order = _AXES_ORDERS[rng.randrange(len(_AXES_ORDERS))]
            own.extend(f"{head}{moment},{_AXES[axes]}" for axes in order[:count])
        lines.extend(_with_duplicates(own, rng))
    return lines


def step_trainer_lines(seed: int, people: list[Customer]) -> list[str]:
    """Each customer's step-trainer readings: one at each of their moments, from their device."""
    lines: list[str] = []
    for person in people:
        rng = _rng(seed, _STEP_TRAINER, person.index)
        tail = f',"{SERIAL_NUMBER}":"{person.serial_number}","{DISTANCE_FROM_OBJECT}":'
        own = [
            f'{{"{SENSOR_READING_TIME}":{moment}{tail}{200 + rng.randrange(100)}}}' for moment in moments(seed, person)
        ]
        lines.extend(_with_duplicates(own, rng))
    return lines


@dataclass(frozen=True)
class Entity:
    """One landing source as the generator writes it."""

    name: str
    fields: tuple[str, ...]
    key_fields: tuple[str, ...]
    string_key: str
    bigint_field: str
    separators: tuple[str, str]
    lines: Callable[[int, list[Customer]], list[str]]
    lines_per_customer: float
    """The mean, which sets how many customers' lines go into a file of about LINES_PER_FILE lines."""

    @property
    def customers_per_file(self) -> int:
        return max(1, round(LINES_PER_FILE / self.lines_per_customer))

    def files(self, plan: Plan) -> int:
        return -(-plan.customers // self.customers_per_file)


CUSTOMER = Entity(
    "customer",
    fields=CUSTOMER_FIELDS,
    key_fields=(EMAIL,),
    string_key=EMAIL,
    bigint_field=REGISTRATION_DATE,
    separators=(", ", ": "),
    lines=customer_lines,
    lines_per_customer=1 + LATER_RECORD_SHARE,
)
ACCELEROMETER = Entity(
    "accelerometer",
    fields=ACCELEROMETER_FIELDS,
    key_fields=(USER, TIMESTAMP),
    string_key=USER,
    bigint_field=TIMESTAMP,
    separators=(",", ":"),
    lines=accelerometer_lines,
    lines_per_customer=_READINGS_SHARE * _MEAN_MOMENTS * _MEAN_PHONE_READINGS,
)
STEP_TRAINER = Entity(
    "step_trainer",
    fields=STEP_TRAINER_FIELDS,
    key_fields=(SERIAL_NUMBER, SENSOR_READING_TIME),
    string_key=SERIAL_NUMBER,
    bigint_field=SENSOR_READING_TIME,
    separators=(",", ":"),
    lines=step_trainer_lines,
    lines_per_customer=_READINGS_SHARE * _MEAN_MOMENTS,
)
ENTITIES = {entity.name: entity for entity in (ACCELEROMETER, STEP_TRAINER, CUSTOMER)}
"""By name; the biggest first, so the worker pool ends with small files."""


# Bad lines. Each is made from a stray copy of a good line of its file, with an identity no customer has (and no
# research consent), so a reader more lenient than ours about one kind still adds nothing to the trusted zone.
BAD_LINE_KINDS = (
    "truncated",
    "NaN",
    "string for a bigint",
    "fraction for a bigint",
    "bigint beyond 64 bits",
    "number for a string",
    "boolean",
    "missing key field",
    "null key field",
    "not an object",
    "invalid UTF-8",
    "blank",
)
"""Every kind of line the reader skips (blank) or rejects; they take turns in the files."""


def _dumps(record: Any, entity: Entity) -> str:
    return json.dumps(record, separators=entity.separators, ensure_ascii=False)


def bad_line(kind: str, record: dict[str, Any], entity: Entity, rng: Random) -> str:
    """A line of ``kind`` (one of :data:`BAD_LINE_KINDS`) made from ``record``, a stray record of ``entity``."""
    bigint, string = entity.bigint_field, entity.string_key
    changes: dict[str, Any]
    match kind:
        case "truncated":
            line = _dumps(record, entity)
            return line[: rng.randrange(1, len(line) - 1)]
        case "not an object":
            return _dumps(list(record.values()), entity)
        case "blank":
            return rng.choice(("", "  ", "\t"))
        case "missing key field":
            missing = rng.choice(entity.key_fields)
            return _dumps({name: value for name, value in record.items() if name != missing}, entity)
        case "NaN":
            changes = {bigint: float("nan")}
        case "string for a bigint":
            changes = {bigint: str(record[bigint])}
        case "fraction for a bigint":
            changes = {bigint: record[bigint] + 0.5}
        case "bigint beyond 64 bits":
            changes = {bigint: record[bigint] + 2**64}
        case "number for a string":
            changes = {string: rng.randrange(1, 10**6)}
        case "boolean":
            changes = {rng.choice(entity.fields): True}
        case "null key field":
            changes = {rng.choice(entity.key_fields): None}
        case "invalid UTF-8":
            # A lone surrogate, which the file's encoding (surrogateescape) writes as the byte 0xFF.
            changes = {string: f"{record[string]}\udcff"}
        case _:
            raise ValueError(f"unknown kind of bad line {kind!r}; choose one of {', '.join(BAD_LINE_KINDS)}")
    return _dumps({**record, **changes}, entity)


def _stray(line: str, entity: Entity, file_number: int, line_number: int) -> dict[str, Any]:
    record: dict[str, Any] = json.loads(line)
    record[entity.string_key] = f"stray-{entity.name}-{file_number}-{line_number}@example.invalid"
    if SHARE_WITH_RESEARCH_AS_OF_DATE in record:
        record[SHARE_WITH_RESEARCH_AS_OF_DATE] = None
    return record


def _file_index(entity: Entity, file_number: int) -> int:
    """A number for each file of every entity, for the random streams that belong to a file."""
    return file_number * len(ENTITIES) + list(ENTITIES).index(entity.name)


def _with_bad_lines(good: list[str], plan: Plan, entity: Entity, file_number: int) -> tuple[list[str], dict[str, int]]:
    """``good`` with bad lines inserted at random places, about ``plan.bad_fraction`` of the result; the kinds take
    turns, each file starting at another kind. Also returns how many of each kind went in."""
    if plan.bad_fraction == 0 or not good:
        return good, {}
    rng = _rng(plan.seed, _BAD_LINES, _file_index(entity, file_number))
    expected = len(good) * plan.bad_fraction / (1 - plan.bad_fraction)
    count = int(expected) + (rng.random() < expected % 1)
    places = set(rng.sample(range(len(good) + count), count))
    lines: list[str] = []
    made: dict[str, int] = {}
    good_lines = iter(good)
    for position in range(len(good) + count):
        if position not in places:
            lines.append(next(good_lines))
            continue
        kind = BAD_LINE_KINDS[(file_number + sum(made.values())) % len(BAD_LINE_KINDS)]
        record = _stray(rng.choice(good), entity, file_number, position)
        lines.append(bad_line(kind, record, entity, rng))
        made[kind] = made.get(kind, 0) + 1
    return lines, made


@dataclass
class Written:
    """What one file, or all files of an entity, hold: good records, bad lines by kind (blank ones among them)
    and bytes."""

    files: int = 0
    records: int = 0
    bad_lines: dict[str, int] = field(default_factory=dict)
    bytes: int = 0

    def add(self, other: Written) -> None:
        self.files += other.files
        self.records += other.records
        for kind, count in other.bad_lines.items():
            self.bad_lines[kind] = self.bad_lines.get(kind, 0) + count
        self.bytes += other.bytes


def file_path(plan: Plan, entity: Entity, file_number: int) -> str:
    """Where a file goes, relative to the output folder: ``<entity>/landing/<entity>-<epoch ms>.json`` (flat), or
    under ``<entity>/landing/YYYY/MM/DD/HH/`` with an extension-less name as Kinesis Firehose delivers (firehose);
    ``.gz`` added when gzipped. The time is the file's delivery, after the registrations of its customers."""
    last_customer = min((file_number + 1) * entity.customers_per_file, plan.customers)
    delivered = EPOCH_MS + last_customer * REGISTRATION_SPACING_MS + DELIVERY_DELAY_MS
    suffix = ".gz" if plan.gzip else ""
    if plan.layout == "flat":
        return f"{entity.name}/landing/{entity.name}-{delivered}.json{suffix}"
    at = datetime.fromtimestamp(delivered / 1000, tz=UTC)
    token = uuid.UUID(int=_rng(plan.seed, _FILE_NAME, _file_index(entity, file_number)).getrandbits(128), version=4)
    return f"{entity.name}/landing/{at:%Y/%m/%d/%H}/stedi-{entity.name}-1-{at:%Y-%m-%d-%H-%M-%S}-{token}{suffix}"


def file_lines(plan: Plan, entity: Entity, file_number: int) -> tuple[list[str], dict[str, int]]:
    """The lines of one file (without line ends) and the count of each kind of bad line among them."""
    first = file_number * entity.customers_per_file
    people = [
        customer(plan.seed, index) for index in range(first, min(first + entity.customers_per_file, plan.customers))
    ]
    return _with_bad_lines(entity.lines(plan.seed, people), plan, entity, file_number)


def write_file(out: Path, plan: Plan, entity: Entity, file_number: int) -> Written:
    """Write one file: to a hidden temporary name beside it, then renamed into place."""
    lines, bad = file_lines(plan, entity, file_number)
    data = "".join(f"{line}\n" for line in lines).encode("utf-8", "surrogateescape")
    if plan.gzip:
        data = gzip.compress(data, compresslevel=6, mtime=0)
    path = out / file_path(plan, entity, file_number)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)
    return Written(files=1, records=len(lines) - sum(bad.values()), bad_lines=bad, bytes=len(data))


def _write_task(task: tuple[str, Plan, str, int]) -> tuple[str, Written]:
    out, plan, name, file_number = task
    return name, write_file(Path(out), plan, ENTITIES[name], file_number)


def file_count(plan: Plan) -> int:
    """How many files ``plan`` writes, all entities together."""
    return sum(entity.files(plan) for entity in ENTITIES.values())


_FILES_FOR_A_POOL = 50
"""About scale 4: from there on a pool of workers pays for its start."""


class GenerateError(StediError, ValueError):
    """The output folder holds landing files that this generation would not write."""


def _check_out(out: Path, plan: Plan) -> None:
    for entity in ENTITIES.values():
        landing = out / entity.name / "landing"
        planned = {out / file_path(plan, entity, number) for number in range(entity.files(plan))}
        for path in landing.rglob("*") if landing.is_dir() else ():
            if path.is_file() and path.name.startswith(".") and path.name.endswith(".tmp"):
                path.unlink()  # left by a killed generation
            elif path.is_file() and path not in planned:
                raise GenerateError(f"{landing} holds files of another generation ({path.name}); use a new folder")


def generate(
    out: Path,
    plan: Plan,
    workers: int | None = None,
    on_file: Callable[[Written], None] = lambda written: None,
) -> dict[str, Written]:
    """Write the landing files of ``plan`` under ``out`` with ``workers`` processes, then the manifest; returns what
    was written per entity. The bytes do not depend on the number of workers; by default there is one per core, or
    just this process for a small plan (a spawned worker takes a second to start). Files this plan writes may
    already be there (they are rewritten, the same); any other landing file is an error."""
    _check_out(out, plan)
    (out / MANIFEST).unlink(missing_ok=True)  # until this generation is complete
    if workers is None:
        workers = os.cpu_count() or 1 if file_count(plan) >= _FILES_FOR_A_POOL else 1
    tasks = (
        (str(out), plan, name, number) for name, entity in ENTITIES.items() for number in range(entity.files(plan))
    )
    totals = {name: Written() for name in ENTITIES}
    for name, written in _run(tasks, workers):
        totals[name].add(written)
        on_file(written)
    manifest = {"plan": asdict(plan), "written": {name: asdict(totals[name]) for name in ENTITIES}}
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return totals


def _run(tasks: Iterator[tuple[str, Plan, str, int]], workers: int) -> Iterator[tuple[str, Written]]:
    if workers == 1:
        yield from map(_write_task, tasks)
        return
    # Spawned, not forked: the caller may be a process with an engine's threads running. An executor, not a Pool:
    # a worker that dies fails the generation instead of hanging it.
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as executor:
        yield from executor.map(_write_task, tasks)


def read_manifest(out: Path) -> dict[str, Any] | None:
    """The manifest of a complete generation in ``out``, or None."""
    manifest = out / MANIFEST
    return json.loads(manifest.read_text(encoding="utf-8")) if manifest.is_file() else None
