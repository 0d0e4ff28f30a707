"""Greedy layer-wise pre-training: one restricted Boltzmann machine per layer, CD-1.

Follows Hinton & Salakhutdinov's rbm.m and rbmhidlinear.m (the paper's ref. [8]), with
the paper's initialisation (section 3): weights ~ N(0, variance 0.001), the visible
biases of the first layer set from the training data, all other biases 0.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence

import pandas as pd
import torch

from adamix.atomic import atomic
from adamix.data import load_subset
from adamix.train.devices import device_name, pixels, setup_job

# A layer checkpoint is a plain state dict: W (n_visible, n_hidden), hbias, vbias.
RBM = dict[str, torch.Tensor]


def visible_bias_from_data(x: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    """log(p / (1 - p)) of each pixel's mean p, clipped away from 0 and 1 (paper, section 3)."""
    p = x.mean(dim=0).clamp(eps, 1 - eps)
    return torch.log(p / (1 - p))


def init_rbm(
    n_visible: int,
    n_hidden: int,
    *,
    weight_std: float,
    generator: torch.Generator,
    visible_bias: torch.Tensor | None = None,
) -> RBM:
    W = torch.randn(n_visible, n_hidden, generator=generator) * weight_std
    vbias = torch.zeros(n_visible) if visible_bias is None else visible_bias.clone()
    return {"W": W, "hbias": torch.zeros(n_hidden), "vbias": vbias}


def hidden_probs(rbm: RBM, v: torch.Tensor, *, linear: bool = False) -> torch.Tensor:
    """Upward pass: logistic hidden probabilities, or the linear activation of a Gaussian layer."""
    a = torch.addmm(rbm["hbias"], v, rbm["W"])
    return a if linear else torch.sigmoid_(a)


def train_rbm(
    rbm: RBM,
    data: torch.Tensor,
    *,
    linear_hidden: bool,
    epochs: int,
    batch_size: int,
    lr: float,
    momentum_initial: float,
    momentum_final: float,
    momentum_switch_epoch: int,
    weight_cost: float,
    generator: torch.Generator,
    log: Callable[[str], None] = print,
) -> list[dict]:
    """Train `rbm` in place with CD-1; return one row per epoch (reconstruction error, seconds).

    Logistic visible units; logistic binary hidden units, or linear hidden units with unit
    Gaussian noise when `linear_hidden` (rbmhidlinear.m, the 250-30 top layer). The gradient
    is the minibatch mean, as in rbm.m; momentum switches after `momentum_switch_epoch`.
    """
    W, hb, vb = rbm["W"], rbm["hbias"], rbm["vbias"]
    dW, dhb, dvb = torch.zeros_like(W), torch.zeros_like(hb), torch.zeros_like(vb)
    n = data.shape[0]
    steps = n // batch_size
    if epochs and steps < 1:  # an untrained layer must not pass for a trained one
        raise ValueError(
            f"pre-training batch_size {batch_size} exceeds the {n} training images: the"
            " layer would take no step"
        )
    rows = []
    for epoch in range(epochs):
        start = time.perf_counter()
        momentum = momentum_initial if epoch < momentum_switch_epoch else momentum_final
        perm = torch.randperm(n, generator=generator).to(data.device)
        noises = _noise_batches(
            generator, steps, (batch_size, W.shape[1]), gaussian=linear_hidden, like=data
        )
        err = torch.zeros((), dtype=data.dtype, device=data.device)
        for i, noise in enumerate(noises):
            v0 = data[perm[i * batch_size : (i + 1) * batch_size]]
            h0 = hidden_probs(rbm, v0, linear=linear_hidden)
            h_sample = h0 + noise if linear_hidden else (h0 > noise).to(h0.dtype)
            v1 = torch.sigmoid_(torch.addmm(vb, h_sample, W.T))
            h1 = hidden_probs(rbm, v1, linear=linear_hidden)
            # CD-1 gradient, averaged over the minibatch, with L2 weight cost on W.
            scale = 1.0 / v0.shape[0]
            grad_W = (v0.T @ h0).sub_(v1.T @ h1).mul_(scale).sub_(W, alpha=weight_cost)
            dW.mul_(momentum).add_(grad_W, alpha=lr)
            dvb.mul_(momentum).add_((v0 - v1).sum(0), alpha=lr * scale)
            dhb.mul_(momentum).add_((h0 - h1).sum(0), alpha=lr * scale)
            W.add_(dW)
            vb.add_(dvb)
            hb.add_(dhb)
            err += (v0 - v1).square_().sum()
        seconds = time.perf_counter() - start
        recon = err.item() / (steps * batch_size)
        rows.append(
            {"epoch": epoch + 1, "recon_sse": recon, "seconds": seconds, "finished_at": time.time()}
        )
        log(f"epoch {epoch + 1}: reconstruction sse {recon:.4f} ({seconds:.2f} s)")
        if not math.isfinite(recon):
            raise FloatingPointError(f"RBM pre-training diverged at epoch {epoch + 1}")
    return rows


def _noise_batches(
    generator: torch.Generator,
    steps: int,
    shape: tuple[int, int],
    *,
    gaussian: bool,
    like: torch.Tensor,
) -> Iterator[torch.Tensor]:
    """The sampling noise of each step, drawn from the CPU generator step by step in the same
    order as ever, so that CPU and GPU runs draw the same numbers. On the CPU one buffer is
    refilled per step (it stays in cache); a GPU gets a block of steps per copy."""
    draw = torch.randn if gaussian else torch.rand
    block = 1 if like.device.type == "cpu" else 64
    host = torch.empty((min(block, steps), *shape), dtype=like.dtype)
    for first in range(0, steps, block):
        count = min(block, steps - first)
        for j in range(count):
            draw(shape, generator=generator, dtype=like.dtype, out=host[j])
        yield from host[:count].to(like.device)  # on the CPU: the buffer itself


