"""Snakemake script of rule reproduction_doc: the write-up of a run, from its results."""

from pathlib import Path

from adamix.joblog import job_log
from adamix.report.reproduction import write_reproduction

with job_log(snakemake.log[0]):
    write_reproduction(
        snakemake.params.config,
        results="results",
        out=snakemake.output.md,
        figures=Path(snakemake.output.figures[0]).parent,
        discussion=snakemake.input.discussion,
    )
