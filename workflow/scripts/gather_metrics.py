"""Snakemake script of rule gather_metrics: every fine-tuning parquet in one file."""

from adamix.joblog import job_log
from adamix.tables import gather_metrics

with job_log(snakemake.log[0]):
    gather_metrics(snakemake.input, snakemake.output[0])
