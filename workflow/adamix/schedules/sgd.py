"""ScheduledSGD: the one torch optimizer that applies every learning-rate rule.

Every rule is plain SGD, theta <- theta - eta * g; only the rate eta differs. A rule is
chosen per parameter group, and ``build_optimizer`` routes the paper's two labelled
groups, "weight" and "bias", to their rules (optax's ``multi_transform`` idea), so the
paper's method AdaMix+Power is ``build_optimizer(weights, biases, "AdaMix", "Power", ...)``.
The optimizer looks each group's rule up in the registry (adamix.schedules.registry) and
applies it by its kind (adamix.schedules.kinds, which also lists the readings of the
paper's ambiguities, this optimizer's arguments); it knows no rule by name.

A step allocates nothing and never synchronises with the device. It is memory-bound, so
an adaptive rule runs, like torch's own optimizers, on one of two paths (``fused``): on
the CPU, loops compiled by numba (``adamix.schedules.fused``) that read and write every element
once; elsewhere (a GPU) ``torch._foreach_*`` multi-tensor ops, in place, each rule making
as few passes as its formula allows. Both compute the same float operations in the same
order: bit for bit where torch's CPU kernels fuse multiply-adds as numba's do, else within
a few ulps (tests/test_schedules.py compares them).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

import numpy as np
import torch
from torch import Tensor
from torch.optim import Optimizer

from adamix.schedules.checks import _as_python_numbers, _check_hyperparameters, _checked
from adamix.schedules.kinds import AdaptiveRule, Rule, ScalarRule, TorchRule, schedule_time
from adamix.schedules.registry import RULES, get_rule

__all__ = ["ScheduledSGD", "build_optimizer"]


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
        update: str = "step",
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
                    self._apply(rule, group, step, params, grads, states)
                step.add_(1)
                continue
            step = group["step"]
            group["step"] = step + 1
            if params:
                self._apply(rule, group, step, params, grads, states)
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
            group.get("name", f"group{i}"): self._rule_rate_stats(
                get_rule(group["rule"]), group, max(group["step"] - 1, 0)
            )
            for i, group in enumerate(self.param_groups)
        }

    # --- each kind of rule applied (adamix.schedules.kinds) ------------------------------

    def _apply(self, rule: Rule, group: dict, step: int | Tensor, params, grads, states) -> None:
        """One step of the group's parameters that have a gradient, at the rule's rate."""
        if isinstance(rule, ScalarRule):
            self._scalar_step(rule, group, step, params, grads)
        elif isinstance(rule, AdaptiveRule):
            self._adaptive_step(rule, group, step, params, grads, states)
        else:
            self._torch_step(rule, group, params)

    def _scalar_step(self, rule: ScalarRule, group: dict, step: int | Tensor, params, grads):
        rate = _checked(rule, rule.rate(group, *schedule_time(group, step)), step)
        if isinstance(rate, Tensor):  # the capturable path: a rate of the device's step
            torch._foreach_add_(params, torch._foreach_mul(grads, -rate))
        elif rate != 0.0:
            torch._foreach_add_(params, grads, alpha=-float(rate))

    def _adaptive_step(
        self, rule: AdaptiveRule, group: dict, step: int | Tensor, params, grads, states
    ) -> None:
        views = self._fused_views(group, rule, params, grads, states)
        c = _checked(rule, rule.scale(group, step), step)
        lagged = group["timing"] == "lagged"
        if views is not None:
            kernels = _fused_kernels()
            kernels.match_threads()
            for p, (P, G, *state) in zip(params, views, strict=True):
                rule.kernel(kernels, group, c, p, P, G, state, lagged)
            return
        scratch = self._scratch_like(params)
        if group["update"] == "epoch":
            self._epoch_step(rule, group, step, c, params, grads, states, scratch)
            return

        def apply() -> None:
            factors = [rule.factor(group, st, buf) for st, buf in zip(states, scratch, strict=True)]
            if isinstance(c, Tensor):  # the capturable path: c(t) of the device's step
                torch._foreach_addcmul_(params, grads, torch._foreach_mul(factors, -c))
            else:
                torch._foreach_addcmul_(params, grads, factors, value=-c)

        if lagged:  # the rate built from g(0 .. t-1)
            apply()
        rule.fold(group, states, grads, scratch)
        if not lagged:  # the rate built from g(0 .. t)
            apply()

    def _epoch_step(self, rule, group, step, c, params, grads, states, scratch) -> None:
        """update "epoch": the step at the factor of the state as the epoch began; the
        gradient summed into the state's "epoch_grad", folded in once at the epoch's end."""
        factors = [rule.factor(group, st, buf) for st, buf in zip(states, scratch, strict=True)]
        torch._foreach_addcmul_(params, grads, factors, value=-c)
        for st, g in zip(states, grads, strict=True):
            if "epoch_grad" not in st:
                st["epoch_grad"] = torch.zeros_like(g, memory_format=torch.preserve_format)
        epoch_grads = [st["epoch_grad"] for st in states]
        torch._foreach_add_(epoch_grads, grads)
        if (step + 1) % group["steps_per_epoch"] == 0:
            rule.fold(group, states, epoch_grads, scratch)
            torch._foreach_zero_(epoch_grads)

    def _torch_step(self, rule: TorchRule, group: dict, params) -> None:
        inner = self._inner.get(id(group))
        if inner is None:  # torch.optim's capturable flag exists for its device steps only
            h = {**group, "capturable": group["capturable"] and params[0].is_cuda}
            inner = self._inner[id(group)] = rule.make(group["params"], h)
        inner.state = self.state  # shared, and new after a load_state_dict
        inner.step()

    def _rule_rate_stats(self, rule: Rule, group: dict, step: int) -> tuple[float, float, float]:
        if isinstance(rule, ScalarRule):
            rate = rule.scalar(group, step)
            return rate, rate, rate
        if isinstance(rule, TorchRule):  # the nominal rate eta0
            return group["lr"], group["lr"], group["lr"]
        c = rule.scale(group, step)  # rate = c * factor, c >= 0: the factor's stats scale
        no_state = rule.no_state_factor(group)
        total, n, lo, hi = 0.0, 0, float("inf"), float("-inf")
        for p in group["params"]:
            state = self.state.get(p)
            if state:
                factor = rule.factor(group, state, None)
                total += factor.sum(dtype=torch.float64).item()
                lo, hi = min(lo, factor.min().item()), max(hi, factor.max().item())
            else:
                total += no_state * p.numel()
                lo, hi = min(lo, no_state), max(hi, no_state)
            n += p.numel()
        if n == 0:
            return float("nan"), float("nan"), float("nan")
        return c * total / n, c * lo, c * hi

    # --- parameters, state and the fused kernels' views ----------------------------------

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
        if group["update"] == "epoch":
            if fused:
                raise RuntimeError("fused=True, but the fused kernels update at every step")
            return None
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
        import adamix.schedules.fused as fused
    except ImportError:
        return None
    return fused
