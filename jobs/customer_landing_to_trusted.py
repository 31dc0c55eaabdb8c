"""Glue job: customer landing → customer_rejected, customer_trusted (customers who consented to research).

Arguments: --JOB_NAME, --LAKE s3://bucket/prefix, --DATABASE, --FORMAT json|glueparquet|delta, optional --LANDING.
"""

from stedi_transforms import pipeline
from stedi_transforms.glue import glue_job

with glue_job() as (spark, landing, io):
    pipeline.customer_landing_to_trusted(spark, landing, io)
