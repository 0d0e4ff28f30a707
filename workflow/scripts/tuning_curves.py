"""Snakemake script of rule tuning_curves: adamix.report.tuning.write_learning_curves."""

from adamix.joblog import job_log
from adamix.report.tuning import write_learning_curves

with job_log(snakemake.log[0]):
    write_learning_curves(
        snakemake.input, dict(snakemake.output.items()), **dict(snakemake.params.items())
    )
