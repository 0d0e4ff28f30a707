"""Snakemake script of checkpoint decide_look: adamix.report.decide.write_look, and at
look 1 under decide.subset `auto` the subset's test (subset_verdict)."""

from adamix.joblog import job_log
from adamix.report.decide import subset_verdict, write_look

with job_log(snakemake.log[0]):
    subset = dict(snakemake.params.subset)
    if snakemake.params.subset_entries:  # the added seeds of later looks follow its verdict
        found = subset_verdict(snakemake.params.subset_entries, snakemake.params.alpha)
        subset |= found | {"per_seed": found["matters"]}
    write_look(
        snakemake.params.entries,
        snakemake.output[0],
        int(snakemake.wildcards.look),
        snakemake.params.looks,
        snakemake.params.alpha,
        subset,
    )
