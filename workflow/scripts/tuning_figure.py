"""Snakemake script of rule tuning_figure: adamix.report.tuning.write_sensitivity_figure."""

from adamix.joblog import job_log
from adamix.report.tuning import write_sensitivity_figure

with job_log(snakemake.log[0]):
    write_sensitivity_figure(snakemake.input[0], dict(snakemake.output.items()))
