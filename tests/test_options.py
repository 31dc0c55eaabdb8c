"""The ML table's options, written once: each one's flag, Glue argument, recorded value and checks come from its
form, and the forms are Options' fields."""

from __future__ import annotations

from dataclasses import asdict, fields
from importlib.resources import files

from stedi_transforms.cli import parser
from stedi_transforms.cli_lake import options_of
from stedi_transforms.options import FORMS, checks_for
from stedi_transforms.transforms import Options


def test_the_forms_are_options_fields_with_their_defaults() -> None:
    assert [(form.name, form.default) for form in FORMS] == [(f.name, f.default) for f in fields(Options)]


def test_each_option_s_forms() -> None:
    assert [(f.flag, f.argument, f.recorded(f.default), f.to_glue(f.default), f.from_glue(None)) for f in FORMS] == [
        ("--ml-join", "ML_JOIN", "timestamp", None, "timestamp"),
        ("--consent-cutoff", "CONSENT_CUTOFF", "off", None, False),
    ]
    ml_join, cutoff = FORMS
    assert (ml_join.recorded("owner"), ml_join.to_glue("owner"), ml_join.from_glue("owner")) == ("owner",) * 3
    assert (cutoff.recorded(True), cutoff.to_glue(True), cutoff.from_glue("TRUE"), cutoff.from_glue("no")) == (
        "on",
        "true",
        True,
        False,
    )


def test_the_flags_give_the_options() -> None:
    args = parser().parse_args(["run", "--ml-join", "owner", "--consent-cutoff"])
    assert asdict(options_of(args)) == {"ml_join": "owner", "consent_cutoff": True}
    assert options_of(parser().parse_args(["run"])) == Options()


def test_a_lake_gets_the_checks_of_the_options_it_was_built_with_and_they_are_in_the_package() -> None:
    assert checks_for({"ml_join": "timestamp", "consent_cutoff": "off"}) == []
    assert checks_for({"ml_join": "owner", "consent_cutoff": "on"}) == [
        "validation_owner_join.sql",
        "validation_consent_cutoff.sql",
    ]
    for form in FORMS:
        for sql in form.checks.values():
            assert (files("stedi_transforms") / "sql" / sql).is_file()