def pretrain_layer(
    images: torch.Tensor,
    lower: list[RBM],
    n_hidden: int,
    *,
    top: bool,
    settings: dict,
    weight_std: float,
    seed: int,
    log: Callable[[str], None] = print,
) -> tuple[RBM, list[dict]]:
    """Train the RBM of one layer on the hidden probabilities of the trained layers below.

    `images` are pixels in [0, 1] on the device to train on; `top` selects the linear
    (Gaussian) hidden units and the smaller rate of rbmhidlinear.m. The random streams
    (initial weights, minibatch order, CD sampling) come from one CPU generator seeded
    by (seed, layer), so a layer's result does not depend on the device.
    """
    layer = len(lower) + 1
    generator = torch.Generator().manual_seed(1000 * seed + layer)
    data = images
    for rbm in lower:
        data = hidden_probs(rbm, data)
    rbm = init_rbm(
        data.shape[1],
        n_hidden,
        weight_std=weight_std,
        generator=generator,
        visible_bias=visible_bias_from_data(data.cpu()) if layer == 1 else None,
    )
    rbm = {k: v.to(images.device) for k, v in rbm.items()}
    rows = train_rbm(
        rbm,
        data,
        linear_hidden=top,
        epochs=settings["epochs"],
        batch_size=settings["batch_size"],
        lr=settings["lr_linear"] if top else settings["lr"],
        momentum_initial=settings["momentum_initial"],
        momentum_final=settings["momentum_final"],
        momentum_switch_epoch=settings["momentum_switch_epoch"],
        weight_cost=settings["weight_cost"],
        generator=generator,
        log=log,
    )
    return {k: v.cpu() for k, v in rbm.items()}, [{"layer": layer, **row} for row in rows]


PRETRAIN_COLUMNS = [
    "layer",
    "epoch",
    "recon_sse",
    "seconds",
    "finished_at",
]  # pretrain_layer's rows


def load_layer(path: str | os.PathLike) -> RBM:
    """A layer checkpoint written by ``pretrain_job``, checked: W (n_visible, n_hidden),
    hbias (n_hidden,), vbias (n_visible,), finite float32. ValueError naming the file and
    the rule that makes it."""
    try:
        return _check_layer(path, torch.load(path, map_location="cpu", weights_only=True))
    except Exception as error:  # torch's own message may advise an unsafe load: not passed on
        why = str(error) if isinstance(error, ValueError) else type(error).__name__
        raise ValueError(
            f"{path}: not a layer checkpoint ({why}); rule pretrain_layer makes it: delete"
            " it and run again to make it anew"
        ) from None


def _check_layer(path, rbm) -> RBM:
    if not isinstance(rbm, dict) or set(rbm) != {"W", "hbias", "vbias"}:
        keys = sorted(rbm) if isinstance(rbm, dict) else type(rbm).__name__
        raise ValueError(f"it has {keys}, not W, hbias and vbias")
    W, hbias, vbias = rbm["W"], rbm["hbias"], rbm["vbias"]
    if not all(isinstance(x, torch.Tensor) and x.dtype == torch.float32 for x in rbm.values()):
        raise ValueError("W, hbias and vbias must be float32 tensors")
    if W.ndim != 2 or hbias.shape != (W.shape[1],) or vbias.shape != (W.shape[0],):
        shapes = {k: tuple(v.shape) for k, v in rbm.items()}
        raise ValueError(f"shapes {shapes} do not fit together")
    if not all(torch.isfinite(x).all() for x in rbm.values()):
        raise ValueError("non-finite values")
    return rbm


def pretrain_job(
    subset: str | os.PathLike,
    lower: Sequence[str | os.PathLike],
    checkpoint: str | os.PathLike,
    errors: str | os.PathLike,
    *,
    n_hidden: int,
    top: bool,
    settings: Mapping,
    weight_std: float,
    size: float | str,
    seed: int | str,
    dataset: str = "mnist",
    reading: str = "default",
    device: str = "auto",
    threads: int = 1,
    code: str = "",
    log: Callable[[str], None] = print,
) -> None:
    """Rule pretrain_layer: train one layer on a subset file, above the layer checkpoints
    ``lower``; write its checkpoint and its per-epoch reconstruction errors (parquet; no
    rows with 0 epochs: the layer keeps its random initial weights). ``reading``: the
    reading whose pre-training settings these are (adamix.plan.config.pretrain_reading).
    ``code``: the digest of the numeric code (adamix.provenance), recorded in the errors
    table; a param of the rule, so that Snakemake reruns the layer when that code changes."""
    device = setup_job(device, threads)
    images = pixels(load_subset(subset)["train_images"], device)
    below = [{k: v.to(device) for k, v in load_layer(path).items()} for path in lower]
    rbm, rows = pretrain_layer(
        images, below, n_hidden, top=top, settings=settings, weight_std=weight_std,
        seed=int(seed), log=log,
    )  # fmt: skip
    with atomic(checkpoint) as tmp:
        torch.save(rbm, tmp)
    table = pd.DataFrame(rows, columns=PRETRAIN_COLUMNS).assign(
        dataset=dataset,
        reading=reading,
        size=float(size),
        seed=int(seed),
        device=str(images.device),  # as fine-tuning records it: cuda:0, cpu
        device_name=device_name(device),
        code=code,
    )
    with atomic(errors) as tmp:
        table.to_parquet(tmp, index=False)
