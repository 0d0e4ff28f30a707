"""Snakemake script of rule experiment_table: one experiment's RER beside the paper's."""

import logging

from adamix.tables import experiment_table, load_metrics, write_table

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO, format="%(asctime)s %(message)s")
name = snakemake.wildcards.experiment
experiment, epoch = snakemake.params.experiment, snakemake.params.epoch
table = experiment_table(load_metrics(snakemake.input), name, experiment, epoch=epoch)
write_table(
    table,
    snakemake.output.csv,
    snakemake.output.md,
    title=f"{name} (paper figure {experiment['figure']}): test RER at fine-tuning epoch {epoch}",
    html_path=snakemake.output.html,
    note=(
        "Ours: test rer_sse at the final epoch, mean, std and 95% t-CI over seeds (diverged"
        " seeds left out, counted in n_diverged). Paper: its value at epoch 50 (He & Li 2016,"
        " section 3). diff_vs_paper = rer_mean - paper_rer_epoch50."
    ),
)
logging.info("%s: %d rows from %d jobs", name, len(table), len(snakemake.input))
