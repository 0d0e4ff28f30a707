"""Snakemake script of rule finetune: adamix.train.finetune_job."""

from adamix.joblog import job_log
from adamix.train import finetune_job

with job_log(snakemake.log[0]) as log:
    finetune_job(
        snakemake.input.subset,
        snakemake.input.layers,
        snakemake.output.metrics,
        threads=snakemake.threads,
        log=log.info,
        **dict(snakemake.params.items()),
    )
