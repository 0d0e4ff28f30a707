"""Fine-tuning of the unrolled autoencoder: one readable training loop with resume.

Plain SGD, theta <- theta - eta * g (eq. 4-5), where g is the SUM of the per-example
gradients of the minibatch (eq. 6) and eta comes from the learning-rate rule routed to
each parameter group (adamix.schedules). One metrics row per epoch; epoch 0 is the
pre-trained network before any update.
"""

from __future__ import annotations

import functools
import math
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

from adamix.autoencoder import reconstruction_error, weights_and_biases
from adamix.schedules import build_optimizer

# The settings that define a fine-tuning run (besides the rules, data and seed).
SETTINGS = (
    "epochs",
    "batch_size",
    "lr",
    "K",
    "q",
    "xi",
    "loss",
    "timing",
    "adadec",
    "t_unit",
    "g_scale",
)

# The form of a resume state; a state of another form is ignored (the job starts over).
# 2: AdaGrad and AdaDec "decaying" keep no factor (the fused kernels, adamix.fused).
RESUME_FORMAT = 2


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("config device is 'cuda' but torch sees no CUDA device")
    return torch.device(name)


@functools.cache
def device_name(device: torch.device | str) -> str:
    """The GPU's or the CPU's model name, e.g. "NVIDIA H200" or "AMD EPYC 7B13" (looked up
    once per process: every metrics row records it)."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:  # Linux
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if "model name" in line)
    except (OSError, StopIteration):
        return platform.machine() or device.type


def finetune(
    model: torch.nn.Module,
    train_x: torch.Tensor,
    test_x: torch.Tensor,
    *,
    weight_rule: str,
    bias_rule: str,
    settings: dict,
    seed: int,
    keys: dict,
    state_path: str | os.PathLike,
    save_every_s: float = 0.0,
    log: Callable[[str], None] = print,
) -> list[dict]:
    """Train `model` in place for settings["epochs"] epochs; return the metrics rows.

    At the end of an epoch, once `save_every_s` seconds have passed since the last save
    (0: every epoch), the full state (model, optimizer, shuffling RNG, rows so far) is
    written to `state_path`; a later call with the same keys resumes from it and returns
    the same rows as an uninterrupted run (timing columns aside).
    """
    s = {k: settings[k] for k in SETTINGS}
    n, batch = train_x.shape[0], s["batch_size"]
    steps_per_epoch = n // batch  # the last partial minibatch is dropped, as in H&S
    if steps_per_epoch < 1:
        raise ValueError(f"batch_size {batch} exceeds the {n} training images")
    weights, biases = weights_and_biases(model)
    optimizer = build_optimizer(
        weights,
        biases,
        weight_rule,
        bias_rule,
        lr=s["lr"],
        total_steps=s["epochs"] * steps_per_epoch,
        K=s["K"],
        q=s["q"],
        xi=s["xi"],
        timing=s["timing"],
        adadec=s["adadec"],
        g_scale=1.0 if s["g_scale"] == "sum" else 1.0 / batch,  # ambiguity 5
        t_unit=s["t_unit"],
        steps_per_epoch=steps_per_epoch,
    )
    if s["loss"] not in _LOSSES:
        raise ValueError(f"invalid loss: {s['loss']!r}, expected one of {tuple(_LOSSES)}")
    generator = torch.Generator().manual_seed(seed)
    identity = {"keys": keys, "settings": s, "format": RESUME_FORMAT}
    rows = _resume(state_path, identity, model, optimizer, generator, log)
    if not rows:
        rows = [_row(keys, 0, 0, model, train_x, test_x, optimizer, None, 0.0, 0.0, False)]
        log(_progress(rows[-1]))
    diverged = rows[-1]["diverged"]
    last_save = time.monotonic()

    while not diverged and rows[-1]["epoch"] < s["epochs"]:
        epoch = rows[-1]["epoch"] + 1
        start = time.perf_counter()
        perm = torch.randperm(n, generator=generator)
        epoch_sse = train_epoch(model, optimizer, train_x, perm, batch, s["loss"])
        train_sse = epoch_sse.item() / (steps_per_epoch * batch)  # the only sync of the epoch
        seconds = time.perf_counter() - start
        diverged = not math.isfinite(train_sse)
        rows.append(
            _row(keys, epoch, epoch * steps_per_epoch, model, train_x, test_x, optimizer,
                 train_sse, seconds, rows[-1]["cumulative_seconds"] + seconds, diverged)
        )  # fmt: skip
        log(_progress(rows[-1]))
        if time.monotonic() - last_save >= save_every_s:
            _save_state(state_path, identity, model, optimizer, generator, rows)
            last_save = time.monotonic()
    return rows


def train_epoch(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    train_x: torch.Tensor,
    perm: torch.Tensor,
    batch_size: int,
    loss: str = "sse",
) -> torch.Tensor:
    """One SGD step per whole minibatch of `train_x` in the order `perm` (the last partial
    minibatch is dropped); returns the summed squared error of the minibatches, as a float64
    tensor on the device, so that the loop never waits for the device.

    Each minibatch is gathered from the data on the device as it is needed (while it is
    in cache; one permuted copy of the data per epoch measured no faster). The gradient is
    that of the loss SUMMED over pixels and examples (eq. 6). For the "sse" loss the
    squared error is the loss value itself; other losses add a pass over the output.
    """
    steps = perm.numel() // batch_size
    perm = perm.to(train_x.device)
    loss_fn = _LOSSES[loss]
    epoch_sse = torch.zeros((), dtype=torch.float64, device=train_x.device)
    for i in range(steps):
        xb = train_x[perm[i * batch_size : (i + 1) * batch_size]]
        out = model(xb)
        value = loss_fn(out, xb)  # summed over pixels and examples: eq. 6
        optimizer.zero_grad(set_to_none=True)  # backward then writes the gradients, no add
        value.backward()
        optimizer.step()
        if loss_fn is _sse:
            epoch_sse += value.detach()
        else:
            epoch_sse += (out.detach() - xb).square_().sum(dtype=torch.float64)
    return epoch_sse


def _sse(out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    # Summed in float64, so that it is also the epoch's training error. Its gradient is
    # that of a float32 sum: d sum / d x = 1 is exact in both, the cast back is exact.
    return (out - x).square().sum(dtype=torch.float64)


def _cross_entropy(out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return F.binary_cross_entropy(out, x, reduction="sum")


_LOSSES = {"sse": _sse, "cross_entropy": _cross_entropy}


def _row(keys, epoch, step, model, train_x, test_x, optimizer, train_sse, seconds, cumulative,
         diverged) -> dict:  # fmt: skip
    """One metrics row; `train_sse` None means: measure it on the whole training set."""
    pixels = train_x.shape[1]
    test_sse = reconstruction_error(model, test_x)
    if train_sse is None:
        train_sse = reconstruction_error(model, train_x)
    rates = optimizer.rate_stats()
    grads = [p.grad for group in optimizer.param_groups for p in group["params"]]
    grads = [g for g in grads if g is not None]
    grad_norm = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads))) if grads else 0.0
    return {
        **keys,
        "epoch": epoch,
        "step": step,
        "train_rer_sse": train_sse,
        "test_rer_sse": test_sse,
        "train_rer_mse": train_sse / pixels,
        "test_rer_mse": test_sse / pixels,
        "epoch_seconds": seconds,
        "cumulative_seconds": cumulative,
        "lr_weight_mean": rates["weight"][0],
        "lr_weight_min": rates["weight"][1],
        "lr_weight_max": rates["weight"][2],
        "lr_bias_mean": rates["bias"][0],
        "lr_bias_min": rates["bias"][1],
        "lr_bias_max": rates["bias"][2],
        "grad_norm": float(grad_norm),
        "diverged": diverged,
        "device": str(train_x.device),
        "device_name": device_name(train_x.device),
        "torch_version": str(torch.__version__),  # TorchVersion would not load with weights_only
        "finished_at": time.time(),
    }


def _progress(row: dict) -> str:
    return (
        f"epoch {row['epoch']}: test rer_sse {row['test_rer_sse']:.4f}, "
        f"train rer_sse {row['train_rer_sse']:.4f}, {row['epoch_seconds']:.2f} s"
        + (" DIVERGED" if row["diverged"] else "")
    )


def _save_state(path, identity, model, optimizer, generator, rows) -> None:
    """Write the resume state atomically: a kill mid-write leaves the previous state intact."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    state = {
        **identity,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "generator": generator.get_state(),
        "rows": rows,
    }
    torch.save(state, tmp)
    os.replace(tmp, path)


def _resume(path, identity, model, optimizer, generator, log) -> list[dict]:
    path = Path(path)
    if not path.exists():
        return []
    state = torch.load(path, map_location="cpu", weights_only=True)
    if any(state.get(key) != value for key, value in identity.items()):
        log(f"ignoring resume state {path}: it belongs to other settings or code")
        return []
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    generator.set_state(state["generator"])
    log(f"resumed from {path} after epoch {state['rows'][-1]['epoch']}")
    return state["rows"]
