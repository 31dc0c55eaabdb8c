"""`stedi glue deploy | run | teardown` against moto's S3 and Glue: exactly the right resources and job parameters,
a run in dependency order that stops at the first failure, and a teardown that leaves the account as it was."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from stedi_transforms.cli import main
from stedi_transforms.deploy import DELTA_CONF, DeployError, GlueSettings, deploy, run_jobs

BUCKET = "stedi-lake"
ROLE = "arn:aws:iam::123456789012:role/stedi-glue"
JOBS = [
    "customer_landing_to_trusted",
    "accelerometer_landing_to_trusted",
    "customer_trusted_to_curated",
    "step_trainer_trusted",
    "machine_learning_curated",
]


@pytest.fixture
def wheel(tmp_path: Path) -> Path:
    path = tmp_path / "stedi_transforms-0.1.0-py3-none-any.whl"
    path.write_bytes(b"a wheel")
    return path


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Any]]:
    for name, value in {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key="customer/landing/customer-1.json", Body=b"{}\n")
        yield s3, boto3.client("glue")


def stedi(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(argv), out=out), out.getvalue()


def keys(s3: Any) -> list[str]:
    return sorted(item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []))


def test_a_dry_run_prints_the_whole_plan_and_touches_nothing(wheel: Path) -> None:
    code, out = stedi("glue", "deploy", "--bucket", BUCKET, "--role", ROLE, "--wheel", str(wheel), "--dry-run")
    lines = out.splitlines()
    assert code == 0
    assert lines[0] == f"upload   {wheel.name} → s3://{BUCKET}/glue/{wheel.name}"
    assert lines[1:6] == [f"upload   {job}.py → s3://{BUCKET}/glue/jobs/{job}.py" for job in JOBS]
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
        ["customer/landing/customer-1.json", f"glue/{wheel.name}"] + [f"glue/jobs/{job}.py" for job in JOBS]
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
    job = glue.get_job(JobName="machine_learning_curated")["Job"]
    assert job["GlueVersion"] == "6.0"
    assert job["Command"]["ScriptLocation"] == f"s3://{BUCKET}/glue/jobs/machine_learning_curated.py"
    assert job["DefaultArguments"] == {
        "--additional-python-modules": f"s3://{BUCKET}/glue/{wheel.name}",
        "--LAKE": f"s3://{BUCKET}",
        "--DATABASE": "stedi",
        "--FORMAT": "delta",
        "--enable-glue-datacatalog": "true",
        "--job-language": "python",
        "--datalake-formats": "delta",
        "--conf": DELTA_CONF,
    }
    assert sorted(glue.list_jobs()["JobNames"]) == sorted(JOBS)


def test_deploy_passes_the_ml_options_to_every_job(aws: tuple[Any, Any], wheel: Path) -> None:
    _, glue = aws
    code, _ = stedi(
        "glue", "deploy", "--bucket", BUCKET, "--role", ROLE, "--wheel", str(wheel),
        "--ml-join", "owner", "--consent-cutoff",
    )  # fmt: skip
    assert code == 0
    arguments = [glue.get_job(JobName=job)["Job"]["DefaultArguments"] for job in JOBS]
    assert [(a.get("--ML_JOIN"), a.get("--CONSENT_CUTOFF")) for a in arguments] == [("owner", "true")] * len(JOBS)


def test_deploy_twice_updates_in_place(aws: tuple[Any, Any], wheel: Path) -> None:
    _, glue = aws
    stedi("glue", "deploy", "--bucket", BUCKET, "--role", ROLE, "--wheel", str(wheel))
    code, _ = stedi(
        "glue", "deploy", "--bucket", BUCKET, "--role", ROLE, "--wheel", str(wheel), "--glue-version", "5.1"
    )
    assert code == 0
    assert glue.get_job(JobName="customer_landing_to_trusted")["Job"]["GlueVersion"] == "5.1"
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
        run_jobs(failing, poll_seconds=0)
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


def test_settings_refuse_an_unknown_glue_version() -> None:
    with pytest.raises(ValueError, match=r"unknown Glue version '4\.0'"):
        GlueSettings(BUCKET, ROLE, glue_version="4.0")
