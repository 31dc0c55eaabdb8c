"""Glue job: step_trainer landing + customer_curated → step_trainer_ingested, step_trainer_rejected,
step_trainer_trusted.

Arguments: --JOB_NAME, --LAKE s3://bucket/prefix, --DATABASE, --FORMAT json|glueparquet|delta, optional --LANDING,
--FULL_REFRESH true and --DQ_ACTION warn|fail (what a table failing its Glue Data Quality ruleset does to the job).
"""

from stedi_transforms.glue import run_glue_job

run_glue_job("step_trainer_trusted")
