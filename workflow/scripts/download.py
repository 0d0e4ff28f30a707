"""Snakemake script of rule download: adamix.data.download_dataset."""

from adamix.data import download_dataset
from adamix.joblog import job_log

with job_log(snakemake.log[0]) as log:
    source = snakemake.params.source
    used = download_dataset(
        snakemake.output[0],
        mirrors=source["mirrors"],
        files=source["files"],
        offline=source["offline"],
        timeout=snakemake.params.timeout_s,
        retries=snakemake.params.retries,
        name=snakemake.wildcards.dataset,
        log=log.info,
    )
    log.info("%s source: %s", snakemake.wildcards.dataset, used)
