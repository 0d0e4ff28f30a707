"""Benchmarks of the pipeline's hot loops: ``python -m adamix.bench [--quick] [--threads N]``.

Not a test: it prints a readable table per section and, as its LAST line, one JSON object
with every number for scripts to read. Everything is measured in one run on the machine it
is started on, so the ratios compare like with like:

- ``matmul``: the machine's own matrix-multiply rate, GFLOP/s of the float32 products of
  the forward pass of the unrolled autoencoder 784-1000-500-250-30-250-500-1000-784 at
  minibatch 100, each at its own best rate (``matmul_gflops``, the roofline of the ratios
  below).
- ``finetune``: seconds of one fine-tuning epoch (6000 images, minibatch 100) of the real
  training loop (``adamix.train.train_epoch``) for Cons+Cons, AdaMix+Power,
  AdaGrad+AdaGrad and AdaDec+AdaDec, and of the "peer": a plain PyTorch loop,
  ``torch.optim.SGD`` on the same ``nn.Sequential``, same summed loss, data and batches.
  On a CPU each adaptive pair runs twice: on its fused kernels (``adamix.schedules.fused``, what
  the pipeline uses) and, marked "(foreach)", on the torch foreach ops they replaced.
  Per rule pair: ``seconds_per_epoch``, achieved GFLOP/s (forward and backward matmul
  FLOPs), ``roofline_ratio_finetune`` (that / ``matmul_gflops``), ``peer_ratio`` (peer
  seconds / ours) and ``overhead_pct`` (over Cons+Cons).
- ``pretrain``: one CD-1 epoch of each layer's RBM (``adamix.train.rbm.train_rbm``), its GFLOP/s
  and ``roofline_ratio_pretrain`` (per layer and "all": total FLOPs / total seconds).
- ``evaluate``: the per-epoch bookkeeping of a fine-tuning job: test-set RER of 1000
  images (``eval_seconds``) and the resume checkpoint (``checkpoint_seconds``).
- ``schedules``: seconds per ``step()`` of every rule pair against one forward+backward
  (``step_overhead_pct``).
- ``layout`` (only when named in ``--sections``): the finetune section in child processes,
  one 1-thread job, one 2-thread job, and two 1-thread jobs at once: which Snakemake layout
  gets more epochs per second out of the machine.

A section is a function ``(args, report) -> dict`` listed in ``SECTIONS``; ``report`` holds
what the sections before it found. Timings are medians over rounds; within a round every
candidate is timed once, one after another, so that load from other processes spreads
over all of them alike. The load average is recorded at start and end (``loadavg``).
"""

from __future__ import annotations

import argparse
import copy
import functools
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable

import torch
from torch import nn

from adamix.schedules import RULES, build_optimizer
from adamix.train import GraphedSteps, train_epoch
from adamix.train.autoencoder import reconstruction_error, unroll, weights_and_biases
from adamix.train.devices import device_name
from adamix.train.rbm import init_rbm, train_rbm
from adamix.train.resume import save_state
from adamix.train.step_timing import seconds_per_call, synchronizer

ENCODER = (784, 1000, 500, 250, 30)
SIZES = ENCODER + ENCODER[-2::-1]  # the unrolled autoencoder
BATCH = 100
IMAGES, TEST_IMAGES = 6000, 1000  # the paper's "1/10" set
LR, EPOCHS = 1e-3, 50  # fine-tuning rate and epochs of the paper (R = EPOCHS * steps)
PRETRAIN = dict(lr=0.1, lr_linear=0.001, momentum=0.9, weight_cost=0.0002)  # rbm.m
FINETUNE_PAIRS = [
    ("Cons", "Cons"),
    ("AdaMix", "Power"),
    ("AdaGrad", "AdaGrad"),
    ("AdaDec", "AdaDec"),
]
STEP_PAIRS = [
    ("Cons", "Cons"),
    ("Exp", "Exp"),
    ("Power", "Power"),
    ("AdaGrad", "AdaGrad"),
    ("AdaDec", "AdaDec"),
    ("AdaMix", "Power"),
    ("AdaMix", "AdaMix"),
]
PEER = "peer (torch.optim.SGD)"
FOREACH = "(foreach)"  # the adaptive rules as torch foreach ops instead of fused CPU kernels
GRAPHED = " (CUDA graph)"  # config cuda_graphs: adamix.train.GraphedSteps


