"""The ML table's options in every form they take, written once: the field of
:class:`stedi_transforms.transforms.Options`, the ``stedi`` flag, the Glue job argument, the value the lake's state
records, and the SQL checks a lake built with a value gets from ``stedi verify``.

Plain Python, no engine: the ledger reads it too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

Value = str | bool


@dataclass(frozen=True)
class OptionForm:
    """One option: ``name`` is its field in Options and its key in the lake's state; ``default`` its value in the
    original design (a flag is off); ``choices`` the values of a text option (empty for a flag); ``checks``, per
    recorded value, the ``sql/`` file of checks a lake built with it gets."""

    name: str
    default: Value
    help: str
    choices: tuple[str, ...] = ()
    checks: Mapping[str, str] = field(default_factory=dict)

    @property
    def flag(self) -> str:
        """The ``stedi run`` and ``stedi glue deploy`` flag: ``--ml-join``."""
        return "--" + self.name.replace("_", "-")

    @property
    def argument(self) -> str:
        """The Glue job argument: ``ML_JOIN`` (given as ``--ML_JOIN``)."""
        return self.name.upper()

    def recorded(self, value: Value) -> str:
        """The value as the lake's state records it: a flag as ``on`` or ``off``."""
        return ("on" if value else "off") if isinstance(value, bool) else value

    def from_glue(self, text: str | None) -> Value:
        """The value of the Glue argument's text (a flag is ``true`` or not), the default where it is absent."""
        if text is None:
            return self.default
        return text.lower() == "true" if isinstance(self.default, bool) else text

    def to_glue(self, value: Value) -> str | None:
        """The Glue argument's text for ``value``; None for the default, which a job needs not be given."""
        if value == self.default:
            return None
        return "true" if value is True else str(value)


FORMS = (
    OptionForm(
        "ml_join",
        "timestamp",
        "pair each step-trainer reading with every phone reading of that moment (timestamp, the original design) or "
        "only with its device owner's (owner)",
        choices=("timestamp", "owner"),
        checks={"owner": "validation_owner_join.sql"},
    ),
    OptionForm(
        "consent_cutoff",
        False,
        "keep only readings taken at or after their customer's shareWithResearchAsOfDate",
        checks={"on": "validation_consent_cutoff.sql"},
    ),
)
"""Every option, in the order of Options' fields."""

FORMS_BY_NAME = {form.name: form for form in FORMS}


def checks_for(recorded: Mapping[str, str]) -> list[str]:
    """The ``sql/`` files of checks for a lake whose state recorded these options."""
    return [form.checks[recorded[form.name]] for form in FORMS if recorded.get(form.name) in form.checks]
