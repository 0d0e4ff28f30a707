"""Snakemake script of rule pretrain_layer: adamix.rbm.pretrain_job."""

from adamix.joblog import job_log
from adamix.rbm import pretrain_job

with job_log(snakemake.log[0]) as log:
    pretrain_job(
        snakemake.input.subset,
        snakemake.input.lower,
        snakemake.output.checkpoint,
        snakemake.output.errors,
        n_hidden=snakemake.params.n_hidden,
        top=snakemake.params.top,
        settings=snakemake.params.settings,
        weight_std=snakemake.params.weight_std,
        size=float(snakemake.wildcards.size),
        seed=int(snakemake.wildcards.seed),
        device=snakemake.params.device,
        threads=snakemake.threads,
        log=log.info,
    )