def autoencoder(device: str, seed: int = 0) -> nn.Sequential:
    """The pipeline's unrolled network (adamix.train.autoencoder.unroll) of RBMs initialised as in
    the paper, weights ~ N(0, 0.001), biases 0: pre-training does not change its speed."""
    gen = torch.Generator().manual_seed(seed)
    rbms = [
        init_rbm(n_in, n_out, weight_std=0.001**0.5, generator=gen)
        for n_in, n_out in zip(ENCODER[:-1], ENCODER[1:], strict=True)
    ]
    return unroll(rbms).to(device)


def finetune_flops(batch: int, sizes=SIZES) -> int:
    """Matmul FLOPs of one training step: forward, weight gradients, and input gradients of
    every layer but the first (the images need none)."""
    per_layer = [2 * batch * n_in * n_out for n_in, n_out in zip(sizes, sizes[1:], strict=False)]
    return 2 * sum(per_layer) + sum(per_layer[1:])


def rbm_flops(batch: int, n_visible: int, n_hidden: int) -> int:
    """Matmul FLOPs of one CD-1 step: v0 W, h W', v1 W, v0'h0 and v1'h1."""
    return 10 * batch * n_visible * n_hidden


def median(xs: list[float]) -> float:
    xs = sorted(xs)
    mid = len(xs) // 2
    return xs[mid] if len(xs) % 2 else (xs[mid - 1] + xs[mid]) / 2


def interleaved_medians(
    candidates: dict[str, Callable[[], None]], rounds: int, calls: int, sync
) -> dict[str, float]:
    """Median over rounds of the seconds per call of every candidate, timed in turn."""
    samples: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(rounds):
        for name, fn in candidates.items():
            samples[name].append(seconds_per_call(fn, calls, sync))
    return {name: median(xs) for name, xs in samples.items()}


def images(n: int, width: int, device: str, seed: int) -> torch.Tensor:
    """Stand-in data in [0, 1], one tensor on the device (values do not change the speed)."""
    return torch.rand(n, width, generator=torch.Generator().manual_seed(seed)).to(device)


# --- section: matmul ---------------------------------------------------------------------


def bench_matmul(args: argparse.Namespace, report: dict) -> dict:
    """GFLOP/s of the forward products x W' + b of the unrolled autoencoder at batch 100.

    The peak (``matmul_gflops``, the roofline of the other sections) is the forward pass at
    the rate each product reaches when repeated on its own, operands in cache: the total
    FLOPs over the sum of the per-product times. The same products one after another, as a
    forward pass runs them, are reported beside it (``matmul_gflops_in_turn``)."""
    device, sync = args.device, synchronizer(args.device)
    rounds, calls = (2, 2) if args.quick else (15, 20)
    gen = torch.Generator().manual_seed(2)
    layers = [
        (
            torch.randn(n_out, n_in, generator=gen).to(device),
            torch.zeros(n_out, device=device),
            torch.rand(BATCH, n_in, generator=gen).to(device),
        )
        for n_in, n_out in zip(SIZES, SIZES[1:], strict=False)
    ]

    def in_turn():
        for W, b, x in layers:
            torch.addmm(b, x, W.T)

    candidates = {
        f"{W.shape[1]}x{W.shape[0]}": functools.partial(torch.addmm, b, x, W.T)
        for W, b, x in layers
    }
    candidates["in turn"] = in_turn
    in_turn()
    seconds = interleaved_medians(candidates, rounds, calls, sync)
    flops = {f"{W.shape[1]}x{W.shape[0]}": 2 * BATCH * W.numel() for W, _, _ in layers}
    flops["in turn"] = sum(flops.values())
    gflops = {name: flops[name] / seconds[name] / 1e9 for name in seconds}
    peak = flops["in turn"] / sum(s for name, s in seconds.items() if name != "in turn") / 1e9

    print(
        f"\nmatmul: float32 x W' + b at batch {BATCH}, {_where(args)}; "
        f"median of {rounds} rounds x {calls} calls"
    )
    print(f"  {'product':<34}{'ms':>8}{'GFLOP/s':>10}")
    for name, s in seconds.items():
        label = "all 8 in turn, as a forward pass" if name == "in turn" else name
        print(f"  {label:<34}{s * 1e3:8.3f}{gflops[name]:10.1f}")
    print(f"  {'peak: all 8 at their own rates':<34}{'':>8}{peak:10.1f}")
    return {
        "matmul_gflops": peak,
        "matmul_gflops_in_turn": gflops.pop("in turn"),
        "matmul_gflops_by_shape": gflops,
    }


