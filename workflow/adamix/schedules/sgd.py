"""Learning-rate rules as one torch optimizer, ScheduledSGD, and the registry of rules.

Every rule is plain SGD, theta <- theta - eta * g; only the rate eta differs. A rule is
chosen per parameter group, and ``build_optimizer`` routes the paper's two labelled
groups, "weight" and "bias", to their rules (optax's ``multi_transform`` idea), so the
paper's method AdaMix+Power is ``build_optimizer(weights, biases, "AdaMix", "Power", ...)``.

Each rule is one small specification registered under its name in ``RULES`` (the
built-in ones in adamix.schedules.builtin); the optimizer knows no rule by name. A ``ScalarRule``
gives one rate shared by the whole group, a function of the step; an ``AdaptiveRule``
gives one rate per element, c(t) * factor, from per-parameter state; a ``TorchRule`` is
one of torch.optim's optimizers. A user's own rule is any of these, registered with
``register`` from a Python file that the config's ``plugins`` names (``load_plugin``).
Each rule declares the settings it ``reads``: two jobs that differ only in settings their
rules do not read compute the same.

The readings of the paper's ambiguities (docs/paper.md) are arguments, defaults first:

- ``timing`` (ambiguity 1): "current" folds g(t) into the rate that step t applies;
  "lagged" applies the rate built from g(0..t-1) and folds g(t) in afterwards, so the first
  step applies eta0/sqrt(K) (AdaGrad), eta0 (AdaMix), p(0)/sqrt(K) (AdaDec); K = 1 in the
  paper, where these are eta0 and p(0).
- ``adadec`` (ambiguity 2): "paper", eq. 14, G(t) = xi (s g(t-1))^2 + (s g(t))^2 with
  g(-1) = 0; "decaying" (Senior et al.), G(t) = xi G(t-1) + (s g(t))^2 with G(-1) = 0.
- ``t_unit`` (ambiguity 3): "step" counts optimizer steps; "epoch" makes the rules' t and R
  count epochs: t = step // steps_per_epoch and R = total_steps // steps_per_epoch.
- ``g_scale`` (ambiguity 5): s scales g inside the adaptive denominators only ("sum" is
  s = 1, "mean" is s = 1 / batch size); the update always uses the raw gradient.

A step allocates nothing and never synchronises with the device. It is memory-bound, so
an adaptive rule runs, like torch's own optimizers, on one of two paths (``fused``): on
the CPU, loops compiled by numba (``adamix.schedules.fused``) that read and write every element
once; elsewhere (a GPU) ``torch._foreach_*`` multi-tensor ops, in place, each rule making
as few passes as its formula allows. Both compute the same float operations in the same
order (tests/test_schedules.py compares them bit for bit).
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import numbers
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.optim import Optimizer

from adamix.plan.settings import SETTINGS, TRAINING

TIMINGS = ("current", "lagged")
ADADEC_FORMS = ("paper", "decaying")
T_UNITS = ("step", "epoch")
# What a rule may read (``reads``): the optimizer's hyperparameters of adamix.plan.settings.
READABLE = ("lr", "K", "q", "xi", "timing", "adadec", "t_unit", "g_scale")

__all__ = [
    "RULES",
    "AdaptiveRule",
    "ScalarRule",
    "ScheduledSGD",
    "build_optimizer",
    "load_plugin",
    "register",
]


# --- the two kinds of rule -------------------------------------------------------------


@dataclass(frozen=True)
class ScalarRule:
    """A rule that gives the whole group one rate: ``rate(h, t, R)``, with ``h`` the
    group's hyperparameters (h["lr"] is eta0, h["q"], h["K"] ...) and t, R the step and
    the total number of steps, counted in the unit of ``t_unit`` (list "t_unit" in
    ``reads`` when the rate depends on t). A rate of 0 leaves the parameters as they are."""

    name: str
    rate: Callable[[dict, int, int], float]
    reads: tuple[str, ...]
    doc: str = ""

    stateful = False
    PARTS = ("rate",)  # what must be a function

    def step(self, opt, group: dict, step: int | Tensor, params, grads, states) -> None:
        rate = self.rate(group, *schedule_time(group, step))
        if isinstance(rate, Tensor):  # the capturable path: a rate of the device's step
            torch._foreach_add_(params, torch._foreach_mul(grads, -rate))
        elif rate != 0.0:
            torch._foreach_add_(params, grads, alpha=-float(rate))

    def scalar(self, group: dict, step: int) -> float:
        t, R = schedule_time(group, step)
        return float(self.rate(group, t, R))

    def rate_stats(self, opt, group: dict, step: int) -> tuple[float, float, float]:
        rate = self.scalar(group, step)
        return rate, rate, rate


@dataclass(frozen=True)
class AdaptiveRule:
    """A rule with one rate per element, rate = c(t) * factor, the factor made from
    per-parameter state (torch tensors shaped like the parameter):

    - ``scale(h, step)``: c(t), one number per step (h: the group's hyperparameters);
    - ``init(h, p)``: the state before the first gradient, a dict of tensors;
    - ``fold(h, states, grads, scratch)``: fold g(t) into every parameter's state, in place,
      with torch ops (any device); ``scratch`` holds one free tensor per parameter;
    - ``factor(h, state, out)``: the factor the state gives (computed into ``out`` if it
      is not kept in the state);
    - ``no_state_factor(h)``: the factor of an element that never had a gradient;
    - ``kernel`` (optional): the fused CPU path, ``kernel(fused, h, c, p, P, G, state,
      lagged)`` with flat numpy views P, G and ``state_keys(h)`` of the state, in order.

    A step applies c * factor * g before folding g(t) in ("lagged") or after ("current").
    """

    name: str
    reads: tuple[str, ...]
    scale: Callable[[dict, int], float]
    init: Callable[[dict, Tensor], dict]
    fold: Callable[[dict, list[dict], list[Tensor], list[Tensor]], None]
    factor: Callable[[dict, dict, Tensor | None], Tensor]
    no_state_factor: Callable[[dict], float]
    kernel: Callable | None = None
    state_keys: Callable[[dict], tuple[str, ...]] | None = None
    doc: str = ""

    stateful = True
    PARTS = ("scale", "init", "fold", "factor", "no_state_factor")

    def step(self, opt, group: dict, step: int | Tensor, params, grads, states) -> None:
        views = opt._fused_views(group, self, params, grads, states)
        c = self.scale(group, step)
        lagged = group["timing"] == "lagged"
        if views is not None:
            kernels = _fused_kernels()
            kernels.match_threads()
            for p, (P, G, *state) in zip(params, views, strict=True):
                self.kernel(kernels, group, c, p, P, G, state, lagged)
            return
        scratch = opt._scratch_like(params)

        def apply() -> None:
            factors = [self.factor(group, st, buf) for st, buf in zip(states, scratch, strict=True)]
            if isinstance(c, Tensor):  # the capturable path: c(t) of the device's step
                torch._foreach_addcmul_(params, grads, torch._foreach_mul(factors, -c))
            else:
                torch._foreach_addcmul_(params, grads, factors, value=-c)

        if lagged:  # the rate built from g(0 .. t-1)
            apply()
        self.fold(group, states, grads, scratch)
        if not lagged:  # the rate built from g(0 .. t)
            apply()

    def rate_stats(self, opt, group: dict, step: int) -> tuple[float, float, float]:
        c = self.scale(group, step)  # rate = c * factor, c >= 0: the factor's stats scale
        no_state = self.no_state_factor(group)
        total, n, lo, hi = 0.0, 0, float("inf"), float("-inf")
        for p in group["params"]:
            state = opt.state.get(p)
            if state:
                factor = self.factor(group, state, None)
                total += factor.sum(dtype=torch.float64).item()
                lo, hi = min(lo, factor.min().item()), max(hi, factor.max().item())
            else:
                total += no_state * p.numel()
                lo, hi = min(lo, no_state), max(hi, no_state)
            n += p.numel()
        if n == 0:
            return float("nan"), float("nan"), float("nan")
        return c * total / n, c * lo, c * hi


@dataclass(frozen=True)
class TorchRule:
    """A rule that is one of torch.optim's optimizers, not rewritten: ``make(params, h)``
    builds it for the group's parameters (h: the group's hyperparameters; h["lr"] its
    rate). Its per-parameter state is the ScheduledSGD's own, so ``state_dict()`` saves it
    and a resumed run continues bit for bit. Its rate statistics are the nominal rate
    eta0: the per-element rate of such an optimizer has no closed form here.
    ``library_lr``: the library's own default rate, the tuning's one-shot comparison."""

    name: str
    make: Callable[[list[Tensor], dict], Optimizer]
    reads: tuple[str, ...] = ("lr",)
    doc: str = ""
    library_lr: float | None = None

    stateful = False  # the inner optimizer makes its state
    PARTS = ("make",)

    def step(self, opt, group: dict, step: int | Tensor, params, grads, states) -> None:
        inner = opt._inner.get(id(group))
        if inner is None:  # torch.optim's capturable flag exists for its device steps only
            h = {**group, "capturable": group["capturable"] and params[0].is_cuda}
            inner = opt._inner[id(group)] = self.make(group["params"], h)
        inner.state = opt.state  # shared, and new after a load_state_dict
        inner.step()

    def rate_stats(self, opt, group: dict, step: int) -> tuple[float, float, float]:
        return group["lr"], group["lr"], group["lr"]


Rule = ScalarRule | AdaptiveRule | TorchRule

# --- the registry ------------------------------------------------------------------------

RULES: dict[str, Rule] = {}  # name -> specification; the built-ins below, then plug-ins
NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")  # no "+": runs are Weight+Bias


def register(rule: Rule) -> Rule:
    """Add a rule to ``RULES`` under its name; ValueError for a taken name, a bad name, an
    unknown setting in ``reads`` or a missing part."""
    if not isinstance(rule, ScalarRule | AdaptiveRule | TorchRule):
        raise ValueError(f"{rule!r} is not a ScalarRule, an AdaptiveRule or a TorchRule")
    where = f"rule {rule.name!r}"
    if not isinstance(rule.name, str) or not NAME.match(rule.name):
        raise ValueError(f"{where}: a name is letters, digits and _, starting with a letter")
    if rule.name in RULES:
        raise ValueError(f"{where} is already registered; choose another name")
    if unknown := sorted(set(rule.reads) - set(READABLE)):
        raise ValueError(f"{where}: reads unknown settings {unknown}; known: {READABLE}")
    if missing := [part for part in rule.PARTS if not callable(getattr(rule, part))]:
        raise ValueError(f"{where}: {', '.join(missing)} must be a function")
    if isinstance(rule, AdaptiveRule) and (rule.kernel is None) != (rule.state_keys is None):
        raise ValueError(f"{where}: a fused kernel needs state_keys, and state_keys a kernel")
    RULES[rule.name] = rule
    return rule


def get_rule(name: str) -> Rule:
    try:
        return RULES[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown rule {name!r}; registered: {', '.join(RULES)}") from None


_PLUGINS: dict[str, tuple[str, ...]] = {}  # plug-in -> the rules it registered


def load_plugin(entry: str) -> tuple[str, ...]:
    """Import a plug-in, a Python file (``path/to/rules.py``) or an importable module
    (``package.rules``), whose code calls ``register``; returns the names it registered.
    Loading the same plug-in again does nothing. ValueError if it registers no rule."""
    key = str(Path(entry).resolve()) if entry.endswith(".py") else entry
    if key in _PLUGINS:
        return _PLUGINS[key]
    before = set(RULES)
    try:
        if entry.endswith(".py"):
            if not Path(entry).is_file():
                raise FileNotFoundError(f"plug-in {entry!r}: no such file")
            module_name = "adamix_plugin_" + re.sub(r"\W", "_", key)
            spec = importlib.util.spec_from_file_location(module_name, entry)
            spec.loader.exec_module(importlib.util.module_from_spec(spec))
        else:
            importlib.import_module(entry)
    except ValueError as error:
        raise ValueError(f"plug-in {entry!r}: {error}") from None
    names = tuple(name for name in RULES if name not in before)
    if not names:
        raise ValueError(f"plug-in {entry!r} registered no rule (call adamix.schedules.register)")
    _PLUGINS[key] = names
    return names


def settings_read(run: str) -> tuple[str, ...]:
    """The fine-tuning settings a Weight+Bias run's result depends on: those every run
    reads (adamix.plan.settings.TRAINING) and those its two rules declare in ``reads``."""
    weight, bias = run.split("+")
    read = {*TRAINING, *get_rule(weight).reads, *get_rule(bias).reads}
    return tuple(name for name in SETTINGS if name in read)


def build_optimizer(
    weights: Iterable[Tensor],
    biases: Iterable[Tensor],
    weight_rule: str,
    bias_rule: str,
    **hyperparameters,
) -> ScheduledSGD:
    """The optimizer for a ``weight_rule+bias_rule`` run: group "weight" and group "bias";
    ``hyperparameters`` are ScheduledSGD's (lr, total_steps, K, ...)."""
    for arg, rule in (("weight_rule", weight_rule), ("bias_rule", bias_rule)):
        if rule not in RULES:
            raise ValueError(f"invalid {arg}: {rule!r}, expected one of {tuple(RULES)}")
    groups = [
        {"params": list(weights), "name": "weight", "rule": weight_rule},
        {"params": list(biases), "name": "bias", "rule": bias_rule},
    ]
    return ScheduledSGD(groups, **hyperparameters)


