"""Snakemake script of rule finetune: adamix.train.finetune_job."""

from adamix.joblog import job_log
from adamix.train import finetune_job

with job_log(snakemake.log[0]) as log:
    finetune_job(
        snakemake.input.subset,
        snakemake.input.layers,
        snakemake.output.metrics,
        weight_rule=snakemake.wildcards.weight,
        bias_rule=snakemake.wildcards.bias,
        reading=snakemake.wildcards.reading,
        size=float(snakemake.wildcards.size),
        seed=int(snakemake.wildcards.seed),
        settings=snakemake.params.settings,
        state=snakemake.params.state,
        device=snakemake.params.device,
        threads=snakemake.threads,
        save_every_s=snakemake.params.resume_every_s,
        plugins=snakemake.params.plugins,
        log=log.info,
    )
