"""Snakemake script of rule compare_reference: adamix.report.tables.write_reference_table."""

from adamix.joblog import job_log
from adamix.report.tables import write_reference_table

with job_log(snakemake.log[0]):
    write_reference_table(
        snakemake.input.gathered,
        snakemake.input.reference,
        dict(snakemake.output.items()),
        epoch=snakemake.params.epoch,
    )
