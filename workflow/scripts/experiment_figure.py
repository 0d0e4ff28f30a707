"""Snakemake script of rule experiment_figure: the paper's figure of one experiment."""

import logging

from adamix.figures import experiment_figure, save_figure
from adamix.tables import load_metrics

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO, format="%(asctime)s %(message)s")
name = snakemake.wildcards.experiment
experiment, epoch = snakemake.params.experiment, snakemake.params.epoch
fig = experiment_figure(load_metrics(snakemake.input), name, experiment, epoch=epoch)
save_figure(fig, snakemake.output.png, snakemake.output.pdf)
logging.info("%s: figure of %d jobs", name, len(snakemake.input))
