"""Reconstruction error (RER, eq. 8-9) and the per-epoch metrics table of a fine-tuning job.

The paper's eq. 8-9 define RER as a per-pixel mean squared error, but the values it
reports (8.37, 51.40, 3.56 ...) only fit Hinton & Salakhutdinov's convention: the
per-image SUM of squared errors over the 784 pixels, averaged over images. Both are
recorded: ``rer_sse`` (the paper's scale) and ``rer_mse`` (= rer_sse / pixels).
"""

from __future__ import annotations

import pyarrow as pa
import torch

# One row per fine-tuning epoch (epoch 0 = before fine-tuning). Every job writes
# exactly this schema, so aggregation is a plain concatenation.
FINETUNE_SCHEMA = pa.schema(
    [
        pa.field("reading", pa.string(), nullable=False),  # name of the ambiguity reading
        pa.field("weight_rule", pa.string(), nullable=False),
        pa.field("bias_rule", pa.string(), nullable=False),
        pa.field("size", pa.float64(), nullable=False),  # fraction of MNIST, e.g. 0.1
        pa.field("seed", pa.int64(), nullable=False),
        pa.field("timing", pa.string(), nullable=False),  # ambiguity 1
        pa.field("adadec", pa.string(), nullable=False),  # ambiguity 2
        pa.field("t_unit", pa.string(), nullable=False),  # ambiguity 3
        pa.field("g_scale", pa.string(), nullable=False),  # ambiguity 5: "sum" or "mean"
        pa.field("loss", pa.string(), nullable=False),  # "sse" or "cross_entropy"
        pa.field("epoch", pa.int64(), nullable=False),
        pa.field("step", pa.int64(), nullable=False),  # optimizer steps so far
        pa.field("train_rer_sse", pa.float64()),
        pa.field("test_rer_sse", pa.float64()),
        pa.field("train_rer_mse", pa.float64()),
        pa.field("test_rer_mse", pa.float64()),
        pa.field("epoch_seconds", pa.float64(), nullable=False),  # training time of this epoch
        pa.field("cumulative_seconds", pa.float64(), nullable=False),
        pa.field("lr_weight_mean", pa.float64()),
        pa.field("lr_weight_min", pa.float64()),
        pa.field("lr_weight_max", pa.float64()),
        pa.field("lr_bias_mean", pa.float64()),
        pa.field("lr_bias_min", pa.float64()),
        pa.field("lr_bias_max", pa.float64()),
        pa.field("grad_norm", pa.float64()),  # L2 norm of the last minibatch gradient
        pa.field("diverged", pa.bool_(), nullable=False),
        pa.field("device", pa.string(), nullable=False),  # torch device, e.g. "cuda:0"
        pa.field("device_name", pa.string(), nullable=False),  # GPU or CPU model
        pa.field("torch_version", pa.string(), nullable=False),
        pa.field("finished_at", pa.float64(), nullable=False),  # Unix time the row was made
    ]
)


@torch.inference_mode()
def reconstruction_error(model: torch.nn.Module, x: torch.Tensor, batch_size: int = 10000) -> float:
    """RER on the paper's scale: squared error summed over pixels, averaged over images."""
    total = torch.zeros((), dtype=torch.float64, device=x.device)
    for start in range(0, x.shape[0], batch_size):
        xb = x[start : start + batch_size]
        total += (model(xb) - xb).square_().sum(dtype=torch.float64)
    return total.item() / x.shape[0]
