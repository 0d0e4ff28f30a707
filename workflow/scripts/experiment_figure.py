"""Snakemake script of rule experiment_figure: the paper's figure of one experiment.

adamix.report.figures.write_experiment_figure; the rule names its params after the arguments."""

from adamix.joblog import job_log
from adamix.report.figures import write_experiment_figure

with job_log(snakemake.log[0]):
    write_experiment_figure(
        snakemake.input, dict(snakemake.output.items()), **dict(snakemake.params.items())
    )
