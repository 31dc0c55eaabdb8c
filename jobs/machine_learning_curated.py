"""Glue job: step_trainer_trusted + accelerometer_trusted → machine_learning_curated (joined on timestamp).

Arguments: --JOB_NAME, --LAKE s3://bucket/prefix, --DATABASE, --FORMAT json|glueparquet|delta, optional --LANDING.
"""

from stedi_transforms import pipeline
from stedi_transforms.glue import glue_job

with glue_job() as (spark, landing, io):
    pipeline.machine_learning_curated(spark, landing, io)