# --- section: finetune ---------------------------------------------------------------------


def peer_epoch(model: nn.Module, optimizer, train_x: torch.Tensor, perm: torch.Tensor) -> None:
    """The plain PyTorch loop: the same model, loss (summed squared error) and batches."""
    perm = perm.to(train_x.device)
    for i in range(perm.numel() // BATCH):
        xb = train_x[perm[i * BATCH : (i + 1) * BATCH]]
        optimizer.zero_grad()
        loss = (model(xb) - xb).square().sum()
        loss.backward()
        optimizer.step()


def our_epoch(model: nn.Module, optimizer, train_x: torch.Tensor, perm: torch.Tensor) -> None:
    """adamix.train's epoch, and the one wait for the device per epoch that finetune() has."""
    train_epoch(model, optimizer, train_x, perm, BATCH).item()


def graphed_epoch(
    model: nn.Module, optimizer, train_x: torch.Tensor, perm: torch.Tensor, steps: GraphedSteps
) -> None:
    """The pipeline's epoch on CUDA with config cuda_graphs: every training step replayed
    from one captured graph (adamix.train.GraphedSteps; its first call captures)."""
    steps.epoch(perm).item()


def graph_candidates(
    base: nn.Module, train_x: torch.Tensor, steps: int, epoch_of: Callable
) -> dict[str, Callable[[], None]]:
    """On CUDA: every registered rule as the weight and the bias rule (None excepted),
    eager and replayed from the captured graph, the two paths the pipeline has there."""
    candidates = {}
    for rule in (r for r in RULES if r != "None"):
        for graphed in (False, True):
            model = copy.deepcopy(base)
            optimizer = build_optimizer(
                *weights_and_biases(model), rule, rule, lr=LR, total_steps=EPOCHS * steps,
                capturable=graphed,
            )  # fmt: skip
            if graphed:
                graph = GraphedSteps(model, optimizer, train_x, BATCH, "sse")
                loop = functools.partial(graphed_epoch, steps=graph)
            else:
                loop = our_epoch
            candidates[f"{rule}+{rule}{GRAPHED if graphed else ''}"] = epoch_of(
                loop, model, optimizer
            )
    return candidates


def paths(device: str, weight_rule: str, bias_rule: str) -> list[tuple[str, bool | None]]:
    """(name, fused) of the candidates of a rule pair: the pipeline's own path and, where
    that is the fused CPU kernels (adaptive rules on a CPU), the foreach ops they replaced,
    as a before-and-after in one run."""
    pair = f"{weight_rule}+{bias_rule}"
    fused = any(getattr(RULES[rule], "kernel", None) for rule in (weight_rule, bias_rule))
    if device == "cpu" and fused:
        return [(pair, None), (f"{pair} {FOREACH}", False)]
    return [(pair, None)]


def bench_finetune(args: argparse.Namespace, report: dict) -> dict:
    """One fine-tuning epoch of the real loop per rule pair, and of the plain peer loop."""
    device, sync = args.device, synchronizer(args.device)
    n, rounds = (300, 1) if args.quick else (IMAGES, 5)
    steps = n // BATCH
    train_x = images(n, ENCODER[0], device, seed=3)
    base = autoencoder(device)

    def epoch_of(loop: Callable, model: nn.Module, optimizer) -> Callable[[], None]:
        gen = torch.Generator().manual_seed(4)  # every loop sees the same minibatches
        return lambda: loop(model, optimizer, train_x, torch.randperm(n, generator=gen))

    model = copy.deepcopy(base)
    candidates = {PEER: epoch_of(peer_epoch, model, torch.optim.SGD(model.parameters(), lr=LR))}
    for weight_rule, bias_rule in FINETUNE_PAIRS:
        for name, fused in paths(device, weight_rule, bias_rule):
            model = copy.deepcopy(base)
            weights, biases = weights_and_biases(model)
            optimizer = build_optimizer(
                weights, biases, weight_rule, bias_rule, lr=LR, total_steps=EPOCHS * steps,
                fused=fused,
            )  # fmt: skip
            candidates[name] = epoch_of(our_epoch, model, optimizer)
    if device.startswith("cuda"):
        candidates.update(graph_candidates(base, train_x, steps, epoch_of))
    for fn in candidates.values():  # warm-up: allocator, caches, the rules' state
        fn()
    seconds = interleaved_medians(candidates, rounds, 1, sync)

    peak = report.get("matmul_gflops")
    flops = steps * finetune_flops(BATCH)
    gflops = {name: flops / s / 1e9 for name, s in seconds.items()}
    roofline = {name: g / peak for name, g in gflops.items()} if peak else {}
    peer_ratio = {name: seconds[PEER] / s for name, s in seconds.items() if name != PEER}
    cons = seconds["Cons+Cons"]
    overhead = {
        name: 100 * (s / cons - 1)
        for name, s in seconds.items()
        if name != PEER and not name.endswith(GRAPHED)
    }
    graph_speedup = {  # eager seconds / graphed seconds of the same run
        name.removesuffix(GRAPHED): seconds[name.removesuffix(GRAPHED)] / s
        for name, s in seconds.items()
        if name.endswith(GRAPHED)
    }

    print(
        f"\nfinetune: one epoch, {n} images, batch {BATCH}, {flops / 1e9:.1f} GFLOP of "
        f"matmuls, {_where(args)}; median of {rounds} rounds"
    )
    print(
        f"  {'loop':<28}{'s/epoch':>9}{'GFLOP/s':>9}{'/ matmul':>10}{'peer/ours':>11}"
        f"{'vs Cons %':>11}"
    )
    for name, s in seconds.items():
        print(
            f"  {name:<28}{s:9.3f}{gflops[name]:9.1f}{_fmt(roofline.get(name)):>10}"
            f"{_fmt(peer_ratio.get(name)):>11}{_fmt(overhead.get(name), '.1f'):>11}"
        )
    if graph_speedup:
        speedups = ", ".join(f"{run} {x:.1f}x" for run, x in graph_speedup.items())
        print(f"  eager / CUDA graph: {speedups}")
    return {
        "seconds_per_epoch": seconds,
        "graph_speedup": graph_speedup,
        "gflops_finetune": gflops,
        "roofline_ratio_finetune": roofline,
        "peer_ratio": peer_ratio,
        "overhead_pct": {name: round(pct, 2) for name, pct in overhead.items()},
    }


# --- section: pretrain ---------------------------------------------------------------------


def bench_pretrain(args: argparse.Namespace, report: dict) -> dict:
    """One CD-1 epoch of each layer's RBM on its input width (the top one linear)."""
    device, sync = args.device, synchronizer(args.device)
    n, rounds = (300, 1) if args.quick else (IMAGES, 3)
    steps = n // BATCH
    candidates: dict[str, Callable] = {}
    flops: dict[str, int] = {}
    for k, (n_in, n_out) in enumerate(zip(ENCODER[:-1], ENCODER[1:], strict=True)):
        top = k == len(ENCODER) - 2
        gen = torch.Generator().manual_seed(5 + k)
        data = images(n, n_in, device, seed=6 + k)
        rbm = init_rbm(n_in, n_out, weight_std=0.001**0.5, generator=gen)
        rbm = {key: value.to(device) for key, value in rbm.items()}
        name = f"{n_in}-{n_out}" + (" linear" if top else "")
        candidates[name] = functools.partial(
            train_rbm,
            rbm,
            data,
            linear_hidden=top,
            epochs=1,
            batch_size=BATCH,
            lr=PRETRAIN["lr_linear" if top else "lr"],
            momentum_initial=PRETRAIN["momentum"],
            momentum_final=PRETRAIN["momentum"],
            momentum_switch_epoch=0,
            weight_cost=PRETRAIN["weight_cost"],
            generator=gen,
            log=lambda _: None,
        )
        flops[name] = steps * rbm_flops(BATCH, n_in, n_out)
    for fn in candidates.values():
        fn()
    seconds = interleaved_medians(candidates, rounds, 1, sync)
    seconds["all"] = sum(seconds.values())
    flops["all"] = sum(flops.values())
    peak = report.get("matmul_gflops")
    gflops = {name: flops[name] / s / 1e9 for name, s in seconds.items()}
    roofline = {name: g / peak for name, g in gflops.items()} if peak else {}

    print(
        f"\npretrain: one CD-1 epoch per layer, {n} rows, batch {BATCH}, {_where(args)}; "
        f"median of {rounds} rounds"
    )
    print(f"  {'layer':<16}{'s/epoch':>9}{'GFLOP/s':>9}{'/ matmul':>10}")
    for name, s in seconds.items():
        print(f"  {name:<16}{s:9.3f}{gflops[name]:9.1f}{_fmt(roofline.get(name)):>10}")
    return {
        "pretrain_seconds_per_epoch": seconds,
        "gflops_pretrain": gflops,
        "roofline_ratio_pretrain": roofline,
    }


# --- section: evaluate ---------------------------------------------------------------------


def bench_evaluate(args: argparse.Namespace, report: dict) -> dict:
    """What a fine-tuning job does after each epoch: the test-set RER, the resume checkpoint
    (with AdaDec's state, the largest of the rules)."""
    device, sync = args.device, synchronizer(args.device)
    rounds = 2 if args.quick else 10
    test_x = images(TEST_IMAGES, ENCODER[0], device, seed=7)
    model = autoencoder(device)
    weights, biases = weights_and_biases(model)
    optimizer = build_optimizer(weights, biases, "AdaDec", "AdaDec", lr=LR, total_steps=10)
    (model(test_x[:BATCH]) - test_x[:BATCH]).square().sum().backward()
    optimizer.step()  # creates the state
    generator = torch.Generator()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "state.pt")
        seconds = interleaved_medians(
            {
                "eval": lambda: reconstruction_error(model, test_x),
                "checkpoint": lambda: save_state(path, {}, model, optimizer, generator, []),
            },
            rounds,
            1,
            sync,
        )
    epoch = report.get("seconds_per_epoch", {}).get("Cons+Cons")
    print(
        f"\nevaluate: per-epoch bookkeeping of a fine-tuning job, {_where(args)}; "
        f"median of {rounds} rounds"
    )
    labels = {"eval": f"test RER, {TEST_IMAGES} images", "checkpoint": "resume state"}
    for name, label in labels.items():
        share = f"  ({100 * seconds[name] / epoch:.1f}% of a Cons epoch)" if epoch else ""
        print(f"  {label:<24}{seconds[name] * 1e3:9.2f} ms{share}")
    return {"eval_seconds": seconds["eval"], "checkpoint_seconds": seconds["checkpoint"]}


