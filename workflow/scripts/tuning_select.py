"""Snakemake script of checkpoint tuning_select: adamix.report.tuning.write_selection."""

from adamix.joblog import job_log
from adamix.report.tuning import write_selection

with job_log(snakemake.log[0]):
    p = snakemake.params
    write_selection(p.paths, dict(snakemake.output.items()), p.cells, p.rates, p.epoch)
