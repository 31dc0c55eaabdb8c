"""Glue job: accelerometer landing + customer_trusted → accelerometer_rejected, accelerometer_trusted.

Arguments: --JOB_NAME, --LAKE s3://bucket/prefix, --DATABASE, --FORMAT json|glueparquet|delta, optional --LANDING.
"""

from stedi_transforms import pipeline
from stedi_transforms.glue import glue_job

with glue_job() as (spark, landing, io):
    pipeline.accelerometer_landing_to_trusted(spark, landing, io)