def schedule_time(group: dict, step: int) -> tuple[int, int]:
    """(t, R) in the unit the schedules count in: optimizer steps or epochs."""
    if group["t_unit"] == "epoch":
        spe = group["steps_per_epoch"]
        return step // spe, group["total_steps"] // spe
    return step, group["total_steps"]


def _check_hyperparameters(group: dict, rule_required: bool = True) -> None:
    """Raise ValueError, naming the argument, for a value no rule can use."""

    def bad(name: str, expected: str) -> ValueError:
        return ValueError(f"invalid {name}: {group[name]!r}, expected {expected}")

    def is_int(x) -> bool:
        return isinstance(x, numbers.Integral) and not isinstance(x, bool)

    if group["rule"] not in RULES and (rule_required or group["rule"] is not None):
        raise bad("rule", f"one of {tuple(RULES)}")
    if not group["lr"] >= 0:  # `not >=` also catches NaN
        raise bad("lr", "a number >= 0")
    if not is_int(group["total_steps"]) or group["total_steps"] < 1:
        raise bad("total_steps", "an integer >= 1")
    if not group["K"] > 0:
        raise bad("K", "a number > 0")
    if not group["q"] >= 0:
        raise bad("q", "a number >= 0")
    if not 0 <= group["xi"] <= 1:
        raise bad("xi", "a number in [0, 1]")
    if group["timing"] not in TIMINGS:
        raise bad("timing", f"one of {TIMINGS}")
    if group["adadec"] not in ADADEC_FORMS:
        raise bad("adadec", f"one of {ADADEC_FORMS}")
    if not group["g_scale"] > 0:
        raise bad("g_scale", "a number > 0")
    if group["t_unit"] not in T_UNITS:
        raise bad("t_unit", f"one of {T_UNITS}")
    if group["fused"] not in (None, True, False):
        raise bad("fused", "None, True or False")
    if group["capturable"] not in (True, False):
        raise bad("capturable", "True or False")
    if group["capturable"] and group["fused"]:
        raise bad("fused", "not True when capturable (the fused kernels are CPU loops)")
    if group["t_unit"] == "epoch":
        spe = group["steps_per_epoch"]
        if not is_int(spe) or spe < 1:
            raise bad("steps_per_epoch", 'an integer >= 1 when t_unit is "epoch"')
        if spe > group["total_steps"]:
            raise bad("steps_per_epoch", "at most total_steps (R counts whole epochs)")