# --- section: schedules --------------------------------------------------------------------


def bench_schedules(args: argparse.Namespace, report: dict) -> dict:
    """step() of every rule pair against one forward+backward of the unrolled autoencoder."""
    device, sync = args.device, synchronizer(args.device)
    warm_steps, rounds, calls = (2, 3, 1) if args.quick else (60, 15, 5)
    batches = [images(BATCH, ENCODER[0], device, seed=10 + i) for i in range(10)]

    def forward_backward(net: nn.Module, x: torch.Tensor) -> None:
        net.zero_grad(set_to_none=True)
        (net(x) - x).square().sum().backward()

    # One net per pair, trained for warm_steps real steps first, so that the state (AdaMix's
    # alphas, some already at their floor) and the gradients are those of training.
    candidates: dict[str, Callable[[], None]] = {}
    for weight_rule, bias_rule in STEP_PAIRS:
        for name, fused in paths(device, weight_rule, bias_rule):
            net = autoencoder(device)
            weights, biases = weights_and_biases(net)
            opt = build_optimizer(
                weights, biases, weight_rule, bias_rule, lr=LR, total_steps=10 * warm_steps,
                fused=fused,
            )  # fmt: skip
            for i in range(warm_steps):
                forward_backward(net, batches[i % len(batches)])
                opt.step()
            forward_backward(net, batches[0])  # the gradient every timed step() reuses
            candidates[name] = opt.step
    net, x = autoencoder(device), batches[0]
    candidates["fwd+bwd"] = lambda: forward_backward(net, x)

    seconds = interleaved_medians(candidates, rounds, calls, sync)
    fwdbwd = seconds.pop("fwd+bwd")
    cons = seconds["Cons+Cons"]
    overhead = {pair: 100 * ((fwdbwd + s) / (fwdbwd + cons) - 1) for pair, s in seconds.items()}

    n_params = sum(p.numel() for p in net.parameters())
    print(
        f"\nschedules: step() of each rule pair vs one minibatch, {n_params:,} parameters, "
        f"batch {BATCH}, {_where(args)}; median of {rounds} rounds x {calls} calls"
    )
    print(f"  fwd+bwd  {fwdbwd * 1e3:8.3f} ms")
    print(f"  {'rule pair':<26}{'step() ms':>10}{'step/fwdbwd %':>15}{'overhead vs Cons %':>20}")
    for pair, s in seconds.items():
        print(f"  {pair:<26}{s * 1e3:10.3f}{100 * s / fwdbwd:15.1f}{overhead[pair]:20.1f}")
    return {
        "fwdbwd_s": fwdbwd,
        "step_s": seconds,
        "step_overhead_pct": {pair: round(pct, 2) for pair, pct in overhead.items()},
        "params": n_params,
    }


