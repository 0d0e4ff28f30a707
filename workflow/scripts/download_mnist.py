"""Snakemake script of rule download_mnist: adamix.data.download_mnist."""

from adamix.data import download_mnist
from adamix.joblog import job_log

with job_log(snakemake.log[0]) as log:
    cfg = snakemake.params.data
    source = download_mnist(
        snakemake.output[0],
        mirrors=cfg["mirrors"],
        files=cfg["files"],
        offline=cfg["offline"],
        timeout=cfg["timeout_s"],
        retries=cfg["retries"],
        log=log.info,
    )
    log.info("MNIST source: %s", source)
