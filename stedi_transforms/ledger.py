"""The lake's own records: which landing files it has ingested, what each table was built from, and its runs.

``<lake>/_stedi/state.json`` holds, per source, the ledger of ingested files (path, size, version) and a
generation that grows whenever that source's files change; per derived table, the generations of the sources it was
built from, its options and the fingerprints of its rule and of the rules before it (``rule:<table>``, see
:func:`stedi_transforms.registry.fingerprint`), so a run rebuilds exactly the tables whose sources or rules changed;
and the rows of every table as last written, so a run counts only the tables it wrote.
``<lake>/_stedi/runs/`` holds one JSON object per run, for ``stedi history``.

The state is replaced in one step (a rename locally, a single PUT on S3) after each table it describes is
committed, and the files being ingested are recorded as *pending* before their rows are written: a run killed at any
moment leaves a state that names every table it may have touched, and the next run repairs exactly those. Each write
is conditional on the state being the one this run read or last wrote (``If-Match`` on its ETag in S3; locally the
same check, made under the lake's ``flock``), so a run that lost the lake never writes over its successor's.

A state that cannot be read (corrupt, of another state version, or of another table format) is refused with one
line, unless the run is a full refresh, which rebuilds everything it describes: a run that took it for missing
would take every landing file for new.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from stedi_transforms.errors import StediError
from stedi_transforms.lock import LeaseLostError
from stedi_transforms.options import FORMS
from stedi_transforms.storage import FileEntry, PreconditionFailedError, Store

STATE = "_stedi/state.json"
RUNS = "_stedi/runs"
STATE_VERSION = 1


class LedgerError(StediError, ValueError):
    """The lake's state cannot be used as it is; the message says why and names ``--full-refresh``, in one line."""


@dataclass(frozen=True)
class IngestedFile:
    """One landing file as the lake ingested it: its path, size and version when it was read."""

    path: str
    size: int
    version: str

    def same_as(self, entry: FileEntry) -> bool:
        return (self.size, self.version) == (entry.size, entry.version)


@dataclass
class SourceLedger:
    """A source's ingested files, its generation (grows with every change of its files) and the files whose rows
    a run was writing when it stopped (empty after a run that finished)."""

    generation: int = 0
    files: dict[str, IngestedFile] = field(default_factory=dict)
    pending: list[str] = field(default_factory=list)


@dataclass
class LakeState:
    """Everything a run needs to know about the lake it continues: see the module's docstring."""

    table_format: str
    sources: dict[str, SourceLedger] = field(default_factory=dict)
    built: dict[str, dict[str, int | str]] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    version: str | None = field(default=None, compare=False)
    """The version tag of the state file this state was read from or last saved as; None where there was none."""

    def ledger(self, source: str) -> SourceLedger:
        return self.sources.setdefault(source, SourceLedger())

    def generations(self, sources: tuple[str, ...]) -> dict[str, int]:
        return {source: self.ledger(source).generation for source in sources}


def load_state(store: Store, table_format: str, full_refresh: bool = False) -> LakeState:
    """The lake's state, or a fresh one where there is none. A state that cannot be read, or was written by another
    state version or for another table format, raises LedgerError, unless for a ``full_refresh``, which gets a
    fresh state that replaces it."""
    text, version = store.read_tagged(STATE)
    if text is None:
        return LakeState(table_format)
    try:
        return _parse_state(text, table_format, version)
    except LedgerError:
        if full_refresh:
            return LakeState(table_format, version=version)
        raise
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        if full_refresh:
            return LakeState(table_format, version=version)
        raise LedgerError(
            f"the lake's state {_where(store)} cannot be read ({type(error).__name__}: {error}); run with "
            "--full-refresh to rebuild the lake from the landing"
        ) from error


def _where(store: Store) -> str:
    return f"{store.root.rstrip('/')}/{STATE}"


