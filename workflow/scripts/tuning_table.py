"""Snakemake script of rule tuning_table: adamix.report.tuning.write_tuned_table."""

from adamix.joblog import job_log
from adamix.report.tuning import write_tuned_table

with job_log(snakemake.log[0]):
    write_tuned_table(
        [snakemake.input.metrics],
        dict(snakemake.output.items()),
        snakemake.input.selected,
        snakemake.params.epoch,
    )
