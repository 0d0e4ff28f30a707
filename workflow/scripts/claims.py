"""Snakemake script of rule claims: a verdict on each of the paper's claims.

adamix.report.claims.write_claims; the rule names its params after the arguments."""

from adamix.joblog import job_log
from adamix.report.claims import write_claims

with job_log(snakemake.log[0]):
    write_claims(
        [snakemake.input.metrics],
        dict(snakemake.output.items()),
        tuned=snakemake.input.tuned,
        timing=snakemake.input.timing,
        **dict(snakemake.params.items()),
    )
