"""Every table the jobs build, declared once: its inputs, its rule, what new input rows add to it, its options.

A :class:`TableRule` names a table of :mod:`stedi_transforms.lake`, the job that builds it, the tables it is built
from, a pure ``build`` (input tables in, the table out: the transforms of :mod:`stedi_transforms.transforms`), and,
where the table can be kept up to date by appending, ``added``: the rows it gains from the rows its inputs gained.
:data:`RULES` lists them in dependency order; the pipeline runs them (its one builder runs any rule), the jobs are
the groups :func:`job_names` lists, and the Glue scripts in ``jobs/`` are named after them.

A rule has a *fingerprint* (:func:`fingerprint`): a hash of the source of ``build`` and ``added`` and of every
function of this package they reach, and of the rule's ``version``. A lake records the fingerprint each table was
built with, so editing a transform rebuilds the tables it reaches on the next run; ``version`` is there for what
code does not show (bump it to rebuild a table whose rule reads something other than code, a file or a constant).

Adding a table is one declaration here, plus its transform and its :class:`stedi_transforms.lake.Table`.
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, fields
from functools import cache, reduce
from types import CodeType, FunctionType, ModuleType

from pyspark.sql import DataFrame

from stedi_transforms import transforms
from stedi_transforms.lake import (
    ACCELEROMETER_TRUSTED,
    CUSTOMER_CURATED,
    CUSTOMER_TRUSTED,
    INGESTED_TABLES,
    MACHINE_LEARNING_CURATED,
    STEP_TRAINER_TRUSTED,
    Table,
    ingested_table,
    rejected_table,
)
from stedi_transforms.options import FORMS_BY_NAME
from stedi_transforms.reader import accepted, rejected
from stedi_transforms.schemas import ACCELEROMETER, CUSTOMER, STEP_TRAINER, Source
from stedi_transforms.transforms import Options

Inputs = Mapping[str, DataFrame]
"""A rule's input tables as they are now, by table name."""

Build = Callable[[Inputs, Options], DataFrame]
"""The table built in full from its inputs."""

Added = Callable[[Inputs, Inputs, DataFrame, Options], DataFrame | None]
"""Given the inputs as they are now, the rows each input gained (only inputs that gained some: at least one) and
the table as it is, the rows the table gains; None where the table cannot be brought up to date by appending."""


@dataclass(frozen=True)
class TableRule:
    """One table: see the module's docstring. ``options`` names the fields of
    :class:`stedi_transforms.transforms.Options` the table depends on (a change of them rebuilds it); ``by_file``
    says that each of its rows comes from one file of its one input, an ingested table (a quarantine): the job
    builds it with the ingestion, and new rows replace the rows of their files instead of being appended."""

    table: Table
    job: str
    inputs: tuple[Table, ...]
    build: Build
    added: Added | None = None
    options: tuple[str, ...] = ()
    by_file: bool = False
    version: int = 1

    def __post_init__(self) -> None:
        known = {option.name for option in fields(Options)}
        if unknown := [name for name in self.options if name not in known]:
            raise ValueError(f"{self.table.name}: unknown options {unknown}; choose from {sorted(known)}")
        if self.by_file and [table.zone for table in self.inputs] != ["ingested"]:
            raise ValueError(f"{self.table.name}: a by_file table is built from one ingested table")

    @property
    def name(self) -> str:
        return self.table.name

    def option_values(self, options: Options) -> dict[str, str]:
        """The options this table is built with, as the lake's state records them (a flag as ``on``/``off``)."""
        return {name: FORMS_BY_NAME[name].recorded(getattr(options, name)) for name in self.options}


def _union(parts: list[DataFrame]) -> DataFrame:
    return reduce(DataFrame.unionByName, parts)


def _quarantine(source: Source, job: str) -> TableRule:
    """``<source>_rejected``: the lines of ``<source>_ingested`` the reader rejected, with their reasons."""
    ingested = ingested_table(source).name

    def build(inputs: Inputs, options: Options) -> DataFrame:
        return rejected(inputs[ingested])

    def added(inputs: Inputs, new: Inputs, table: DataFrame, options: Options) -> DataFrame:
        return rejected(new[ingested])

    return TableRule(rejected_table(source), job, (ingested_table(source),), build, added, by_file=True)


_CUSTOMER_INGESTED = ingested_table(CUSTOMER).name
_ACCELEROMETER_INGESTED = ingested_table(ACCELEROMETER).name
_STEP_TRAINER_INGESTED = ingested_table(STEP_TRAINER).name


