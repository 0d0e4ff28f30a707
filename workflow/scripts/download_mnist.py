"""Snakemake script of rule download_mnist: thin wrapper around adamix.data."""

import logging

from adamix.data import download_mnist

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO, format="%(asctime)s %(message)s")
cfg = snakemake.params.data
source = download_mnist(
    snakemake.output[0],
    mirrors=cfg["mirrors"],
    files=cfg["files"],
    offline=cfg["offline"],
    timeout=cfg["timeout_s"],
    retries=cfg["retries"],
    log=logging.info,
)
logging.info("MNIST source: %s", source)
