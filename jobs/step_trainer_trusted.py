"""Glue job: step_trainer landing + customer_curated → step_trainer_rejected, step_trainer_trusted.

Arguments: --JOB_NAME, --LAKE s3://bucket/prefix, --DATABASE, --FORMAT json|glueparquet|delta, optional --LANDING.
"""

from stedi_transforms import pipeline
from stedi_transforms.glue import glue_job

with glue_job() as (spark, landing, io):
    pipeline.step_trainer_trusted(spark, landing, io)