def _customer_trusted(inputs: Inputs, options: Options) -> DataFrame:
    return transforms.customer_trusted(accepted(inputs[_CUSTOMER_INGESTED], CUSTOMER))


# No rule of appending: a new customer record can revoke a consent, so customer_trusted is rebuilt, and a change
# of it rebuilds the tables after it.


def _accelerometer_trusted(inputs: Inputs, options: Options) -> DataFrame:
    readings = accepted(inputs[_ACCELEROMETER_INGESTED], ACCELEROMETER)
    return transforms.accelerometer_trusted(readings, inputs[CUSTOMER_TRUSTED.name], options.consent_cutoff)


def _accelerometer_added(inputs: Inputs, new: Inputs, table: DataFrame, options: Options) -> DataFrame:
    """New readings of the trusted customers (only readings can be new: customer_trusted has no rule of
    appending)."""
    readings = accepted(new[_ACCELEROMETER_INGESTED], ACCELEROMETER)
    kept = transforms.accelerometer_trusted(readings, inputs[CUSTOMER_TRUSTED.name], options.consent_cutoff)
    return kept.subtract(table)


def _customer_curated(inputs: Inputs, options: Options) -> DataFrame:
    return transforms.customer_curated(inputs[CUSTOMER_TRUSTED.name], inputs[ACCELEROMETER_TRUSTED.name])


def _customer_curated_added(inputs: Inputs, new: Inputs, table: DataFrame, options: Options) -> DataFrame:
    """Trusted customers with their first readings."""
    return transforms.customer_curated(inputs[CUSTOMER_TRUSTED.name], new[ACCELEROMETER_TRUSTED.name]).subtract(table)


def _step_trainer_trusted(inputs: Inputs, options: Options) -> DataFrame:
    readings = accepted(inputs[_STEP_TRAINER_INGESTED], STEP_TRAINER)
    return transforms.step_trainer_trusted(readings, inputs[CUSTOMER_CURATED.name], options.consent_cutoff)


def _step_trainer_added(inputs: Inputs, new: Inputs, table: DataFrame, options: Options) -> DataFrame:
    """New readings of the curated customers' devices, and every reading of the devices of newly curated
    customers."""
    parts = []
    if _STEP_TRAINER_INGESTED in new:
        readings = accepted(new[_STEP_TRAINER_INGESTED], STEP_TRAINER)
        parts.append(transforms.step_trainer_trusted(readings, inputs[CUSTOMER_CURATED.name], options.consent_cutoff))
    if CUSTOMER_CURATED.name in new:
        every = accepted(inputs[_STEP_TRAINER_INGESTED], STEP_TRAINER)
        parts.append(transforms.step_trainer_trusted(every, new[CUSTOMER_CURATED.name], options.consent_cutoff))
    return _union(parts).subtract(table)


def _machine_learning_curated(inputs: Inputs, options: Options) -> DataFrame:
    return transforms.machine_learning_curated(
        inputs[STEP_TRAINER_TRUSTED.name],
        inputs[ACCELEROMETER_TRUSTED.name],
        inputs[CUSTOMER_CURATED.name],
        options.ml_join,
    )


def _machine_learning_added(inputs: Inputs, new: Inputs, table: DataFrame, options: Options) -> DataFrame | None:
    """The pairs of a new step-trainer reading with any reading, and of an older one with a new reading (the ML
    table keeps every pair, so the new rows are exactly these); the owner join goes through the curated customers,
    so that table is rebuilt."""
    if options.ml_join != "timestamp":
        return None
    steps, readings = inputs[STEP_TRAINER_TRUSTED.name], inputs[ACCELEROMETER_TRUSTED.name]
    new_steps, new_readings = new.get(STEP_TRAINER_TRUSTED.name), new.get(ACCELEROMETER_TRUSTED.name)
    parts = []
    if new_steps is not None:
        parts.append(transforms.machine_learning_curated(new_steps, readings))
        steps = steps.subtract(new_steps)
    if new_readings is not None:
        parts.append(transforms.machine_learning_curated(steps, new_readings))
    return _union(parts) if parts else table.limit(0)


