"""Snakemake script of rule continuum: adamix.report.continuum.write_continuum."""

from adamix.joblog import job_log
from adamix.report.continuum import write_continuum

with job_log(snakemake.log[0]):
    write_continuum(snakemake.input, dict(snakemake.output.items()))
