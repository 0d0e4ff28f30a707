"""Snakemake script of rule demo_report: adamix.report.demo.write_demo."""

from adamix.joblog import job_log
from adamix.report.demo import write_demo

with job_log(snakemake.log[0]):
    write_demo(snakemake.input, dict(snakemake.output.items()), snakemake.params.demo)
