"""Snakemake script of checkpoint decide_look: adamix.report.decide.write_look."""

from adamix.joblog import job_log
from adamix.report.decide import write_look

with job_log(snakemake.log[0]):
    write_look(
        snakemake.params.entries,
        snakemake.output[0],
        int(snakemake.wildcards.look),
        snakemake.params.looks,
        snakemake.params.alpha,
    )
