"""Snakemake script of rule pretrain_layer: thin wrapper around adamix.rbm."""

import logging

import numpy as np
import pandas as pd
import torch

from adamix.rbm import pretrain_layer
from adamix.train import device_name, resolve_device

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO, format="%(asctime)s %(message)s")
torch.set_num_threads(snakemake.threads)
device = resolve_device(snakemake.params.device)

with np.load(snakemake.input.subset) as data:
    images = torch.from_numpy(data["train_images"]).to(device, torch.float32) / 255
lower = [
    {k: v.to(device) for k, v in torch.load(path, weights_only=True).items()}
    for path in snakemake.input.lower
]
rbm, rows = pretrain_layer(
    images,
    lower,
    snakemake.params.n_hidden,
    top=snakemake.params.top,
    settings=snakemake.params.settings,
    weight_std=snakemake.params.weight_std,
    seed=int(snakemake.wildcards.seed),
    log=logging.info,
)
torch.save(rbm, snakemake.output.checkpoint)
errors = pd.DataFrame(rows).assign(
    size=float(snakemake.wildcards.size),
    seed=int(snakemake.wildcards.seed),
    device=str(images.device),  # as fine-tuning records it: cuda:0, cpu
    device_name=device_name(device),
)
errors.to_parquet(snakemake.output.errors, index=False)