RULES: tuple[TableRule, ...] = (
    _quarantine(CUSTOMER, "customer_landing_to_trusted"),
    TableRule(CUSTOMER_TRUSTED, "customer_landing_to_trusted", (ingested_table(CUSTOMER),), _customer_trusted),
    _quarantine(ACCELEROMETER, "accelerometer_landing_to_trusted"),
    TableRule(
        ACCELEROMETER_TRUSTED,
        "accelerometer_landing_to_trusted",
        (ingested_table(ACCELEROMETER), CUSTOMER_TRUSTED),
        _accelerometer_trusted,
        _accelerometer_added,
        options=("consent_cutoff",),
    ),
    TableRule(
        CUSTOMER_CURATED,
        "customer_trusted_to_curated",
        (CUSTOMER_TRUSTED, ACCELEROMETER_TRUSTED),
        _customer_curated,
        _customer_curated_added,
    ),
    _quarantine(STEP_TRAINER, "step_trainer_trusted"),
    TableRule(
        STEP_TRAINER_TRUSTED,
        "step_trainer_trusted",
        (ingested_table(STEP_TRAINER), CUSTOMER_CURATED),
        _step_trainer_trusted,
        _step_trainer_added,
        options=("consent_cutoff",),
    ),
    TableRule(
        MACHINE_LEARNING_CURATED,
        "machine_learning_curated",
        (STEP_TRAINER_TRUSTED, ACCELEROMETER_TRUSTED, CUSTOMER_CURATED),
        _machine_learning_curated,
        _machine_learning_added,
        options=("ml_join",),
    ),
)
"""The tables after the ingested ones, in dependency order: a table's inputs come before it."""


def tables() -> tuple[Table, ...]:
    """Every table of the lake: the ingested ones, then each rule's, in the order of :data:`RULES`."""
    return (*INGESTED_TABLES, *(rule.table for rule in RULES))


def job_names() -> tuple[str, ...]:
    """The jobs, in the order of their first table in :data:`RULES`."""
    return tuple(dict.fromkeys(rule.job for rule in RULES))


def job_rules(job: str) -> tuple[TableRule, ...]:
    """The tables ``job`` builds, in order; ValueError for a job no rule names."""
    rules = tuple(rule for rule in RULES if rule.job == job)
    if not rules:
        raise ValueError(f"unknown job {job!r}; choose one of {', '.join(job_names())}")
    return rules


def job_sources(job: str, sources: tuple[Source, ...]) -> tuple[Source, ...]:
    """The sources of ``sources`` that ``job`` ingests: those whose ingested table one of its tables is built
    from."""
    read = {table.name for rule in job_rules(job) for table in rule.inputs if table.zone == "ingested"}
    return tuple(source for source in sources if ingested_table(source).name in read)


def fingerprint(rule: TableRule) -> str:
    """A hash of the rule's ``version`` and of the source of its ``build`` and ``added`` and of every function of
    this package they reach (by the names their code uses): the same for the same code, whatever the Python."""
    digest = hashlib.sha256(f"version {rule.version}\n".encode())
    for function in _reached([rule.build, *([rule.added] if rule.added else [])]):
        digest.update(f"{function.__module__}.{function.__qualname__}\n{_source(function)}\n".encode())
    return digest.hexdigest()[:16]


def _reached(roots: list[Callable[..., object]]) -> list[FunctionType]:
    """``roots`` and the functions of this package they reach, ordered by their qualified names."""
    seen: dict[str, FunctionType] = {}
    todo = [root for root in roots if isinstance(root, FunctionType)]
    while todo:
        function = todo.pop()
        key = f"{function.__module__}.{function.__qualname__}"
        if key not in seen:
            seen[key] = function
            todo.extend(_called(function))
    return [seen[key] for key in sorted(seen)]


def _called(function: FunctionType) -> Iterator[FunctionType]:
    """The functions of this package that ``function`` names: as globals, attributes of this package's modules
    (``transforms.customer_trusted``), or in its closure."""
    names: set[str] = set()
    codes = [function.__code__]
    while codes:
        code = codes.pop()
        names.update(code.co_names)
        codes.extend(const for const in code.co_consts if isinstance(const, CodeType))
    found: list[object] = [cell.cell_contents for cell in function.__closure__ or ()]
    for name in names:
        target = function.__globals__.get(name)
        found.append(target)
        if isinstance(target, ModuleType) and _ours(target.__name__):
            found.extend(getattr(target, attribute, None) for attribute in names)
    yield from (item for item in found if isinstance(item, FunctionType) and _ours(item.__module__))


def _ours(module: str) -> bool:
    return module == "stedi_transforms" or module.startswith("stedi_transforms.")


@cache  # a function's code is fixed for its life: every run of a process (tests, --watch) asks again
def _source(function: FunctionType) -> str:
    try:
        return inspect.getsource(function)
    except (OSError, TypeError):  # no source at hand: the code itself
        return f"{function.__code__.co_code.hex()} {function.__code__.co_names}"