# --- section: layout -----------------------------------------------------------------------


def bench_layout(args: argparse.Namespace, report: dict) -> dict:
    """The finetune section in child processes: 1 job x 1 thread, 1 job x 2 threads and
    2 jobs x 1 thread at once. Throughput: epochs per second of all jobs together."""
    command = [sys.executable, "-m", "adamix.bench", "--sections", "finetune"]
    command += ["--device", args.device] + (["--quick"] if args.quick else [])
    layouts = {"1 job x 1 thread": (1, 1), "1 job x 2 threads": (1, 2), "2 jobs x 1 thread": (2, 1)}
    seconds: dict[str, dict[str, float]] = {}
    throughput: dict[str, dict[str, float]] = {}
    for layout, (jobs, threads) in layouts.items():
        argv = command + ["--threads", str(threads)]
        children = [subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) for _ in range(jobs)]
        outputs = [child.communicate()[0] for child in children]
        per_job = [json.loads(out.strip().splitlines()[-1])["seconds_per_epoch"] for out in outputs]
        seconds[layout] = {name: median([s[name] for s in per_job]) for name in per_job[0]}
        throughput[layout] = {name: sum(1 / s[name] for s in per_job) for name in per_job[0]}

    print(
        "\nlayout: the finetune section as 1 job x 1 thread, 1 job x 2 threads and 2 jobs x 1 "
        f"thread at once (child processes, {args.device})"
    )
    print(f"  {'layout':<20}{'loop':<24}{'s/epoch per job':>16}{'epochs/s, all jobs':>20}")
    for layout in layouts:
        for name, s in seconds[layout].items():
            print(f"  {layout:<20}{name:<24}{s:16.3f}{throughput[layout][name]:20.3f}")
    return {"layout_seconds_per_epoch": seconds, "layout_epochs_per_second": throughput}


