"""Fine-tuning of the unrolled autoencoder: one readable training loop with resume.

Plain SGD, theta <- theta - eta * g (eq. 4-5), where g is the SUM of the per-example
gradients of the minibatch (eq. 6) and eta comes from the learning-rate rule routed to
each parameter group (adamix.schedules). One metrics row per epoch; epoch 0 is the
pre-trained network before any update. The resume state is adamix.train.resume's.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import torch
import torch.nn.functional as F

from adamix.data import load_subset
from adamix.plan.settings import FinetuneSettings
from adamix.report.metrics import write_metrics
from adamix.schedules import build_optimizer, load_plugin
from adamix.train.autoencoder import reconstruction_error, unroll, weights_and_biases
from adamix.train.devices import device_name, pixels, setup_job
from adamix.train.rbm import load_layer
from adamix.train.resume import RESUME_FORMAT, digest, load_state, save_state

# A run whose test RER exceeds DIVERGED x that of epoch 0 has diverged (``_diverged``).
DIVERGED = 2.0


def finetune_job(
    subset: str | os.PathLike,
    layers: Sequence[str | os.PathLike],
    out: str | os.PathLike,
    *,
    weight_rule: str,
    bias_rule: str,
    reading: str,
    size: float | str,
    dataset: str = "mnist",
    seed: int | str,
    settings: Mapping,
    state: str | os.PathLike,
    device: str = "auto",
    threads: int = 1,
    save_every_s: float = 0.0,
    plugins: Sequence[str] = (),
    cuda_graphs: bool = False,
    code: str,
    log: Callable[[str], None] = print,
) -> None:
    """Rule finetune: unroll the layer checkpoints, fine-tune on the subset file with the
    ``weight_rule+bias_rule`` run, write the metrics parquet ``out``. ``plugins``: the
    plug-ins that define the run's rules (files or modules), loaded first. ``code``: the
    digest of the numeric code (adamix.provenance), recorded in every row and in the resume
    state's identity. The resume ``state`` is deleted once the parquet is written (the
    parquet holds it all)."""
    for plugin in plugins:
        load_plugin(plugin)
    device = setup_job(device, threads)
    torch.set_flush_denormal(True)  # AdaMix's running product of rates reaches subnormals
    settings = FinetuneSettings.from_mapping(settings)
    data = load_subset(subset)
    train_x, test_x = pixels(data["train_images"], device), pixels(data["test_images"], device)
    val_x = pixels(data["val_images"], device) if "val_images" in data else None
    model = unroll([load_layer(path) for path in layers]).to(device)
    keys = {
        "dataset": dataset,
        "reading": reading,
        "weight_rule": weight_rule,
        "bias_rule": bias_rule,
        "size": float(size),
        "seed": int(seed),
    }
    log(f"fine-tuning {keys} on {device} with {settings}, code {code}")
    rows = finetune(
        model, train_x, test_x, val_x=val_x, weight_rule=weight_rule, bias_rule=bias_rule,
        settings=settings, seed=int(seed), keys=keys, state_path=state,
        save_every_s=save_every_s, inputs=digest([subset, *layers, *plugins, code]),
        cuda_graphs=cuda_graphs, log=log,
    )  # fmt: skip
    write_metrics([{**row, "code": code} for row in rows], out)
    try:
        Path(state).unlink(missing_ok=True)
    except OSError as error:  # a read-only folder: the metrics are written all the same
        log(f"WARNING: resume state {state} not deleted: {error}")


def finetune(
    model: torch.nn.Module,
    train_x: torch.Tensor,
    test_x: torch.Tensor,
    *,
    val_x: torch.Tensor | None = None,
    weight_rule: str,
    bias_rule: str,
    settings: FinetuneSettings | Mapping,
    seed: int,
    keys: dict,
    state_path: str | os.PathLike,
    save_every_s: float = 0.0,
    inputs: str = "",
    cuda_graphs: bool = False,
    log: Callable[[str], None] = print,
) -> list[dict]:
    """Train `model` in place for settings["epochs"] epochs; return the metrics rows (test
    and, given `val_x`, validation RER at every epoch). With `cuda_graphs` on a CUDA
    device, each training step is replayed from one captured CUDA graph (GraphedSteps).

    At the end of an epoch, once `save_every_s` seconds have passed since the last save
    (0: every epoch), the full state (model, optimizer, shuffling RNG, rows so far) is
    written to `state_path`; a later call with the same keys, settings and `inputs` (a
    digest of the files the model and data came from, and of the code) resumes from it and
    returns the same rows as an uninterrupted run (timing columns aside).
    """
    if not isinstance(settings, FinetuneSettings):
        settings = FinetuneSettings.from_mapping(settings)
    s = settings.as_dict()
    n, batch = train_x.shape[0], settings.batch_size
    steps_per_epoch = n // batch  # the last partial minibatch is dropped, as in H&S
    if steps_per_epoch < 1:
        raise ValueError(f"batch_size {batch} exceeds the {n} training images")
    weights, biases = weights_and_biases(model)
    # update "epoch" branches at an epoch's end: no graph of one step replays it
    graphed = cuda_graphs and train_x.is_cuda and settings.update == "step"
    optimizer = build_optimizer(
        weights, biases, weight_rule, bias_rule, capturable=graphed,
        **settings.rule_arguments(steps_per_epoch),
    )  # fmt: skip
    steps = GraphedSteps(model, optimizer, train_x, batch, s["loss"]) if graphed else None
    generator = torch.Generator().manual_seed(seed)
    keys = {**keys, **s}  # every metrics row carries the job's keys and settings
    identity = {"keys": keys, "inputs": inputs, "format": RESUME_FORMAT}
    held_out = {"test": test_x, "val": val_x}  # evaluated at every epoch's end
    rows = load_state(state_path, identity, model, optimizer, generator, log)
    if not rows:
        rows = [_row(keys, 0, 0, model, train_x, held_out, optimizer, None, 0.0, 0.0, False)]
        log(_progress(rows[-1]))
    diverged = rows[-1]["diverged"]
    last_save, unsaved = time.monotonic(), False

    while not diverged and rows[-1]["epoch"] < s["epochs"]:
        epoch = rows[-1]["epoch"] + 1
        start = time.perf_counter()
        perm = torch.randperm(n, generator=generator)
        if steps is not None:
            epoch_sse = steps.epoch(perm)
        else:
            epoch_sse = train_epoch(model, optimizer, train_x, perm, batch, s["loss"])
        train_sse = epoch_sse.item() / (steps_per_epoch * batch)  # the only sync of the epoch
        seconds = time.perf_counter() - start
        row = _row(keys, epoch, epoch * steps_per_epoch, model, train_x, held_out, optimizer,
                   train_sse, seconds, rows[-1]["cumulative_seconds"] + seconds, False)  # fmt: skip
        row["diverged"] = diverged = _diverged(row, rows[0])
        _check_rates(row, {"weight": weight_rule, "bias": bias_rule})
        rows.append(row)
        log(_progress(rows[-1]))
        if time.monotonic() - last_save >= save_every_s:
            # a failure is said once, not at every epoch while it lasts (a full disk)
            say = (lambda _: None) if unsaved else log
            unsaved = not save_state(state_path, identity, model, optimizer, generator, rows, say)
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
        optimizer.zero_grad(set_to_none=True)  # backward then writes the gradients, no add
        train_step(model, optimizer, train_x[perm[i * batch_size : (i + 1) * batch_size]],
                   loss_fn, epoch_sse)  # fmt: skip
    return epoch_sse


def train_step(model, optimizer, xb: torch.Tensor, loss_fn: Callable, total: torch.Tensor):
    """One training step on the minibatch `xb`: forward, the loss summed over pixels and
    examples (eq. 6), backward, the rule's update; the minibatch's squared error is added
    to `total` (float64, on the device). The gradients must be None or zero."""
    out = model(xb)
    value = loss_fn(out, xb)
    value.backward()
    optimizer.step()
    if loss_fn is _sse:
        total.add_(value.detach())
    else:
        total.add_((out.detach() - xb).square_().sum(dtype=torch.float64))


class GraphedSteps:
    """The training steps of train_epoch, each replayed from one captured CUDA graph:
    forward, backward, the rule's update and the running sum of the loss, one launch per
    step instead of ~50. The optimizer must be capturable (its rates and step counter on
    the device: a replay applies the rate of its own step). The first WARMUP steps run
    eagerly on a side stream, as torch.cuda.graph asks, and are real steps of training:
    the graph is captured after them and replays the rest, so the run takes the same
    steps in the same order as train_epoch does."""

    WARMUP = 3

    def __init__(self, model, optimizer, train_x: torch.Tensor, batch_size: int, loss: str):
        self.model, self.optimizer, self.train_x = model, optimizer, train_x
        self.batch_size, self.loss_fn = batch_size, _LOSSES[loss]
        device = train_x.device
        self.index = torch.zeros(batch_size, dtype=torch.long, device=device)
        self.total = torch.zeros((), dtype=torch.float64, device=device)
        self.graph: torch.cuda.CUDAGraph | None = None
        self.eager_left = self.WARMUP

    def _step(self) -> None:
        train_step(self.model, self.optimizer, self.train_x[self.index], self.loss_fn, self.total)

    def _capture(self) -> None:
        self.graph = torch.cuda.CUDAGraph()
        self.optimizer.zero_grad(set_to_none=True)  # backward in the graph writes them
        with torch.cuda.graph(self.graph):
            self._step()

    def epoch(self, perm: torch.Tensor) -> torch.Tensor:
        """One epoch in the order `perm`; the summed squared error, as train_epoch."""
        perm = perm.to(self.train_x.device)
        self.total.zero_()
        for i in range(perm.numel() // self.batch_size):
            self.index.copy_(perm[i * self.batch_size : (i + 1) * self.batch_size])
            if self.graph is not None:
                self.graph.replay()
                continue
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):  # a real step, also the graph's warm-up
                self.optimizer.zero_grad(set_to_none=True)
                self._step()
            torch.cuda.current_stream().wait_stream(side)
            self.eager_left -= 1
            if self.eager_left == 0:
                self._capture()
        return self.total.clone()


def _sse(out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    # Summed in float64, so that it is also the epoch's training error. Its gradient is
    # that of a float32 sum: d sum / d x = 1 is exact in both, the cast back is exact.
    return (out - x).square().sum(dtype=torch.float64)


def _cross_entropy(out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return F.binary_cross_entropy(out, x, reduction="sum")


_LOSSES = {"sse": _sse, "cross_entropy": _cross_entropy}


def _row(keys, epoch, step, model, train_x, held_out, optimizer, train_sse, seconds, cumulative,
         diverged) -> dict:  # fmt: skip
    """One metrics row; `train_sse` None means: measure it on the whole training set.
    `held_out`: {"test": images, "val": images or None (no validation split)}."""
    pixels = train_x.shape[1]
    test_sse = reconstruction_error(model, held_out["test"])
    val = held_out["val"]
    val_sse = reconstruction_error(model, val) if val is not None else None
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
        "val_rer_sse": val_sse,
        "val_rer_mse": val_sse / pixels if val_sse is not None else None,
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


def _diverged(row: dict, start: dict) -> bool:
    """A run has diverged when its errors are no longer finite, or when its test RER is
    more than DIVERGED times that of the pre-trained network (epoch 0): a sigmoid network
    driven into saturation by a huge rate stays finite, with zero gradients, far above
    where it started. Training stops there; tables leave diverged seeds out of means."""
    errors = (row["train_rer_sse"], row["test_rer_sse"])
    if not all(math.isfinite(e) for e in errors):
        return True
    return row["test_rer_sse"] > DIVERGED * start["test_rer_sse"]


def _check_rates(row: dict, rules: dict) -> None:
    """ValueError naming the rule if the rates of a group ({"weight": rule, "bias": rule})
    went below 0, or stopped being finite while the run had not diverged: a rule's fault,
    never reported as a diverged run."""
    for group, rule in rules.items():
        low, high = row[f"lr_{group}_min"], row[f"lr_{group}_max"]
        if low < 0 or (not math.isfinite(low + high) and not row["diverged"]):
            raise ValueError(
                f"rule {rule} gave {group} rates from {low} to {high} in epoch {row['epoch']}:"
                " a rate must be a finite number >= 0"
            )


def _progress(row: dict) -> str:
    return (
        f"epoch {row['epoch']}: test rer_sse {row['test_rer_sse']:.4f}, "
        f"train rer_sse {row['train_rer_sse']:.4f}, {row['epoch_seconds']:.2f} s"
        + (" DIVERGED" if row["diverged"] else "")
    )
