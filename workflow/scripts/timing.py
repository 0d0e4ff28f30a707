"""Snakemake script of rule timing: adamix.bench.timing_job."""

from adamix.bench import timing_job
from adamix.joblog import job_log

with job_log(snakemake.log[0]) as log:
    timing_job(
        snakemake.input.subset,
        snakemake.input.layers,
        snakemake.output[0],
        log=log.info,
        **dict(snakemake.params.items()),
    )
