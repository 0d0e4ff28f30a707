"""Rule step_timing: claim 2's controlled measurement of the seconds per training step.

The cells of an experiment are timed in one process, in interleaved rounds, on the real
data and pre-trained layers of its first seed: in each round every distinct job is timed
once, in turn, so that load from other processes spreads over all alike and a round
pairs the cells. The developer's benchmark (``python -m adamix.bench``) times its own
loops with the same ``seconds_per_call``.
"""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Callable, Sequence

import pandas as pd
import torch
from torch import nn

from adamix.atomic import atomic
from adamix.data import load_subset
from adamix.plan.settings import FinetuneSettings
from adamix.schedules import build_optimizer, load_plugin
from adamix.train.autoencoder import unroll, weights_and_biases
from adamix.train.devices import device_name, pixels, setup_job
from adamix.train.finetune import train_epoch
from adamix.train.rbm import load_layer


def synchronizer(device: str) -> Callable[[], None]:
    """A function that waits for the device's queued work (nothing to wait for on a CPU)."""
    return torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)


def seconds_per_call(fn: Callable[[], None], calls: int, sync: Callable[[], None]) -> float:
    """Wall seconds per call of `fn` over `calls` calls, the device's work included."""
    sync()
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    sync()
    return (time.perf_counter() - start) / calls


def time_training_steps(
    model: nn.Module,
    train_x: torch.Tensor,
    cells: list,
    *,
    rounds: int,
    steps: int,
    seed: int = 0,
    log: Callable[[str], None] = print,
) -> list[dict]:
    """Seconds per training step (adamix.train.train_epoch on `steps` minibatches: forward,
    backward and the rule's update) of each cell [name, run, settings] (settings: a
    FinetuneSettings), every cell on its own copy of `model`, all in this process. One
    warm-up round, then `rounds` rounds; in each, every cell is timed once, in turn (the
    benchmark's method), so that load from other processes spreads over all alike and a
    round pairs the cells. Rows: name, run, round, seconds (per step)."""
    sync = synchronizer(str(train_x.device))
    n = train_x.shape[0]
    candidates = {}
    for name, run, settings in cells:
        net = copy.deepcopy(model)
        weights, biases = weights_and_biases(net)
        optimizer = build_optimizer(
            weights, biases, *run.split("+"), **settings.rule_arguments(n // settings.batch_size)
        )
        gen = torch.Generator().manual_seed(seed)  # every cell sees the same minibatches

        def steps_of(net=net, optimizer=optimizer, gen=gen, s=settings):
            perm = torch.randperm(n, generator=gen)[: steps * s.batch_size]
            train_epoch(net, optimizer, train_x, perm, s.batch_size, s.loss).item()

        candidates[(name, run)] = steps_of
    rows = []
    for i in range(rounds + 1):
        for (name, run), fn in candidates.items():
            seconds = seconds_per_call(fn, 1, sync) / steps
            if i > 0:  # round 0 warms up the allocator, the caches and the rules' state
                rows.append({"name": name, "run": run, "round": i, "seconds": seconds})
        log(f"round {i} of {rounds}" + (" (warm-up)" if i == 0 else ""))
    return rows


def step_timing_job(
    subset: str | os.PathLike,
    layers: list[str | os.PathLike],
    out: str | os.PathLike,
    *,
    cells: list,
    rounds: int,
    steps: int,
    device: str = "auto",
    threads: int = 1,
    plugins: Sequence[str] = (),
    log: Callable[[str], None] = print,
) -> None:
    """Rule step_timing: time_training_steps of an experiment's cells [reading, run, job's
    reading, settings] on the real data and pre-trained layers of its first seed, each
    distinct job (job's reading, run) once, its rows given to every cell it computes.
    Writes the parquet `out`: reading, run, round, seconds (per step), device. `plugins`:
    the plug-ins that define the cells' rules (config `plugins`)."""
    for plugin in plugins:
        load_plugin(plugin)
    device = setup_job(device, threads)
    torch.set_flush_denormal(True)  # as fine-tuning does (adamix.train.finetune_job)
    train_x = pixels(load_subset(subset)["train_images"], device)
    model = unroll([load_layer(path) for path in layers]).to(device)
    distinct = {(job, run): FinetuneSettings.from_mapping(s) for _, run, job, s in cells}
    log(f"timing {len(distinct)} distinct runs of {len(cells)} cells on {device}")
    timed = pd.DataFrame(
        time_training_steps(
            model, train_x, [[job, run, s] for (job, run), s in distinct.items()],
            rounds=rounds, steps=steps, log=log,
        )
    )  # fmt: skip
    table = pd.concat(
        timed[(timed["name"] == job) & (timed["run"] == run)].assign(reading=reading)
        for reading, run, job, _ in cells
    )[["reading", "run", "round", "seconds"]]
    table = table.assign(
        device=str(device), device_name=device_name(device), torch_version=torch.__version__
    )
    with atomic(out) as tmp:
        table.to_parquet(tmp, index=False)
