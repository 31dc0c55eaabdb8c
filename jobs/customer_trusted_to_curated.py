"""Glue job: customer_trusted + accelerometer_trusted → customer_curated (customers with readings).

Arguments: --JOB_NAME, --LAKE s3://bucket/prefix, --DATABASE, --FORMAT json|glueparquet|delta, optional --LANDING.
"""

from stedi_transforms import pipeline
from stedi_transforms.glue import glue_job

with glue_job() as (spark, landing, io):
    pipeline.customer_trusted_to_curated(spark, landing, io)
