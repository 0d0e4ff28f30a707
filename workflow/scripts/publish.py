"""Snakemake script of rule publish: adamix.report.publish.publish."""

from adamix.joblog import job_log
from adamix.report.publish import publish

with job_log(snakemake.log[0]):
    publish(
        list(zip(snakemake.input.writeup, snakemake.params.destinations, strict=True)),
        snakemake.input.metrics,
        snakemake.params.reference,
        snakemake.output[0],
        search=list(zip(snakemake.input.search, snakemake.params.search, strict=True)),
        added=list(snakemake.input.added),
    )
