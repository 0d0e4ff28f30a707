"""Snakemake script of rule make_subset: thin wrapper around adamix.data."""

import logging

from adamix.data import make_subset

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO, format="%(asctime)s %(message)s")
counts = make_subset(
    snakemake.input[0],
    snakemake.output[0],
    fraction=float(snakemake.wildcards.size),
    seed=snakemake.params.seed,
)
logging.info("subset %s: %s", snakemake.wildcards.size, counts)
