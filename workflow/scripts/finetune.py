"""Snakemake script of rule finetune: thin wrapper around adamix.train."""

import logging
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from adamix.autoencoder import unroll
from adamix.metrics import FINETUNE_SCHEMA
from adamix.train import SETTINGS, finetune, resolve_device

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO, format="%(asctime)s %(message)s")
torch.set_num_threads(snakemake.threads)
torch.set_flush_denormal(True)  # AdaMix's running product of rates reaches subnormal floats
device = resolve_device(snakemake.params.device)
wc, settings = snakemake.wildcards, snakemake.params.settings

with np.load(snakemake.input.subset) as data:
    train_x = torch.from_numpy(data["train_images"]).to(device, torch.float32) / 255
    test_x = torch.from_numpy(data["test_images"]).to(device, torch.float32) / 255
model = unroll([torch.load(path, weights_only=True) for path in snakemake.input.layers]).to(device)

keys = {
    "reading": wc.reading,
    "weight_rule": wc.weight,
    "bias_rule": wc.bias,
    "size": float(wc.size),
    "seed": int(wc.seed),
    **{k: settings[k] for k in ("timing", "adadec", "t_unit", "g_scale", "loss")},
}
logging.info("fine-tuning %s on %s with %s", keys, device, {k: settings[k] for k in SETTINGS})
rows = finetune(
    model,
    train_x,
    test_x,
    weight_rule=wc.weight,
    bias_rule=wc.bias,
    settings=settings,
    seed=int(wc.seed),
    keys=keys,
    state_path=snakemake.params.state,
    save_every_s=snakemake.params.resume_every_s,
    log=logging.info,
)
pq.write_table(pa.Table.from_pylist(rows, schema=FINETUNE_SCHEMA), snakemake.output.metrics)
Path(snakemake.params.state).unlink(missing_ok=True)  # the parquet holds it all now
