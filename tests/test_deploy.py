"""`stedi glue deploy | run | teardown` against moto's S3 and Glue: exactly the right resources and job parameters,
a run in dependency order that stops at the first failure, a teardown that leaves the account as it was, and two
deployments side by side that each touch only their own."""

from __future__ import annotations

import functools
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID as ACCOUNT
from moto.s3.models import s3_backends

from stedi_transforms import glue as glue_adapter
from stedi_transforms.cli import main
from stedi_transforms.deploy import DELTA_CONF, DeployError, GlueSettings, deploy, run_jobs, teardown

BUCKET = "stedi-lake"
OTHER = "stedi-other"
ROLE = "arn:aws:iam::123456789012:role/stedi-glue"
PIPELINE = [
    "customer_landing_to_trusted",
    "accelerometer_landing_to_trusted",
    "customer_trusted_to_curated",
    "step_trainer_trusted",
    "machine_learning_curated",
]
JOBS = [f"{BUCKET}-{job}" for job in PIPELINE]  # a deployment's jobs carry its name: by default, its bucket
TAG = {"stedi:deployment": BUCKET}


@pytest.fixture
def wheel(tmp_path: Path) -> Path:
    path = tmp_path / "stedi_transforms-0.1.0-py3-none-any.whl"
    path.write_bytes(b"a wheel")
    return path


@pytest.fixture(autouse=True)
def no_rulesets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The package's own rulesets stay out of these tests; those about rulesets bring theirs."""
    monkeypatch.setattr(glue_adapter, "RULESETS", tmp_path / "no-rulesets")


DATA_QUALITY_CALLS = {
    "create_data_quality_ruleset",
    "update_data_quality_ruleset",
    "get_data_quality_ruleset",
    "list_data_quality_rulesets",
    "delete_data_quality_ruleset",
}


class NoRulesets:
    """The answer of an account without Data Quality rulesets, to the one call deploy and teardown make then."""

    def list_data_quality_rulesets(self, **arguments: Any) -> dict[str, Any]:
        return {"Rulesets": []}


class GlueWithDataQuality:
    """moto's Glue, with the Data Quality calls moto lacks sent to ``data_quality``: a Glue client that a test stubs
    with botocore's Stubber, or by default :class:`NoRulesets`."""

    def __init__(self, glue: Any, spare: Any) -> None:
        self.glue = glue
        self.spare = spare  # a Glue client of the same session (the same exception classes), for a Stubber
        self.data_quality: Any = NoRulesets()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.data_quality if name in DATA_QUALITY_CALLS else self.glue, name)


_make_client = boto3.client


