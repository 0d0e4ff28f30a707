"""Snakemake script of rule gather_metrics: every fine-tuning parquet in one file."""

import logging

import pyarrow.parquet as pq

from adamix.tables import read_metrics

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO, format="%(asctime)s %(message)s")
table = read_metrics(snakemake.input)  # refuses a file whose schema is not FINETUNE_SCHEMA
pq.write_table(table, snakemake.output[0])
logging.info(
    "%d rows from %d jobs -> %s", table.num_rows, len(snakemake.input), snakemake.output[0]
)
