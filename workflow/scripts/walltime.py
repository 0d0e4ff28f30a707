"""Snakemake script of rule walltime: exp-1 fine-tuning seconds beside the paper's."""

import logging

from adamix.figures import save_figure, walltime_figure
from adamix.tables import load_metrics, walltime_table, write_table

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO, format="%(asctime)s %(message)s")
experiment, epoch = snakemake.params.experiment, snakemake.params.epoch
metrics = load_metrics(snakemake.input)
write_table(
    walltime_table(metrics, experiment, "exp1", epoch=epoch),
    snakemake.output.csv,
    snakemake.output.md,
    title=f"exp1: fine-tuning wall time, ours ({epoch} epochs) vs the paper (50 epochs)",
    html_path=snakemake.output.html,
    note=(
        "Ours: cumulative training seconds at the final epoch (test evaluations excluded),"
        " mean, std and 95% t-CI over seeds; ratio_to_cons: mean over seeds of the job's"
        " seconds over Cons+Cons's on the same seed. Paper: seconds of 50 epochs on the"
        " authors' 2016 machine (He & Li 2016, section 3.1). Compare the ratios."
    ),
)
save_figure(walltime_figure(metrics, experiment, "exp1", epoch=epoch), snakemake.output.png)
logging.info("wall times of %d jobs", len(snakemake.input))