@functools.cache
def _client(name: str, copy: int = 0) -> Any:
    """One client per service (and ``copy``) for the whole module: making one reads its service's model, a tenth of
    a second each, and moto's mock reaches clients made before it starts (each test's mock starts empty)."""
    return _make_client(name)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Any]]:
    for name, value in {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        s3 = _client("s3")
        for bucket in (BUCKET, OTHER):
            s3.create_bucket(Bucket=bucket)
            s3.put_object(Bucket=bucket, Key="customer/landing/customer-1.json", Body=b"{}\n")
        glue = GlueWithDataQuality(_client("glue"), _client("glue", copy=1))
        monkeypatch.setattr(boto3, "client", lambda name: glue if name == "glue" else _client(name))
        yield s3, glue


def stedi(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(argv), out=out), out.getvalue()


def keys(s3: Any, bucket: str = BUCKET) -> list[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


def account(s3: Any, glue: Any) -> dict[str, Any]:
    """Everything deploy may touch: both buckets' keys, every database with its tables' locations, every job's lake."""
    databases = [database["Name"] for database in glue.get_databases()["DatabaseList"]]
    return {
        "keys": {bucket: keys(s3, bucket) for bucket in (BUCKET, OTHER)},
        "tables": {
            database: sorted(
                (table["Name"], table["StorageDescriptor"]["Location"])
                for table in glue.get_tables(DatabaseName=database)["TableList"]
            )
            for database in databases
        },
        "jobs": sorted(
            (name, glue.get_job(JobName=name)["Job"]["DefaultArguments"].get("--LAKE"))
            for name in glue.list_jobs()["JobNames"]
        ),
    }


def landing_tables(database: str, bucket: str) -> list[tuple[str, str]]:
    return [
        (f"{source}_landing", f"s3://{bucket}/{source}/landing/")
        for source in ("accelerometer", "customer", "step_trainer")
    ]


def deployed_jobs(name: str, bucket: str) -> list[tuple[str, str]]:
    return sorted((f"{name}-{job}", f"s3://{bucket}") for job in PIPELINE)


def test_a_dry_run_prints_the_whole_plan_and_touches_nothing(wheel: Path) -> None:
    code, out = stedi("glue", "deploy", "--bucket", BUCKET, "--role", ROLE, "--wheel", str(wheel), "--dry-run")
    lines = out.splitlines()
    assert code == 0
    assert lines[0] == f"upload   {wheel.name} → s3://{BUCKET}/glue/{BUCKET}/{wheel.name}"
    assert lines[1:6] == [f"upload   {job}.py → s3://{BUCKET}/glue/{BUCKET}/jobs/{job}.py" for job in PIPELINE]
    assert lines[6] == "database stedi (create or update)"
    assert lines[7:10] == [
        f"table    stedi.{source}_landing → s3://{BUCKET}/{source}/landing/"
        for source in ("customer", "accelerometer", "step_trainer")
    ]
    assert [line.split()[1] for line in lines[10:]] == JOBS
    assert all("--FORMAT json" in line and "--LAKE s3://stedi-lake" in line for line in lines[10:])


def test_deploy_creates_exactly_the_resources(aws: tuple[Any, Any], wheel: Path) -> None:
    s3, glue = aws
    code, _ = stedi("glue", "deploy", "--bucket", BUCKET, "--role", ROLE, "--wheel", str(wheel), "--format", "delta")
    assert code == 0
    assert keys(s3) == sorted(
        ["customer/landing/customer-1.json", f"glue/{BUCKET}/{wheel.name}"]
        + [f"glue/{BUCKET}/jobs/{job}.py" for job in PIPELINE]
    )
    tables = {table["Name"]: table for table in glue.get_tables(DatabaseName="stedi")["TableList"]}
    assert sorted(tables) == ["accelerometer_landing", "customer_landing", "step_trainer_landing"]
    assert tables["accelerometer_landing"]["StorageDescriptor"]["Columns"] == [
        {"Name": "user", "Type": "string"},
        {"Name": "timestamp", "Type": "bigint"},
        {"Name": "x", "Type": "double"},
        {"Name": "y", "Type": "double"},
        {"Name": "z", "Type": "double"},
    ]
    job = glue.get_job(JobName=f"{BUCKET}-machine_learning_curated")["Job"]
    assert job["GlueVersion"] == "6.0"
    assert job["Command"]["ScriptLocation"] == f"s3://{BUCKET}/glue/{BUCKET}/jobs/machine_learning_curated.py"
    assert job["DefaultArguments"] == {
        "--additional-python-modules": f"s3://{BUCKET}/glue/{BUCKET}/{wheel.name}",
        "--LAKE": f"s3://{BUCKET}",
        "--DATABASE": "stedi",
        "--FORMAT": "delta",
        "--enable-glue-datacatalog": "true",
        "--job-language": "python",
        "--datalake-formats": "delta",
        "--conf": DELTA_CONF,
    }
    assert sorted(glue.list_jobs()["JobNames"]) == sorted(JOBS)


def test_deploy_passes_the_ml_options_and_the_dq_action_to_every_job(aws: tuple[Any, Any], wheel: Path) -> None:
    _, glue = aws
    code, _ = stedi(
        "glue", "deploy", "--bucket", BUCKET, "--role", ROLE, "--wheel", str(wheel),
        "--ml-join", "owner", "--consent-cutoff", "--dq-action", "fail",
    )  # fmt: skip
    assert code == 0
    arguments = [glue.get_job(JobName=job)["Job"]["DefaultArguments"] for job in JOBS]
    assert [(a.get("--ML_JOIN"), a.get("--CONSENT_CUTOFF"), a.get("--DQ_ACTION")) for a in arguments] == [
        ("owner", "true", "fail")
    ] * len(JOBS)


def test_deploy_twice_updates_in_place(aws: tuple[Any, Any], wheel: Path) -> None:
    _, glue = aws
    stedi("glue", "deploy", "--bucket", BUCKET, "--role", ROLE, "--wheel", str(wheel))
    code, _ = stedi(
        "glue", "deploy", "--bucket", BUCKET, "--role", ROLE, "--wheel", str(wheel), "--glue-version", "5.1"
    )
    assert code == 0
    assert glue.get_job(JobName=JOBS[0])["Job"]["GlueVersion"] == "5.1"
    assert len(glue.get_tables(DatabaseName="stedi")["TableList"]) == 3


class GlueRefusingDuplicateJobs:
    """moto's Glue, except that creating a job that exists fails as it does in AWS (moto overwrites it), and
    update_job, which moto lacks, replaces the job with the update."""

    def __init__(self, glue: Any) -> None:
        self.glue = glue

    def __getattr__(self, name: str) -> Any:
        return getattr(self.glue, name)

    def create_job(self, **job: Any) -> dict[str, Any]:
        if job["Name"] in self.glue.list_jobs()["JobNames"]:
            raise self.glue.exceptions.AlreadyExistsException(
                {"Error": {"Code": "AlreadyExistsException", "Message": "job exists"}}, "CreateJob"
            )
        result: dict[str, Any] = self.glue.create_job(**job)
        return result

    def update_job(self, JobName: str, JobUpdate: dict[str, Any]) -> dict[str, Any]:  # noqa: N803 (boto3's names)
        assert "Name" not in JobUpdate
        self.glue.delete_job(JobName=JobName)
        self.glue.create_job(Name=JobName, **JobUpdate)
        return {"JobName": JobName}


def test_redeploying_updates_existing_jobs_and_returns_the_whole_plan(aws: tuple[Any, Any], wheel: Path) -> None:
    s3, glue = aws
    refusing = GlueRefusingDuplicateJobs(glue)
    deploy(GlueSettings(BUCKET, ROLE), wheel, s3, refusing)
    again = deploy(GlueSettings(BUCKET, ROLE, glue_version="5.1"), wheel, s3, refusing)
    assert [job["Name"] for job in again.jobs] == JOBS
    assert [glue.get_job(JobName=job)["Job"]["GlueVersion"] for job in JOBS] == ["5.1"] * len(JOBS)


def test_run_starts_the_jobs_in_order(aws: tuple[Any, Any], wheel: Path) -> None:
    stedi("glue", "deploy", "--bucket", BUCKET, "--role", ROLE, "--wheel", str(wheel))
    code, out = stedi("glue", "run", "--bucket", BUCKET)
    assert code == 0
    assert [line.split() for line in out.splitlines()] == [[job, "SUCCEEDED"] for job in JOBS]


def test_running_a_deployment_that_is_not_there_is_one_line(
    aws: tuple[Any, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = stedi("glue", "run", "--bucket", BUCKET)
    assert (code, capsys.readouterr().err) == (
        2,
        f"stedi: error: job {JOBS[0]} does not exist: deploy {BUCKET} first\n",
    )


class FailingSecondJob:
    """moto's Glue, except that the second job fails as Glue reports it."""

    def __init__(self, glue: Any) -> None:
        self.glue = glue
        self.started: list[str] = []

    def start_job_run(self, JobName: str) -> dict[str, Any]:  # noqa: N803 (boto3's name)
        self.started.append(JobName)
        result: dict[str, Any] = self.glue.start_job_run(JobName=JobName)
        return result

    def get_job_run(self, JobName: str, RunId: str) -> dict[str, Any]:  # noqa: N803
        run: dict[str, Any] = self.glue.get_job_run(JobName=JobName, RunId=RunId)
        if JobName == JOBS[1]:
            run["JobRun"] |= {"JobRunState": "FAILED", "ErrorMessage": "AnalysisException: Path does not exist"}
        return run


def test_run_stops_at_the_first_failure_with_its_message(aws: tuple[Any, Any], wheel: Path) -> None:
    _, glue = aws
    stedi("glue", "deploy", "--bucket", BUCKET, "--role", ROLE, "--wheel", str(wheel))
    failing = FailingSecondJob(glue)
    with pytest.raises(DeployError, match=f"job {JOBS[1]} failed: AnalysisException: Path does not exist"):
        run_jobs(failing, GlueSettings(BUCKET, ROLE), poll_seconds=0)
    assert failing.started == JOBS[:2]


def test_deploy_run_teardown_leaves_the_account_as_it_was(aws: tuple[Any, Any], wheel: Path) -> None:
    s3, glue = aws
    before = (keys(s3), glue.get_databases()["DatabaseList"], glue.list_jobs()["JobNames"])
    stedi("glue", "deploy", "--bucket", BUCKET, "--role", ROLE, "--wheel", str(wheel))
    assert stedi("glue", "run", "--bucket", BUCKET)[0] == 0
    s3.put_object(Bucket=BUCKET, Key="customer/trusted/part-0.json", Body=b"{}\n")
    code, _ = stedi("glue", "teardown", "--bucket", BUCKET, "--outputs")
    assert code == 0
    assert (keys(s3), glue.get_databases()["DatabaseList"], glue.list_jobs()["JobNames"]) == before


def test_teardown_keeps_zone_outputs_unless_asked(aws: tuple[Any, Any], wheel: Path) -> None:
    s3, _ = aws
    stedi("glue", "deploy", "--bucket", BUCKET, "--role", ROLE, "--wheel", str(wheel))
    s3.put_object(Bucket=BUCKET, Key="customer/trusted/part-0.json", Body=b"{}\n")
    stedi("glue", "teardown", "--bucket", BUCKET)
    assert keys(s3) == ["customer/landing/customer-1.json", "customer/trusted/part-0.json"]


def test_a_deployment_name_that_cannot_name_its_resources_is_one_line(
    wheel: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = stedi("glue", "deploy", "--bucket", "Old_Bucket", "--role", ROLE, "--wheel", str(wheel), "--dry-run")
    assert (code, capsys.readouterr().err) == (
        2,
        "stedi: error: deployment name 'Old_Bucket': 1 to 63 lower-case letters, digits, dots and hyphens; "
        "give one with --name\n",
    )


def test_settings_refuse_an_unknown_glue_version() -> None:
    with pytest.raises(ValueError, match=r"unknown Glue version '4\.0'"):
        GlueSettings(BUCKET, ROLE, glue_version="4.0")


def test_two_deployments_side_by_side_each_tear_down_only_their_own(aws: tuple[Any, Any], wheel: Path) -> None:
    s3, glue = aws
    assert stedi("glue", "deploy", "--bucket", BUCKET, "--role", ROLE, "--wheel", str(wheel))[0] == 0
    code, _ = stedi(
        "glue", "deploy", "--bucket", OTHER, "--role", ROLE, "--wheel", str(wheel), "--database", "stedi_other"
    )
    assert code == 0
    artifacts = sorted([f"glue/{OTHER}/{wheel.name}"] + [f"glue/{OTHER}/jobs/{job}.py" for job in PIPELINE])
    other = {
        "keys": {BUCKET: ["customer/landing/customer-1.json"], OTHER: ["customer/landing/customer-1.json", *artifacts]},
        "tables": {"stedi_other": landing_tables("stedi_other", OTHER)},
        "jobs": deployed_jobs(OTHER, OTHER),
    }
    both = {
        "keys": {
            BUCKET: sorted(
                ["customer/landing/customer-1.json", f"glue/{BUCKET}/{wheel.name}"]
                + [f"glue/{BUCKET}/jobs/{job}.py" for job in PIPELINE]
            ),
            OTHER: other["keys"][OTHER],
        },
        "tables": {"stedi": landing_tables("stedi", BUCKET), **other["tables"]},
        "jobs": sorted(deployed_jobs(BUCKET, BUCKET) + deployed_jobs(OTHER, OTHER)),
    }
    assert account(s3, glue) == both
    assert stedi("glue", "teardown", "--bucket", BUCKET, "--outputs")[0] == 0
    assert account(s3, glue) == other


def test_a_deployment_named_apart_from_its_bucket(aws: tuple[Any, Any], wheel: Path) -> None:
    s3, glue = aws
    code, _ = stedi(
        "glue", "deploy", "--bucket", BUCKET, "--name", "stedi-test", "--role", ROLE, "--wheel", str(wheel),
        "--database", "stedi_test",
    )  # fmt: skip
    assert code == 0
    assert account(s3, glue)["jobs"] == deployed_jobs("stedi-test", BUCKET)
    assert [
        line.split() for line in stedi("glue", "run", "--bucket", BUCKET, "--name", "stedi-test")[1].splitlines()
    ] == [[f"stedi-test-{job}", "SUCCEEDED"] for job in PIPELINE]
    stedi("glue", "teardown", "--bucket", BUCKET, "--name", "stedi-test")
    assert account(s3, glue) == {
        "keys": {bucket: ["customer/landing/customer-1.json"] for bucket in (BUCKET, OTHER)},
        "tables": {},
        "jobs": [],
    }


def test_deploy_refuses_a_database_another_deployment_owns(aws: tuple[Any, Any], wheel: Path) -> None:
    s3, glue = aws
    stedi("glue", "deploy", "--bucket", BUCKET, "--role", ROLE, "--wheel", str(wheel))
    before = account(s3, glue)
    code, _ = stedi("glue", "deploy", "--bucket", OTHER, "--role", ROLE, "--wheel", str(wheel))
    assert code == 2
    assert account(s3, glue) == before


def test_the_refusal_is_one_line_naming_the_owner_and_the_way_out(aws: tuple[Any, Any], wheel: Path) -> None:
    s3, glue = aws
    deploy(GlueSettings(BUCKET, ROLE), wheel, s3, glue)
    with pytest.raises(DeployError) as refused:
        deploy(GlueSettings(OTHER, ROLE), wheel, s3, glue)
    assert str(refused.value) == (
        f"database stedi belongs to deployment {BUCKET}; give deployment {OTHER} its own with --database"
    )


def test_teardown_keeps_a_database_it_did_not_create_and_what_others_made(aws: tuple[Any, Any], wheel: Path) -> None:
    s3, glue = aws
    glue.create_database(DatabaseInput={"Name": "stedi"})
    glue.create_table(
        DatabaseName="stedi",
        TableInput={"Name": "sales", "StorageDescriptor": {"Location": "s3://sales/"}},
    )
    glue.create_job(Name="customer_landing_to_trusted", Role=ROLE, Command={"Name": "glueetl"})
    before = account(s3, glue)
    assert stedi("glue", "deploy", "--bucket", BUCKET, "--role", ROLE, "--wheel", str(wheel))[0] == 0
    assert account(s3, glue)["tables"]["stedi"] == sorted([("sales", "s3://sales/"), *landing_tables("stedi", BUCKET)])
    code, out = stedi("glue", "teardown", "--bucket", BUCKET)
    assert code == 0
    assert account(s3, glue) == before
    assert "kept     database stedi (not created by this deployment)" in out.splitlines()


class S3RefusingLargeDeletes:
    """moto's S3, except that a delete of more than 1,000 keys fails as it does in S3 (moto takes any number)."""

    def __init__(self, s3: Any) -> None:
        self.s3 = s3
        self.batches: list[int] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.s3, name)

    def delete_objects(self, Bucket: str, Delete: dict[str, Any]) -> dict[str, Any]:  # noqa: N803 (boto3's names)
        if len(Delete["Objects"]) > 1000:
            raise self.s3.exceptions.ClientError(
                {"Error": {"Code": "MalformedXML", "Message": "more than 1000 keys"}}, "DeleteObjects"
            )
        self.batches.append(len(Delete["Objects"]))
        result: dict[str, Any] = self.s3.delete_objects(Bucket=Bucket, Delete=Delete)
        return result


def test_teardown_deletes_more_than_a_thousand_objects_in_batches(aws: tuple[Any, Any], wheel: Path) -> None:
    s3, glue = aws
    deploy(GlueSettings(BUCKET, ROLE), wheel, s3, glue)
    backend = s3_backends[ACCOUNT]["global"]  # straight into moto's store: 1,001 requests would take 15 s
    for part in range(1001):
        backend.put_object(BUCKET, f"customer/trusted/part-{part:04}.json", b"{}\n")
    refusing = S3RefusingLargeDeletes(s3)
    removed = teardown(GlueSettings(BUCKET, ROLE), refusing, glue, outputs=True)
    assert keys(s3) == ["customer/landing/customer-1.json"]
    assert refusing.batches == [6, 1000, 1]  # the artifacts, then the trusted customers' 1,001 parts
    assert f"removed s3://{BUCKET}/customer/trusted/ (1001 objects)" in removed


def test_a_teardown_dry_run_shows_what_it_would_remove_and_touches_nothing(aws: tuple[Any, Any], wheel: Path) -> None:
    s3, glue = aws
    stedi("glue", "deploy", "--bucket", BUCKET, "--role", ROLE, "--wheel", str(wheel))
    stedi("glue", "deploy", "--bucket", OTHER, "--role", ROLE, "--wheel", str(wheel), "--database", "stedi_other")
    s3.put_object(Bucket=BUCKET, Key="customer/trusted/part-0.json", Body=b"{}\n")
    before = account(s3, glue)
    code, out = stedi("glue", "teardown", "--bucket", BUCKET, "--outputs", "--dry-run")
    assert code == 0
    assert account(s3, glue) == before
    assert out.splitlines() == [
        *[f"would remove job      {job}" for job in JOBS],
        *[f"would remove table    stedi.{source}_landing" for source in ("customer", "accelerometer", "step_trainer")],
        "would remove database stedi",
        f"would remove s3://{BUCKET}/glue/{BUCKET}/ (6 objects)",
        f"would remove s3://{BUCKET}/customer/trusted/ (1 objects)",
    ]


def test_deploy_refuses_a_job_of_its_name_that_it_did_not_make(aws: tuple[Any, Any], wheel: Path) -> None:
    s3, glue = aws
    glue.create_job(Name=JOBS[2], Role=ROLE, Command={"Name": "glueetl"}, DefaultArguments={"--LAKE": "s3://elsewhere"})
    before = account(s3, glue)
    with pytest.raises(DeployError, match=f"^job {JOBS[2]} exists without the tag stedi:deployment={BUCKET}; "):
        deploy(GlueSettings(BUCKET, ROLE), wheel, s3, glue)
    assert account(s3, glue) == before


RULESETS = {
    "customer_trusted": 'Rules = [ IsComplete "email", IsUnique "email" ]\n',
    "machine_learning_curated": "Rules = [ RowCount > 0 ]\n",
}


def ruleset_arguments(name: str, table: str) -> dict[str, Any]:
    return {
        "Name": f"{name}-{table}",
        "Description": f"dq/{table}.dqdl of stedi-transforms, for deployment {name}",
        "Ruleset": RULESETS[table],
        "TargetTable": {"TableName": table, "DatabaseName": "stedi"},
    }


@pytest.fixture
def rulesets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "dq"
    folder.mkdir()
    for table, text in RULESETS.items():
        (folder / f"{table}.dqdl").write_text(text)
    monkeypatch.setattr(glue_adapter, "RULESETS", folder)


@pytest.mark.usefixtures("rulesets")
def test_deploy_registers_each_tables_ruleset_tagged_and_teardown_removes_them(
    aws: tuple[Any, Any], wheel: Path
) -> None:
    """moto has no Data Quality API: botocore's Stubber checks each call against Glue's model and the expected one."""
    _, glue = aws
    names = [f"{BUCKET}-{table}" for table in RULESETS]
    with Stubber(glue.spare) as stub:
        stub.add_response("list_data_quality_rulesets", {"Rulesets": []}, {"Tags": TAG})
        for name in names:
            stub.add_client_error("get_data_quality_ruleset", "EntityNotFoundException", expected_params={"Name": name})
        for table in RULESETS:
            arguments = ruleset_arguments(BUCKET, table) | {"Tags": TAG}
            stub.add_response("create_data_quality_ruleset", {"Name": arguments["Name"]}, arguments)
        stub.add_response("list_data_quality_rulesets", {"Rulesets": [{"Name": name} for name in names]}, {"Tags": TAG})
        for name in names:
            stub.add_response("delete_data_quality_ruleset", {}, {"Name": name})
        glue.data_quality = glue.spare
        code, out = stedi("glue", "deploy", "--bucket", BUCKET, "--role", ROLE, "--wheel", str(wheel))
        assert (code, out.splitlines()[-2:]) == (
            0,
            [f"ruleset  {name} → stedi.{table}" for name, table in zip(names, RULESETS, strict=True)],
        )
        code, out = stedi("glue", "teardown", "--bucket", BUCKET)
        assert code == 0
        assert [line for line in out.splitlines() if "ruleset" in line] == [
            f"removed ruleset  {name}" for name in names
        ]
        stub.assert_no_pending_responses()


@pytest.mark.usefixtures("rulesets")
def test_redeploying_updates_its_own_rulesets(aws: tuple[Any, Any], wheel: Path) -> None:
    s3, glue = aws
    names = [f"{BUCKET}-{table}" for table in RULESETS]
    with Stubber(glue.spare) as stub:
        stub.add_response("list_data_quality_rulesets", {"Rulesets": [{"Name": name} for name in names]}, {"Tags": TAG})
        for table in RULESETS:
            arguments = ruleset_arguments(BUCKET, table)
            stub.add_client_error(
                "create_data_quality_ruleset", "AlreadyExistsException", expected_params=arguments | {"Tags": TAG}
            )
            stub.add_response(
                "update_data_quality_ruleset",
                {"Name": arguments["Name"]},
                {key: arguments[key] for key in ("Name", "Description", "Ruleset")},
            )
        glue.data_quality = glue.spare
        deploy(GlueSettings(BUCKET, ROLE), wheel, s3, glue)
        stub.assert_no_pending_responses()


@pytest.mark.usefixtures("rulesets")
def test_deploy_refuses_a_ruleset_of_its_name_that_it_did_not_make(aws: tuple[Any, Any], wheel: Path) -> None:
    s3, glue = aws
    before = account(s3, glue)
    with Stubber(glue.spare) as stub:
        stub.add_response("list_data_quality_rulesets", {"Rulesets": []}, {"Tags": TAG})
        stub.add_response(
            "get_data_quality_ruleset", {"Name": f"{BUCKET}-customer_trusted"}, {"Name": f"{BUCKET}-customer_trusted"}
        )
        glue.data_quality = glue.spare
        with pytest.raises(DeployError, match=f"^ruleset {BUCKET}-customer_trusted exists without the tag "):
            deploy(GlueSettings(BUCKET, ROLE), wheel, s3, glue)
    assert account(s3, glue) == before


def test_teardown_removes_the_catalog_tables_the_jobs_sinks_made_and_then_its_database(
    aws: tuple[Any, Any], wheel: Path
) -> None:
    s3, glue = aws
    before = account(s3, glue)
    stedi("glue", "deploy", "--bucket", BUCKET, "--role", ROLE, "--wheel", str(wheel))
    for table, folder in (("customer_ingested", "customer/ingested"), ("customer_trusted", "customer/trusted")):
        glue.create_table(  # as the catalog-updating sink makes them: no parameter of ours
            DatabaseName="stedi",
            TableInput={"Name": table, "StorageDescriptor": {"Location": f"s3://{BUCKET}/{folder}/"}},
        )
    code, out = stedi("glue", "teardown", "--bucket", BUCKET)
    assert code == 0
    assert account(s3, glue) == before
    assert "removed database stedi" in out.splitlines()


def test_teardown_also_removes_what_an_earlier_version_deployed_for_the_bucket(
    aws: tuple[Any, Any], wheel: Path
) -> None:
    """Before deployments had names, deploy made jobs named as the pipeline's, untagged, and artifacts in glue/."""
    s3, glue = aws
    for job in PIPELINE:
        lake = "s3://elsewhere" if job == PIPELINE[-1] else f"s3://{BUCKET}"  # the last: another bucket's
        glue.create_job(
            Name=job,
            Role=ROLE,
            Command={"Name": "glueetl", "ScriptLocation": f"{lake}/glue/jobs/{job}.py"},
            DefaultArguments={"--LAKE": lake, "--DATABASE": "stedi"},
        )
        s3.put_object(Bucket=BUCKET, Key=f"glue/jobs/{job}.py", Body=b"")
    s3.put_object(Bucket=BUCKET, Key=f"glue/{wheel.name}", Body=b"")
    glue.create_database(DatabaseInput={"Name": "stedi"})
    for source in ("customer", "accelerometer", "step_trainer"):
        location = f"s3://{BUCKET}/{source}/landing/"
        glue.create_table(
            DatabaseName="stedi", TableInput={"Name": f"{source}_landing", "StorageDescriptor": {"Location": location}}
        )
    code, out = stedi("glue", "teardown", "--bucket", BUCKET)
    assert code == 0
    assert account(s3, glue) == {
        "keys": {bucket: ["customer/landing/customer-1.json"] for bucket in (BUCKET, OTHER)},
        "tables": {"stedi": []},  # the database is kept: it may have been there before
        "jobs": [(PIPELINE[-1], "s3://elsewhere")],
    }
    assert out.splitlines() == [
        *[f"removed job      {job}" for job in PIPELINE[:-1]],
        *[f"removed table    stedi.{source}_landing" for source in ("customer", "accelerometer", "step_trainer")],
        f"removed s3://{BUCKET}/glue/jobs/*.py, glue/*.whl (6 objects)",
        "kept     database stedi (not created by this deployment)",
    ]


def test_everything_deploy_creates_carries_the_deployments_tag(aws: tuple[Any, Any], wheel: Path) -> None:
    s3, glue = aws
    stedi("glue", "deploy", "--bucket", BUCKET, "--name", "stedi-test", "--role", ROLE, "--wheel", str(wheel))
    tag = {"stedi:deployment": "stedi-test"}
    arn = f"arn:aws:glue:us-east-1:{ACCOUNT}:job/"
    assert {
        "objects": {
            key: s3.get_object_tagging(Bucket=BUCKET, Key=key)["TagSet"] for key in keys(s3) if key.startswith("glue/")
        },
        "database": glue.get_database(Name="stedi")["Database"]["Parameters"],
        "tables": [table["Parameters"] for table in glue.get_tables(DatabaseName="stedi")["TableList"]],
        "jobs": [glue.get_tags(ResourceArn=f"{arn}stedi-test-{job}")["Tags"] for job in PIPELINE],
    } == {
        "objects": {
            key: [{"Key": "stedi:deployment", "Value": "stedi-test"}]
            for key in [f"glue/stedi-test/{wheel.name}", *[f"glue/stedi-test/jobs/{job}.py" for job in PIPELINE]]
        },
        "database": tag,
        "tables": [{"classification": "json", **tag}] * 3,
        "jobs": [tag] * 5,
    }
