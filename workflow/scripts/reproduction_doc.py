"""Snakemake script of rule reproduction_doc: the write-up of a run, from the files the rule
names as its inputs (adamix.report.writeup.write_reproduction)."""

from pathlib import Path

from adamix.joblog import job_log
from adamix.report.writeup import write_reproduction

with job_log(snakemake.log[0]):
    write_reproduction(
        snakemake.params.config,
        snakemake.input,
        out=snakemake.output.md,
        figures=Path(snakemake.output.figures[0]).parent,
    )
