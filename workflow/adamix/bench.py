"""Benchmarks of the pipeline's hot loops: ``python -m adamix.bench [--quick] [--threads N]``.

Not a test: it prints a readable table per section and, as its LAST line, one JSON object
with every number (at least ``overhead_pct`` and ``device``) for scripts to read.

Sections (add one by writing a function ``args -> dict`` and listing it in ``SECTIONS``):

- ``schedules``: seconds per ``step()`` of each learning-rate rule pair on the real
  parameters of the unrolled autoencoder 784-1000-500-250-30-250-500-1000-784, next to
  the seconds of one forward+backward of a 100-image minibatch (summed squared error).
  ``overhead_pct`` is the extra cost of a whole training step over Cons+Cons:
  (fwdbwd + step_rule) / (fwdbwd + step_cons) - 1, in percent.

Timings are medians over rounds; within a round every candidate is timed once, one
after another, so that load from other processes spreads over all of them alike.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Callable

import torch
from torch import nn

from adamix.schedules import build_optimizer

ENCODER = (784, 1000, 500, 250, 30)
CODE_LAYER = len(ENCODER) - 2  # index of the Linear layer into the linear 30-unit code
BATCH = 100
PAIRS = [
    ("Cons", "Cons"),
    ("Exp", "Exp"),
    ("Power", "Power"),
    ("AdaGrad", "AdaGrad"),
    ("AdaDec", "AdaDec"),
    ("AdaMix", "Power"),
    ("AdaMix", "AdaMix"),
]


def unrolled_autoencoder(device: str, dtype: torch.dtype, seed: int = 0) -> nn.Sequential:
    """784-1000-500-250-30-250-500-1000-784: logistic units, linear code, logistic output;
    weights ~ N(0, 0.001), biases 0 (the paper's initialisation, without pre-training)."""
    sizes = ENCODER + ENCODER[-2::-1]
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        linear = nn.Linear(n_in, n_out, device=device, dtype=dtype)
        nn.init.normal_(linear.weight, std=0.001**0.5)
        nn.init.zeros_(linear.bias)
        layers.append(linear)
        if i != CODE_LAYER:
            layers.append(nn.Sigmoid())
    return nn.Sequential(*layers)


def weights_and_biases(net: nn.Module) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    linears = [m for m in net.modules() if isinstance(m, nn.Linear)]
    return [m.weight for m in linears], [m.bias for m in linears]


def forward_backward(net: nn.Module, x: torch.Tensor) -> None:
    """One minibatch gradient, as fine-tuning computes it: summed squared error (eq. 6)."""
    net.zero_grad(set_to_none=True)
    ((net(x) - x) ** 2).sum().backward()


def synchronizer(device: str) -> Callable[[], None]:
    return torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)


def seconds_per_call(fn: Callable[[], None], calls: int, sync: Callable[[], None]) -> float:
    sync()
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    sync()
    return (time.perf_counter() - start) / calls


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


# --- section: schedules --------------------------------------------------------------


def bench_schedules(args: argparse.Namespace) -> dict:
    """step() of every rule pair against one forward+backward of the unrolled autoencoder."""
    device, dtype, sync = args.device, torch.float32, synchronizer(args.device)
    warm_steps, rounds, calls = (2, 3, 1) if args.quick else (60, 15, 5)
    gen = torch.Generator().manual_seed(1)
    batches = [torch.rand(BATCH, ENCODER[0], generator=gen).to(device, dtype) for _ in range(10)]

    # One net per pair, trained for warm_steps real steps first, so that the state (AdaMix's
    # alphas, some already at their floor) and the gradients are those of training.
    candidates: dict[str, Callable[[], None]] = {}
    for weight_rule, bias_rule in PAIRS:
        net = unrolled_autoencoder(device, dtype)
        weights, biases = weights_and_biases(net)
        opt = build_optimizer(
            weights, biases, weight_rule, bias_rule, lr=1e-3, total_steps=10 * warm_steps
        )
        for i in range(warm_steps):
            forward_backward(net, batches[i % len(batches)])
            opt.step()
        forward_backward(net, batches[0])  # the gradient every timed step() reuses
        candidates[f"{weight_rule}+{bias_rule}"] = opt.step
    net, x = unrolled_autoencoder(device, dtype), batches[0]
    candidates["fwd+bwd"] = lambda: forward_backward(net, x)

    seconds = interleaved_medians(candidates, rounds, calls, sync)
    fwdbwd = seconds.pop("fwd+bwd")
    cons = seconds["Cons+Cons"]
    overhead = {pair: 100 * ((fwdbwd + s) / (fwdbwd + cons) - 1) for pair, s in seconds.items()}

    n_params = sum(p.numel() for p in net.parameters())
    print(
        f"\nschedules: step() of each rule pair vs one minibatch, unrolled autoencoder "
        f"{n_params:,} parameters, batch {BATCH}, float32, {device}, "
        f"{torch.get_num_threads()} thread(s); median of {rounds} rounds x {calls} calls"
    )
    print(f"  fwd+bwd  {fwdbwd * 1e3:8.3f} ms")
    print(f"  {'rule pair':<16}{'step() ms':>10}{'step/fwdbwd %':>15}{'overhead vs Cons %':>20}")
    for pair, s in seconds.items():
        print(f"  {pair:<16}{s * 1e3:10.3f}{100 * s / fwdbwd:15.1f}{overhead[pair]:20.1f}")
    return {
        "fwdbwd_s": fwdbwd,
        "step_s": seconds,
        "overhead_pct": {pair: round(pct, 2) for pair, pct in overhead.items()},
        "params": n_params,
    }


SECTIONS: dict[str, Callable[[argparse.Namespace], dict]] = {
    "schedules": bench_schedules,
}


def device_name(device: str) -> str:
    if device.startswith("cuda"):
        return torch.cuda.get_device_name(device)
    try:  # Linux: the CPU model, e.g. "AMD EPYC 7B13"
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if "model name" in line)
    except (OSError, StopIteration):
        return platform.machine()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m adamix.bench", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="tiny repetition counts (seconds)")
    parser.add_argument("--threads", type=int, help="torch.set_num_threads(N)")
    parser.add_argument(
        "--device",
        default="cuda" if torch.cuda.is_available() else "cpu",
        help="torch device (default: cuda if available, else cpu)",
    )
    parser.add_argument(
        "--sections", nargs="+", choices=list(SECTIONS), default=list(SECTIONS), metavar="NAME"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    result = {
        "device": args.device,
        "device_name": device_name(args.device),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "quick": args.quick,
    }
    for name in args.sections:
        result.update(SECTIONS[name](args))
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
