"""Snakemake script of rule claims: a verdict on each of the paper's claims."""

import logging

from adamix.tables import claims_table, load_metrics, write_table

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO, format="%(asctime)s %(message)s")
experiments, epoch = snakemake.params.experiments, snakemake.params.epoch
table = claims_table(load_metrics(snakemake.input), experiments, epoch=epoch)
write_table(
    table,
    snakemake.output.csv,
    snakemake.output.md,
    title="The paper's claims: verdicts",
    html_path=snakemake.output.html,
    note=(
        f"Per reading, on the final-epoch ({epoch}) test rer_sse of each seed (claim 2: the"
        " fine-tuning seconds). Verdicts: holds, does not hold, inconclusive, not run (the"
        " experiment or one of its runs is absent). The rule of each claim is in its row."
    ),
)
for row in table.itertuples():
    logging.info("claim %d (%s, %s): %s", row.claim, row.experiment, row.reading, row.verdict)
