"""Snakemake script of rule make_subset: adamix.data.make_subset."""

from adamix.data import make_subset
from adamix.joblog import job_log

with job_log(snakemake.log[0]) as log:
    counts = make_subset(
        snakemake.input[0],
        snakemake.output[0],
        fraction=float(snakemake.wildcards.size),
        seed=snakemake.params.seed,
    )
    log.info("subset %s: %s", snakemake.wildcards.size, counts)
