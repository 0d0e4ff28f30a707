"""Snakemake script of rule walltime: one experiment's fine-tuning seconds.

adamix.report.figures.write_walltime; the rule names its params after the arguments."""

from adamix.joblog import job_log
from adamix.report.figures import write_walltime

with job_log(snakemake.log[0]):
    write_walltime(
        [snakemake.input.metrics],
        dict(snakemake.output.items()),
        timing=snakemake.input.timing,
        **dict(snakemake.params.items()),
    )
