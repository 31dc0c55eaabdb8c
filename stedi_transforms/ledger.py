"""The lake's own records: which landing files it has ingested, what each table was built from, and its runs.

``<lake>/_stedi/state.json`` holds, per source, the ledger of ingested files (path, size, version) and a
generation that grows whenever that source's files change; per derived table, the generations of the sources it was
built from, so a run rebuilds exactly the tables whose sources changed; and the rows of every table as last written,
so a run counts only the tables it wrote.
``<lake>/_stedi/runs/`` holds one JSON object per run, for ``stedi history``.

The state is replaced in one step (a rename locally, a single PUT on S3) after each table it describes is
committed, and the files being ingested are recorded as *pending* before their rows are written: a run killed at any
moment leaves a state that names every table it may have touched, and the next run repairs exactly those.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from stedi_transforms.storage import FileEntry, Store

STATE = "_stedi/state.json"
RUNS = "_stedi/runs"
STATE_VERSION = 1


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

    def ledger(self, source: str) -> SourceLedger:
        return self.sources.setdefault(source, SourceLedger())

    def generations(self, sources: tuple[str, ...]) -> dict[str, int]:
        return {source: self.ledger(source).generation for source in sources}


def load_state(store: Store, table_format: str) -> LakeState:
    """The lake's state, or a fresh one where there is none, or where it was written for another format."""
    text = store.read_text(STATE)
    if text is None:
        return LakeState(table_format)
    raw = json.loads(text)
    if raw.get("state_version") != STATE_VERSION or raw.get("table_format") != table_format:
        return LakeState(table_format)
    return LakeState(
        table_format,
        sources={
            name: SourceLedger(
                ledger["generation"],
                {path: IngestedFile(path, **entry) for path, entry in ledger["files"].items()},
                list(ledger["pending"]),
            )
            for name, ledger in raw["sources"].items()
        },
        built=raw["built"],
        rows=raw.get("rows", {}),  # absent from the states of earlier versions: those tables are counted once
    )


def recorded_options(state: LakeState) -> dict[str, str]:
    """The ML table's options the lake's tables were built with, as the state recorded them."""
    built = state.built.get("machine_learning_curated", {})
    return {name: str(built[name]) for name in ("ml_join", "consent_cutoff") if name in built}


def recorded_format(store: Store) -> str | None:
    """The table format of the lake's state, if it has one."""
    text = store.read_text(STATE)
    return str(json.loads(text)["table_format"]) if text else None


def save_state(store: Store, state: LakeState) -> None:
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
    store.write_text(STATE, json.dumps(raw, indent=1, sort_keys=True) + "\n")


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
