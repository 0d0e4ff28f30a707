"""Snakemake script of rules gather_metrics and experiment_metrics: job parquets -> one."""

from adamix.joblog import job_log
from adamix.report.tables import gather_metrics

with job_log(snakemake.log[0]):
    gather_metrics(snakemake.input, snakemake.output[0], **dict(snakemake.params.items()))
