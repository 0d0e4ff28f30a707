"""Snakemake script of rule pretrain_layer: adamix.train.rbm.pretrain_job."""

from adamix.joblog import job_log
from adamix.train.rbm import pretrain_job

with job_log(snakemake.log[0]) as log:
    pretrain_job(
        snakemake.input.subset,
        snakemake.input.lower,
        snakemake.output.checkpoint,
        snakemake.output.errors,
        threads=snakemake.threads,
        log=log.info,
        **dict(snakemake.params.items()),
    )