SECTIONS: dict[str, Callable[[argparse.Namespace, dict], dict]] = {
    "matmul": bench_matmul,
    "finetune": bench_finetune,
    "pretrain": bench_pretrain,
    "evaluate": bench_evaluate,
    "schedules": bench_schedules,
    "layout": bench_layout,
}
DEFAULT_SECTIONS = ["matmul", "finetune", "pretrain", "evaluate", "schedules"]


def _where(args: argparse.Namespace) -> str:
    return f"{args.device}, {torch.get_num_threads()} thread(s)"


def _fmt(x: float | None, spec: str = ".3f") -> str:
    return "-" if x is None else format(x, spec)


def loadavg() -> float | None:
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m adamix.bench", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes and counts (seconds)")
    parser.add_argument("--threads", type=int, help="torch.set_num_threads(N)")
    parser.add_argument(
        "--device",
        default="cuda" if torch.cuda.is_available() else "cpu",
        help="torch device (default: cuda if available, else cpu)",
    )
    parser.add_argument(
        "--sections",
        nargs="+",
        choices=list(SECTIONS),
        default=DEFAULT_SECTIONS,
        metavar="NAME",
        help=f"default: {' '.join(DEFAULT_SECTIONS)}; also: layout",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)  # as the pipeline's jobs do
    report = {
        "device": args.device,
        "device_name": device_name(args.device),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "quick": args.quick,
        "loadavg": [loadavg()],
    }
    for name in args.sections:
        report.update(SECTIONS[name](args, report))
    report["loadavg"].append(loadavg())
    print(json.dumps(report))
    return report


if __name__ == "__main__":
    main()