def _parse_state(text: str, table_format: str, version: str | None) -> LakeState:
    raw = json.loads(text)
    if not isinstance(raw, dict):
        raise ValueError("not a JSON object")
    if raw.get("state_version") != STATE_VERSION:
        raise LedgerError(
            f"the lake's state is of state version {raw.get('state_version')!r}, and this stedi reads version "
            f"{STATE_VERSION}; run with --full-refresh to rebuild the lake from the landing"
        )
    if raw.get("table_format") != table_format:
        raise LedgerError(
            f"the lake's tables were written as {raw.get('table_format')!r}, not {table_format!r}; run with "
            f"--format {raw.get('table_format')}, or with --full-refresh to rebuild the lake as {table_format}"
        )
    return LakeState(
        table_format,
        sources={
            name: SourceLedger(
                int(ledger["generation"]),
                {path: IngestedFile(path, **entry) for path, entry in ledger["files"].items()},
                list(ledger["pending"]),
            )
            for name, ledger in raw["sources"].items()
        },
        built=dict(raw["built"]),
        rows=dict(raw.get("rows", {})),  # absent from the states of earlier versions: those tables are counted once
        version=version,
    )


def recorded_options(state: LakeState) -> dict[str, str]:
    """The ML table's options the lake's tables were built with, as the state recorded them."""
    built = state.built.get("machine_learning_curated", {})
    return {form.name: str(built[form.name]) for form in FORMS if form.name in built}


def recorded_format(store: Store) -> str | None:
    """The table format of the lake's state, if it has one it can read."""
    text = store.read_text(STATE)
    try:
        recorded = json.loads(text)["table_format"] if text else None
    except (ValueError, TypeError, KeyError):
        return None
    return recorded if isinstance(recorded, str) else None


def save_state(store: Store, state: LakeState) -> None:
    """Replace the lake's state with ``state``, only if it is still the one ``state`` was read from (or there is
    still none); raise LeaseLostError when another run changed it meanwhile."""
    raw = {
        "state_version": STATE_VERSION,
        "table_format": state.table_format,
        "sources": {
            name: {
                "generation": ledger.generation,
                "files": {
                    path: {key: value for key, value in asdict(entry).items() if key != "path"}
                    for path, entry in sorted(ledger.files.items())
                },
                "pending": ledger.pending,
            }
            for name, ledger in state.sources.items()
        },
        "built": state.built,
        "rows": state.rows,
    }
    text = json.dumps(raw, indent=1, sort_keys=True) + "\n"
    try:
        if state.version is None:
            state.version = store.create_text(STATE, text)
        else:
            state.version = store.replace_text_if(STATE, text, state.version)
    except PreconditionFailedError:
        raise LeaseLostError(
            f"the lake's state {_where(store)} was changed by another run meanwhile; stopped before writing over "
            "it, the next run repairs the lake"
        ) from None


@dataclass(frozen=True)
class FileChanges:
    """How a source's landing files differ from its ledger."""

    new: list[FileEntry]
    changed: list[FileEntry]
    removed: list[str]
    unchanged: int

    @property
    def any(self) -> bool:
        return bool(self.new or self.changed or self.removed)

    def as_json(self) -> dict[str, int]:
        return {
            "new": len(self.new),
            "changed": len(self.changed),
            "removed": len(self.removed),
            "unchanged": self.unchanged,
        }


def compare(listing: list[FileEntry], ledger: SourceLedger) -> FileChanges:
    """New, changed (another size or version), removed and unchanged files of a listing against the ledger."""
    listed = {entry.path: entry for entry in listing}
    new = [entry for path, entry in listed.items() if path not in ledger.files]
    changed = [
        entry for path, entry in listed.items() if path in ledger.files and not ledger.files[path].same_as(entry)
    ]
    removed = sorted(path for path in ledger.files if path not in listed)
    return FileChanges(new, changed, removed, len(listed) - len(new) - len(changed))


@dataclass(frozen=True)
class RunRecord:
    """One run, as ``stedi history`` lists it."""

    run_id: str
    job: str
    started: str
    seconds: float
    engine: str
    table_format: str
    landing: str
    files: dict[str, dict[str, int]]
    lines_ingested: dict[str, int]
    rows_written: dict[str, int]
    rows: dict[str, int] = field(default_factory=dict)
    full_refresh: bool = False
    options: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def record_run(store: Store, record: RunRecord) -> None:
    name = f"{RUNS}/{record.started.replace(':', '').replace('+0000', 'Z')}-{record.run_id}.json"
    store.write_text(name, json.dumps(record.as_json(), sort_keys=True) + "\n")


def history(store: Store) -> list[RunRecord]:
    """Every recorded run, oldest first."""
    records = []
    for entry in store.files(RUNS):
        text = store.read_text(f"{RUNS}/{entry.path}")
        if text is not None and entry.path.endswith(".json"):
            records.append(RunRecord(**json.loads(text)))
    return sorted(records, key=lambda record: record.started)
