"""Glue job: customer_trusted + accelerometer_trusted → customer_curated (customers with readings).

Arguments: --JOB_NAME, --LAKE s3://bucket/prefix, --DATABASE, --FORMAT json|glueparquet|delta, optional --LANDING,
--FULL_REFRESH true and --DQ_ACTION warn|fail (what a table failing its Glue Data Quality ruleset does to the job).
"""

from stedi_transforms.glue import run_glue_job

run_glue_job("customer_trusted_to_curated")
