"""What one step of a rule's update costs per element, counted from the code the jobs run.

Claim 2 by analysis (docs/paper.md): a step of an adaptive rule on the CPU is one fused
loop over the parameter (adamix.schedules.fused); its cost per element is the parameter-
sized arrays it reads and writes (each a stream of memory: the update is memory-bound)
and the arithmetic it does on them. Both are counted by running the kernel's own Python
source (numba's ``py_func``, its callees interpreted too) on one element whose values and
arrays tally every operation: nothing here restates a formula. An operation counts where
an operand comes from the element (an array read or a result of one); arithmetic on the
kernel's scalars alone is done once per step, not per element.

A scalar rule (p -= c(t) g, one torch op) reads p and g, writes p and does one
multiply-add (2 flops); one whose rate is 0 (the paper's None) skips the step. Rules of
torch.optim and plug-ins without a kernel have no count here (None).
"""

from __future__ import annotations

import types
from dataclasses import dataclass

import numba
import torch

from adamix.plan.settings import FinetuneSettings
from adamix.schedules.kinds import AdaptiveRule, ScalarRule
from adamix.schedules.registry import get_rule


@dataclass
class Cost:
    """Per element of a parameter and step: arrays read and written, flops (of which
    square roots and divisions, the slow ones)."""

    reads: int = 0
    writes: int = 0
    flops: int = 0
    sqrt: int = 0
    div: int = 0

    @property
    def streams(self) -> int:
        """Passes over memory: reads plus writes."""
        return self.reads + self.writes


class _Value:
    """A number that tallies the operations on it into `cost`; `element`: it comes from
    the element (an array read or a result of one), so its operations count."""

    def __init__(self, cost: Cost, value: float, element: bool = False):
        self.cost, self.value, self.element = cost, float(value), element

    def _op(self, other, fn, kind: str = "") -> _Value:
        o = other if isinstance(other, _Value) else _Value(self.cost, other)
        element = self.element or o.element
        if element:
            self.cost.flops += 1
            if kind:
                setattr(self.cost, kind, getattr(self.cost, kind) + 1)
        return _Value(self.cost, fn(self.value, o.value), element)

    def __add__(self, o):
        return self._op(o, lambda a, b: a + b)

    def __radd__(self, o):
        return self._op(o, lambda a, b: b + a)

    def __mul__(self, o):
        return self._op(o, lambda a, b: a * b)

    def __rmul__(self, o):
        return self._op(o, lambda a, b: b * a)

    def __sub__(self, o):
        return self._op(o, lambda a, b: a - b)

    def __truediv__(self, o):
        return self._op(o, lambda a, b: a / b, "div")

    def __rtruediv__(self, o):
        return _Value(self.cost, o)._op(self, lambda a, b: a / b, "div")

    def __neg__(self):
        return self._op(-1.0, lambda a, b: a * b)

    def __lt__(self, o):
        self._op(o, lambda a, b: 0.0)
        return self.value < (o.value if isinstance(o, _Value) else o)

    def sqrt(self):  # numpy's ufunc on an object calls its method of that name
        return self._op(0.0, lambda a, b: a**0.5, "sqrt")


class _Array:
    """One element of a parameter-sized array: reading it and writing it are tallied."""

    def __init__(self, cost: Cost, value: float = 1.0):
        self.cost, self.value, self.size = cost, value, 1
        self.dtype = types.SimpleNamespace(type=lambda x: _Value(cost, x))

    def __getitem__(self, i):
        self.cost.reads += 1
        return _Value(self.cost, self.value, element=True)

    def __setitem__(self, i, value):
        self.cost.writes += 1
        self.value = value.value if isinstance(value, _Value) else float(value)


def _interpreted(function):
    """A numba kernel as plain Python: its py_func, with the kernels it calls replaced by
    theirs."""
    f = function.py_func
    scope = {
        name: (value.py_func if isinstance(value, numba.core.dispatcher.Dispatcher) else value)
        for name, value in f.__globals__.items()
    }
    return types.FunctionType(f.__code__, scope, f.__name__, f.__defaults__, f.__closure__)


class _Kernels:
    """adamix.schedules.fused with its kernels interpreted, as the rules' `kernel` calls it."""

    def __init__(self):
        import adamix.schedules.fused as fused

        self._fused = fused

    def __getattr__(self, name):
        return _interpreted(getattr(self._fused, name))


def update_cost(rule_name: str, settings: FinetuneSettings) -> Cost | None:
    """The cost per element of one step of `rule_name` under `settings`, counted on its fused
    kernel's source; None for a rule without one, and under `update: epoch` (whose steps
    take torch's ops, not the kernels)."""
    rule = get_rule(rule_name)
    if settings.update == "epoch" and isinstance(rule, AdaptiveRule):
        return None
    if isinstance(rule, ScalarRule):  # a rate of 0 skips the step (ScheduledSGD)
        h = settings.rule_arguments(steps_per_epoch=1)
        moves = rule.rate(h, 0, h["total_steps"]) != 0.0
        return Cost(reads=2, writes=1, flops=2) if moves else Cost()
    if not isinstance(rule, AdaptiveRule) or rule.kernel is None:
        return None
    cost, h = Cost(), settings.rule_arguments(steps_per_epoch=1)
    state = [_Array(cost, 0.5) for _ in rule.state_keys(h)]
    parameter = torch.empty(0)  # the kernel reads only its dtype (float32, as the jobs')
    lagged = h["timing"] == "lagged"
    rule.kernel(_Kernels(), h, 1.0, parameter, _Array(cost), _Array(cost), state, lagged)
    return cost


def step_cost(run: str, settings: FinetuneSettings, weights: int, biases: int) -> dict:
    """One training step's update of `run` ("Weight+Bias") on `weights` and `biases`
    elements of float32: per weight element its streams (reads + writes) and flops, and per
    step the megabytes it moves and its flops; NaN where a rule has no count."""
    weight, bias = (update_cost(name, settings) for name in run.split("+"))
    if weight is None or bias is None:
        nan = float("nan")
        return dict.fromkeys(["update_streams", "update_flops", "update_mb", "update_mflops"], nan)
    return {
        "update_streams": weight.streams,
        "update_flops": weight.flops,
        "update_mb": 4 * (weight.streams * weights + bias.streams * biases) / 1e6,
        "update_mflops": (weight.flops * weights + bias.flops * biases) / 1e6,
    }
