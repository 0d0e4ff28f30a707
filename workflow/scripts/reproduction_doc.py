"""Snakemake script of rule reproduction_doc: docs/reproduction.md from the results."""

import logging
from pathlib import Path

from adamix.reproduction import write_reproduction

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO, format="%(asctime)s %(message)s")
out = Path(snakemake.output.md)
write_reproduction(
    snakemake.params.config,
    results="results",
    out=out,
    figures=Path(snakemake.output.figures[0]).parent,
    discussion=snakemake.input.discussion,
)
logging.info("%s and %d figures", out, len(snakemake.output.figures))
