"""Snakemake script of checkpoint scorecard_calibration: write_calibration."""

from adamix.joblog import job_log
from adamix.report.scorecard import write_calibration

with job_log(snakemake.log[0]):
    write_calibration(
        snakemake.input.ours,
        snakemake.input.reference,
        snakemake.params.protocol,
        snakemake.output[0],
    )
