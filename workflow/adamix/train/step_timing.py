"""Rule step_timing: claim 2's controlled measurement of the seconds per training step.

The cells of an experiment are timed in one process, in interleaved rounds, on the real
data and pre-trained layers of its first seed: in each round every distinct job is timed
once, in an order drawn afresh for the round (reproducibly, from the seed), so that load
from other processes and the position in a round spread over all alike and a round pairs
the cells. The baseline, Cons+Cons, is timed twice, as two distinct jobs doing identical
work (the second its *replica*): how far apart they come out is the measurement's own
noise, the floor under which claim 2 calls no difference (adamix.report.timing). The
developer's benchmark (``python -m adamix.bench``) times its own loops with the same
``seconds_per_call``.
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
from adamix.schedules.cost import step_cost
from adamix.train.autoencoder import unroll, weights_and_biases
from adamix.train.devices import device_name, pixels, setup_job
from adamix.train.finetune import train_epoch
from adamix.train.rbm import load_layer

BASELINE = "Cons+Cons"  # the run timed twice (adamix.report.timing.BASELINE)
REPLICA_SUFFIX = "#replica"  # the name of the baseline's replica job: "<job's reading>#replica"


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


def round_orders(cells: int, rounds: int, seed: int = 0) -> list[list[int]]:
    """The order in which `cells` cells are timed in each of `rounds` rounds: a random
    permutation per round, drawn from a generator seeded by `seed` (the same orders for
    the same seed)."""
    gen = torch.Generator().manual_seed(seed)
    return [torch.randperm(cells, generator=gen).tolist() for _ in range(rounds)]


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
    warm-up round, then `rounds` rounds; in each, every cell is timed once, in the round's
    order (round_orders: a permutation per round from `seed`), so that load from other
    processes and the place in a round spread over all alike and a round pairs the cells.
    Rows, per round in the order of `cells`: name, run, round, position (0: timed first
    in its round), seconds (per step)."""
    sync = synchronizer(str(train_x.device))
    n = train_x.shape[0]
    candidates = []
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

        candidates.append((name, run, steps_of))
    rows = []
    for i, order in enumerate(round_orders(len(candidates), rounds + 1, seed)):
        timed = {}
        for position, k in enumerate(order):
            timed[k] = (position, seconds_per_call(candidates[k][2], 1, sync) / steps)
        if i > 0:  # round 0 warms up the allocator, the caches and the rules' state
            rows += [
                {"name": name, "run": run, "round": i, "position": timed[k][0],
                 "seconds": timed[k][1]}
                for k, (name, run, _) in enumerate(candidates)
            ]  # fmt: skip
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
    seed: int = 0,
    plugins: Sequence[str] = (),
    log: Callable[[str], None] = print,
) -> None:
    """Rule step_timing: time_training_steps of an experiment's cells [reading, run, job's
    reading, settings] on the real data and pre-trained layers of its first seed, each
    distinct job (job's reading, run) once, its rows given to every cell it computes, and
    the first Cons+Cons job twice: its replica (a second, distinct job doing identical
    work) gives its rows, replica true, to the cells of that job. Writes the parquet
    `out`: reading, run, replica, round, position (in the round's random order), seconds
    (per step), threads (torch's CPU threads: config `threads`, as the jobs use), device;
    and the update's counted cost (adamix.schedules.cost.step_cost: update_streams and
    update_flops per weight element, update_mb and update_mflops per step).
    `plugins`: the plug-ins that define the cells' rules (config `plugins`)."""
    for plugin in plugins:
        load_plugin(plugin)
    device = setup_job(device, threads)
    torch.set_flush_denormal(True)  # as fine-tuning does (adamix.train.finetune_job)
    train_x = pixels(load_subset(subset)["train_images"], device)
    model = unroll([load_layer(path) for path in layers]).to(device)
    distinct = {(job, run): FinetuneSettings.from_mapping(s) for _, run, job, s in cells}
    replicated = next((key for key in distinct if key[1] == BASELINE), None)
    timed_cells = [[job, run, s] for (job, run), s in distinct.items()]
    if replicated is not None:
        timed_cells.append([replicated[0] + REPLICA_SUFFIX, BASELINE, distinct[replicated]])
    log(
        f"timing {len(timed_cells)} distinct runs ({'a' if replicated else 'no'} replica of"
        f" {BASELINE}) of {len(cells)} cells on {device}, {torch.get_num_threads()} threads"
    )
    timed = pd.DataFrame(
        time_training_steps(
            model, train_x, timed_cells, rounds=rounds, steps=steps, seed=seed, log=log
        )
    )  # fmt: skip
    parts = []
    for reading, run, job, _ in cells:
        parts.append(_rows(timed, job, run).assign(reading=reading, replica=False))
        if (job, run) == replicated:
            copy_ = _rows(timed, job + REPLICA_SUFFIX, run)
            parts.append(copy_.assign(reading=reading, replica=True))
    table = pd.concat(parts)[["reading", "run", "replica", "round", "position", "seconds"]]
    # claim 2 by analysis: what each run's update costs, counted from its kernels' code
    weights, biases = (sum(p.numel() for p in ps) for ps in weights_and_biases(model))
    costs = pd.DataFrame(
        [{"reading": reading, "run": run,
          **step_cost(run, FinetuneSettings.from_mapping(s), weights, biases)}
         for reading, run, _, s in cells]
    )  # fmt: skip
    table = table.assign(
        threads=torch.get_num_threads(), device=str(device), device_name=device_name(device),
        torch_version=torch.__version__,
    ).merge(costs, on=["reading", "run"], how="left")  # fmt: skip
    with atomic(out) as tmp:
        table.to_parquet(tmp, index=False)


def _rows(timed: pd.DataFrame, name: str, run: str) -> pd.DataFrame:
    return timed[(timed["name"] == name) & (timed["run"] == run)]
