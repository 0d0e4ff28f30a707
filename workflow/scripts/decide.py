"""Snakemake script of rule decide: adamix.report.decide.write_decide_table."""

from adamix.joblog import job_log
from adamix.report.decide import write_decide_table

with job_log(snakemake.log[0]):
    write_decide_table(snakemake.input[0], dict(snakemake.output.items()))
