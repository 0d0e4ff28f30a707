"""Snakemake script of rule experiment_table: one experiment's RER beside the paper's.

adamix.report.tables.write_experiment_table; the rule names its params after the arguments."""

from adamix.joblog import job_log
from adamix.report.tables import write_experiment_table

with job_log(snakemake.log[0]):
    write_experiment_table(
        snakemake.input, dict(snakemake.output.items()), **dict(snakemake.params.items())
    )
