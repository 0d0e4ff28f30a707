"""Snakemake script of rule step_timing: adamix.train.step_timing.step_timing_job."""

from adamix.joblog import job_log
from adamix.train.step_timing import step_timing_job

with job_log(snakemake.log[0]) as log:
    step_timing_job(
        snakemake.input.subset,
        snakemake.input.layers,
        snakemake.output[0],
        log=log.info,
        **dict(snakemake.params.items()),
    )