def _as_python_numbers(group: dict) -> None:
    """numpy scalars -> int/float, so that torch.load(weights_only=True) takes the state."""
    for key in ("lr", "K", "q", "xi", "g_scale"):
        if key in group:
            group[key] = float(group[key])
    for key in ("total_steps", "steps_per_epoch"):
        if group.get(key) is not None:
            group[key] = int(group[key])


# --- the optimizer -------------------------------------------------------------------


class ScheduledSGD(Optimizer):
    """SGD whose rate follows a registered rule (``RULES``), chosen per parameter group.

    Each group carries its ``rule`` (a name in ``RULES``) and a ``step`` counter: the
    number of ``step()`` calls so far, which is the t of the formulas and is saved by
    ``state_dict()`` with the other group settings. Adaptive rules keep per-parameter
    state, created the first time the parameter has a gradient. A parameter whose
    ``grad`` is None is skipped and its state stays.

    ``fused`` picks the adaptive rules' path, as in torch's optimizers: None takes the
    fused CPU kernels where the rule has them and the tensors allow it (CPU, contiguous,
    float32 or float64, numba importable), False always takes the foreach ops, True
    requires the kernels.

    ``capturable`` (as torch's optimizers have it): the step counter of each group also
    lives in a device tensor, and every rate that changes with the step is computed from
    it on the device, so that a step captured in a CUDA graph replays right at every
    step. It takes the foreach ops and never synchronises; ``group["step"]`` is brought
    up to date from the device when read (``rate_stats``, ``state_dict``).
    """

    def __init__(
        self,
        params,
        lr: float,
        total_steps: int,
        rule: str | None = None,  # each group's own, or this default for all
        K: float = 1.0,
        q: float = 0.75,
        xi: float = 0.999,
        timing: str = "current",
        adadec: str = "paper",
        g_scale: float = 1.0,
        t_unit: str = "step",
        steps_per_epoch: int | None = None,
        fused: bool | None = None,
        capturable: bool = False,
    ):
        defaults = {k: v for k, v in locals().items() if k not in ("self", "params")}
        defaults.pop("__class__", None)
        _check_hyperparameters(defaults, rule_required=False)
        _as_python_numbers(defaults)
        defaults["step"] = 0
        self._scratch: dict[Tensor, Tensor] = {}
        self._views: dict[Tensor, tuple[int, np.ndarray]] = {}
        self._inner: dict[int, Optimizer] = {}  # TorchRule: a torch.optim optimizer per group
        self._steps: dict[int, Tensor] = {}  # capturable: each group's step on its device
        super().__init__(params, defaults)

    def add_param_group(self, param_group: dict) -> None:
        _check_hyperparameters({**self.defaults, **param_group})
        _as_python_numbers(param_group)
        super().add_param_group(param_group)

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        self._scratch, self._views, self._inner, self._steps = {}, {}, {}, {}

    def load_state_dict(self, state_dict: dict) -> None:
        super().load_state_dict(state_dict)
        self._views, self._steps = {}, {}  # new state tensors; steps from group["step"]

    def state_dict(self) -> dict:
        self._sync_steps()
        return super().state_dict()

    def _sync_steps(self) -> None:
        """group["step"] from the device counters of the capturable path (a sync)."""
        for i, group in enumerate(self.param_groups):
            if i in self._steps:
                group["step"] = int(self._steps[i].item())

    @torch.no_grad()
    def step(self, closure=None):
        """One SGD step of every group at its rule's rate; returns closure's loss if given."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for i, group in enumerate(self.param_groups):
            rule = get_rule(group["rule"])
            params, grads, states = self._collect(group, rule)
            if group["capturable"]:
                step = self._steps.get(i)
                if step is None:
                    device = params[0].device if params else torch.device("cpu")
                    step = self._steps[i] = torch.tensor(
                        float(group["step"]), dtype=torch.float64, device=device
                    )
                if params:
                    rule.step(self, group, step, params, grads, states)
                step.add_(1)
                continue
            step = group["step"]
            group["step"] = step + 1
            if params:
                rule.step(self, group, step, params, grads, states)
        return loss

    @torch.no_grad()
    def rate_stats(self) -> dict[str, tuple[float, float, float]]:
        """{group name: (mean, min, max)} of the rate over all elements of the group.

        The rate at the step index t of the most recent step (t = 0 before any step): for
        timing "current" exactly the rate that step applied. For "lagged" the adaptive part
        is built from gradients up to t, i.e. eq. 12's eta(t), "the rate of step t+1".
        Elements without state yet (never had a gradient) count with the rate of no
        gradients. Meant for logging once per epoch: it synchronises with the device.
        """
        self._sync_steps()
        return {
            group.get("name", f"group{i}"): get_rule(group["rule"]).rate_stats(
                self, group, max(group["step"] - 1, 0)
            )
            for i, group in enumerate(self.param_groups)
        }

    def _collect(self, group: dict, rule: Rule) -> tuple[list[Tensor], list[Tensor], list[dict]]:
        """The group's parameters that have a gradient, their gradients and (rules with
        state) their states, created on first use."""
        params, grads, states = [], [], []
        for p in group["params"]:
            if p.grad is None:
                continue
            if p.grad.is_sparse:
                raise RuntimeError("ScheduledSGD does not support sparse gradients")
            params.append(p)
            grads.append(p.grad)
            if rule.stateful:
                state = self.state[p]
                if not state:
                    state.update(rule.init(group, p))
                states.append(state)
        return params, grads, states

    def _scratch_like(self, params: list[Tensor]) -> list[Tensor]:
        """One reusable work tensor per parameter (the foreach path): allocating them anew
        every step costs more than the arithmetic on CPUs (fresh pages fault in)."""
        bufs = []
        for p in params:
            buf = self._scratch.get(p)
            if buf is None or (buf.shape, buf.dtype, buf.device) != (p.shape, p.dtype, p.device):
                buf = self._scratch[p] = torch.empty_like(p)
            bufs.append(buf)
        return bufs

    def _fused_views(
        self, group: dict, rule: AdaptiveRule, params, grads, states
    ) -> list[list[np.ndarray]] | None:
        """Per parameter, flat numpy views [p, g, *state] for the rule's fused CPU kernel,
        or None where this step takes the foreach path (``fused``). The views of parameters
        and state are made once and reused while the tensor keeps its memory (a gradient is
        new every step): a step then spends ~10 us per parameter outside the kernels."""
        fused = group.get("fused")
        if fused is False or group["capturable"] or (fused is None and not params[0].is_cpu):
            return None  # the kernels are CPU loops
        kernels = _fused_kernels()
        try:
            if rule.kernel is None:
                raise ValueError(f"rule {rule.name} has no fused kernel")
            if kernels is None:
                raise ValueError("numba is not installed")
            keys = rule.state_keys(group)
            return [
                [self._view(p), kernels.flat(g), *(self._view(st[key]) for key in keys)]
                for p, g, st in zip(params, grads, states, strict=True)
            ]
        except ValueError as error:
            if fused:
                raise RuntimeError(f"fused=True, but {error}") from None
            return None

    def _view(self, t: Tensor) -> np.ndarray:
        cached = self._views.get(t)
        if cached is None or cached[0] != t.data_ptr():
            cached = self._views[t] = (t.data_ptr(), _fused_kernels().flat(t))
        return cached[1]


@functools.cache
def _fused_kernels():
    """The adamix.schedules.fused module, imported on first use (numba takes ~0.3 s to import);
    None where numba is not installed."""
    try:
        from adamix.schedules import fused
    except ImportError:
        return None
    return fused


# The built-in rules register themselves (adamix.schedules.builtin); imported last, as they use the
# kinds above.
from adamix.schedules import builtin as _builtin  # noqa: E402, F401
