"""Learning-rate schedules of He & Li 2016 (section 2.2) as one torch optimizer.

Every rule is plain SGD, theta <- theta - eta * g; only the rate eta differs. A rule is
chosen per parameter group, and ``build_optimizer`` routes the paper's two labelled
groups, "weight" and "bias", to their rules (optax's ``multi_transform`` idea), so the
paper's method AdaMix+Power is ``build_optimizer(weights, biases, "AdaMix", "Power", ...)``.

Rates at step t = 0, 1, ..., R-1 (R = total_steps, eta0 = lr, s = g_scale):

    None     0: the parameters never move                              no state
    Cons     eta0                                                       no state
    Exp      eta0 * 10**(-t/R)           (Senior et al. 2013)           no state
    Power    p(t) = eta0 * (1 + t/R)**(-q)              eq. 15, 17, 18  no state
    AdaGrad  eta0 / sqrt(K + sum_{t'<=t} (s g(t'))^2)   eq. 12          the sum
    AdaDec   p(t) / sqrt(K + G(t))                      eq. 13-15       g(t-1) or G(t)
    AdaMix   alpha(t) = alpha(t-1) / sqrt(K + (s g(t))^2), alpha(-1) = eta0  eq. 16  alpha

Cons, Exp and Power give one scalar rate shared by the whole group; the three adaptive
rules give one rate per element. The readings of the paper's ambiguities (PAPER.md) are
arguments, defaults first:

- ``timing`` (ambiguity 1): "current" folds g(t) into the rate that step t applies;
  "lagged" applies the rate built from g(0..t-1) and folds g(t) in afterwards, so the first
  step applies eta0/sqrt(K) (AdaGrad), eta0 (AdaMix), p(0)/sqrt(K) (AdaDec); K = 1 in the
  paper, where these are eta0 and p(0).
- ``adadec`` (ambiguity 2): "paper", eq. 14, G(t) = xi (s g(t-1))^2 + (s g(t))^2 with
  g(-1) = 0; "decaying" (Senior et al.), G(t) = xi G(t-1) + (s g(t))^2 with G(-1) = 0.
- ``t_unit`` (ambiguity 3): "step" counts optimizer steps; "epoch" makes Exp, Power and
  AdaDec's p(t) use t = step // steps_per_epoch and R = total_steps // steps_per_epoch.
- ``g_scale`` (ambiguity 5): s scales g inside the adaptive denominators only ("sum" is
  s = 1, "mean" is s = 1 / batch size); the update always uses the raw gradient.

A step allocates nothing and never synchronises with the device. It is memory-bound, so
the adaptive math runs, like torch's own optimizers, on one of two paths (``fused``): on
the CPU, loops compiled by numba (``adamix.fused``) that read and write every element
once; elsewhere (a GPU) ``torch._foreach_*`` multi-tensor ops, in place, each rule making
as few passes as its formula allows. Both compute the same float operations in the same
order (tests/test_schedules.py compares them bit for bit).
"""

from __future__ import annotations

import functools
import numbers
from collections.abc import Iterable

import numpy as np
import torch
from torch import Tensor
from torch.optim import Optimizer

RULES = ("None", "Cons", "Exp", "Power", "AdaGrad", "AdaDec", "AdaMix")
SCALAR_RULES = ("Cons", "Exp", "Power")  # one rate shared by the group
ADAPTIVE_RULES = ("AdaGrad", "AdaDec", "AdaMix")  # one rate per element, with state

TIMINGS = ("current", "lagged")
ADADEC_FORMS = ("paper", "decaying")
T_UNITS = ("step", "epoch")

__all__ = ["RULES", "ScheduledSGD", "build_optimizer", "scalar_rate"]


def build_optimizer(
    weights: Iterable[Tensor],
    biases: Iterable[Tensor],
    weight_rule: str,
    bias_rule: str,
    *,
    lr: float,
    total_steps: int,
    K: float = 1.0,
    q: float = 0.75,
    xi: float = 0.999,
    timing: str = "current",
    adadec: str = "paper",
    g_scale: float = 1.0,
    t_unit: str = "step",
    steps_per_epoch: int | None = None,
    fused: bool | None = None,
) -> ScheduledSGD:
    """The optimizer for a ``weight_rule+bias_rule`` run: group "weight" and group "bias"."""
    for arg, rule in (("weight_rule", weight_rule), ("bias_rule", bias_rule)):
        if rule not in RULES:
            raise ValueError(f"invalid {arg}: {rule!r}, expected one of {RULES}")
    groups = [
        {"params": list(weights), "name": "weight", "rule": weight_rule},
        {"params": list(biases), "name": "bias", "rule": bias_rule},
    ]
    return ScheduledSGD(
        groups,
        lr=lr,
        total_steps=total_steps,
        K=K,
        q=q,
        xi=xi,
        timing=timing,
        adadec=adadec,
        g_scale=g_scale,
        t_unit=t_unit,
        steps_per_epoch=steps_per_epoch,
        fused=fused,
    )


# --- scalar schedules: tiny pure functions of the step (optax style) -----------------


def scalar_rate(rule: str, lr: float, t: int, R: int, q: float) -> float:
    """The one rate of a scalar rule at step t of R; "Power" is also AdaDec's p(t)."""
    if rule == "Cons":
        return lr
    if rule == "Exp":
        return lr * 10.0 ** (-t / R)  # Senior et al. 2013; the paper gives no formula
    if rule == "Power":
        return lr * (1.0 + t / R) ** (-q)  # eq. 15, 17, 18
    raise ValueError(f"invalid rule: {rule!r} is not one of {SCALAR_RULES}")


def _schedule_time(group: dict, step: int) -> tuple[int, int]:
    """(t, R) in the unit the schedules count in: optimizer steps or epochs."""
    if group["t_unit"] == "epoch":
        spe = group["steps_per_epoch"]
        return step // spe, group["total_steps"] // spe
    return step, group["total_steps"]


def _check_hyperparameters(group: dict) -> None:
    """Raise ValueError, naming the argument, for a value no rule can use."""

    def bad(name: str, expected: str) -> ValueError:
        return ValueError(f"invalid {name}: {group[name]!r}, expected {expected}")

    def is_int(x) -> bool:
        return isinstance(x, numbers.Integral) and not isinstance(x, bool)

    if group["rule"] not in RULES:
        raise bad("rule", f"one of {RULES}")
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
    """SGD whose rate follows one of the paper's rules, chosen per parameter group.

    Each group carries its ``rule`` (one of ``RULES``) and a ``step`` counter: the number
    of ``step()`` calls so far, which is the t of the formulas and is saved by
    ``state_dict()`` with the other group settings. Adaptive rules keep per-parameter
    state, created the first time the parameter has a gradient: "sum" (AdaGrad), "G"
    (AdaDec "decaying"), "prev_grad" and "inv_root" (AdaDec "paper") or "alpha" (AdaMix);
    see ``_factor``. A parameter whose ``grad`` is None is skipped and its state stays.

    ``fused`` picks the adaptive rules' path, as in torch's optimizers: None takes the
    fused CPU kernels where the tensors allow it (CPU, contiguous, float32 or float64,
    numba importable), False always takes the foreach ops, True requires the kernels.
    """

    def __init__(
        self,
        params,
        lr: float,
        total_steps: int,
        rule: str = "Cons",
        K: float = 1.0,
        q: float = 0.75,
        xi: float = 0.999,
        timing: str = "current",
        adadec: str = "paper",
        g_scale: float = 1.0,
        t_unit: str = "step",
        steps_per_epoch: int | None = None,
        fused: bool | None = None,
    ):
        defaults = dict(
            rule=rule,
            lr=lr,
            total_steps=total_steps,
            K=K,
            q=q,
            xi=xi,
            timing=timing,
            adadec=adadec,
            g_scale=g_scale,
            t_unit=t_unit,
            steps_per_epoch=steps_per_epoch,
            fused=fused,
        )
        _check_hyperparameters(defaults)
        _as_python_numbers(defaults)
        defaults["step"] = 0
        self._scratch: dict[Tensor, Tensor] = {}
        self._views: dict[Tensor, tuple[int, np.ndarray]] = {}
        super().__init__(params, defaults)

    def add_param_group(self, param_group: dict) -> None:
        _check_hyperparameters({**self.defaults, **param_group})
        _as_python_numbers(param_group)
        super().add_param_group(param_group)

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        self._scratch, self._views = {}, {}  # not part of the state: rebuilt when needed

    def load_state_dict(self, state_dict: dict) -> None:
        super().load_state_dict(state_dict)
        self._views = {}  # the state tensors are new ones

    def _collect(self, group: dict) -> tuple[list[Tensor], list[Tensor], list[dict]]:
        """The group's parameters that have a gradient, their gradients and (adaptive
        rules) their states, created on first use."""
        params, grads, states = [], [], []
        adaptive = group["rule"] in ADAPTIVE_RULES
        for p in group["params"]:
            if p.grad is None:
                continue
            if p.grad.is_sparse:
                raise RuntimeError("ScheduledSGD does not support sparse gradients")
            params.append(p)
            grads.append(p.grad)
            if adaptive:
                state = self.state[p]
                if not state:
                    _init_state(state, p, group)
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
        self, group: dict, params: list[Tensor], grads: list[Tensor], states: list[dict]
    ) -> list[list[np.ndarray]] | None:
        """Per parameter, flat numpy views [p, g, *state] for the fused CPU kernels, or None
        where this step takes the foreach path (``fused``). The views of parameters and
        state are made once and reused while the tensor keeps its memory (a gradient is
        new every step): a step then spends ~10 us per parameter outside the kernels."""
        fused = group.get("fused")
        if fused is False or (fused is None and not params[0].is_cpu):
            return None  # the kernels are CPU loops
        kernels = _fused_kernels()
        try:
            if kernels is None:
                raise ValueError("numba is not installed")
            keys = _STATE_KEYS[group["rule"], group["adadec"]]
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

    @torch.no_grad()
    def step(self, closure=None):
        """One SGD step of every group at its rule's rate; returns closure's loss if given."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            step = group["step"]
            group["step"] = step + 1
            rule = group["rule"]
            if rule == "None":  # rate 0: frozen, no state
                continue
            params, grads, states = self._collect(group)
            if not params:
                continue
            if rule in SCALAR_RULES:
                t, R = _schedule_time(group, step)
                rate = scalar_rate(rule, group["lr"], t, R, group["q"])
                torch._foreach_add_(params, grads, alpha=-rate)
            elif (views := self._fused_views(group, params, grads, states)) is not None:
                _fused_step(group, step, params, views)
            else:
                _adaptive_step(group, step, params, grads, states, self._scratch_like(params))
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
        return {
            group.get("name", f"group{i}"): self._group_rate_stats(group)
            for i, group in enumerate(self.param_groups)
        }

    def _group_rate_stats(self, group: dict) -> tuple[float, float, float]:
        rule, step = group["rule"], max(group["step"] - 1, 0)
        if rule == "None":
            return 0.0, 0.0, 0.0
        if rule in SCALAR_RULES:
            t, R = _schedule_time(group, step)
            rate = scalar_rate(rule, group["lr"], t, R, group["q"])
            return rate, rate, rate
        # rate = c * factor, c >= 0, so the statistics of the factor scale by c
        c = _rate_scale(group, step)
        no_state = group["lr"] if rule == "AdaMix" else group["K"] ** -0.5  # t = -1
        total, n, lo, hi = 0.0, 0, float("inf"), float("-inf")
        for p in group["params"]:
            state = self.state.get(p)
            if state:
                factor = _factor(group, state)
                total += factor.sum(dtype=torch.float64).item()
                lo, hi = min(lo, factor.min().item()), max(hi, factor.max().item())
            else:
                total += no_state * p.numel()
                lo, hi = min(lo, no_state), max(hi, no_state)
            n += p.numel()
        if n == 0:
            return float("nan"), float("nan"), float("nan")
        return c * total / n, c * lo, c * hi


# --- the adaptive rules ----------------------------------------------------------------
# Each has, per element, a factor with rate = c(t) * factor, and state it is made from:
#   AdaGrad  c = eta0   factor 1 / sqrt(sum), sum = K + sum_t' (s g)^2   state "sum"   eq. 12
#   AdaDec   c = p(t)   factor 1 / sqrt(K + G(t))                         eq. 13-15
#              "paper":    G(t) = xi (s g(t-1))^2 + (s g(t))^2   state "prev_grad", "inv_root"
#              "decaying": G(t) = xi G(t-1) + (s g(t))^2         state "G"
#   AdaMix   c = 1      factor alpha(t)                           state "alpha"     eq. 16
# A step folds g(t) into the state, which updates the factor, and moves theta by
# c * factor * g: "current" folds first, "lagged" moves first. The factor is kept only
# where the state cannot give it back (AdaMix's alpha, AdaDec "paper", which forgets
# g(t-1)); every tensor kept is one more pass over memory per step.


def _rate_scale(group: dict, step: int) -> float:
    """c(t): eta0 for AdaGrad (eq. 12), p(t) for AdaDec (eq. 15), 1 for AdaMix."""
    if group["rule"] == "AdaDec":
        t, R = _schedule_time(group, step)
        return scalar_rate("Power", group["lr"], t, R, group["q"])
    return group["lr"] if group["rule"] == "AdaGrad" else 1.0


def _factor(group: dict, state: dict, out: Tensor | None = None) -> Tensor:
    """The element-wise factor of the rate that the state gives: kept, or computed (into
    ``out`` if given) with the float operations of the step."""
    rule = group["rule"]
    if rule == "AdaMix":
        return state["alpha"]
    if rule == "AdaGrad":
        return torch.rsqrt(state["sum"], out=out)
    if group["adadec"] == "paper":
        return state["inv_root"]
    return torch.rsqrt(torch.add(state["G"], group["K"], out=out), out=out)


def _init_state(state: dict, p: Tensor, group: dict) -> None:
    """Per-parameter state before the first gradient (t = -1); the factor of no gradient
    is 1 / sqrt(K), and eta0 for AdaMix."""
    rule, K = group["rule"], group["K"]

    def full(value: float) -> Tensor:
        return torch.full_like(p, value, memory_format=torch.preserve_format)

    if rule == "AdaMix":
        state["alpha"] = full(group["lr"])  # alpha(-1) = eta0
    elif rule == "AdaGrad":
        state["sum"] = full(K)  # K + the running sum; K acts as Adagrad's initial sum
    elif group["adadec"] == "paper":
        state["prev_grad"] = full(0.0)  # g(-1) = 0
        state["inv_root"] = full(K**-0.5)
    else:
        state["G"] = full(0.0)  # G(-1) = 0


def _adaptive_step(
    group: dict,
    step: int,
    params: list[Tensor],
    grads: list[Tensor],
    states: list[dict],
    scratch: list[Tensor],
) -> None:
    """One step of AdaGrad, AdaDec or AdaMix with foreach ops (any device): theta -=
    c(t) * factor * g, and the fold; ``scratch`` holds computed factors."""
    rule, lagged = group["rule"], group["timing"] == "lagged"
    K, xi, s2 = group["K"], group["xi"], group["g_scale"] ** 2
    c = _rate_scale(group, step)

    def factors() -> list[Tensor]:
        return [_factor(group, st, out=buf) for st, buf in zip(states, scratch, strict=True)]

    if lagged:  # the rate built from g(0 .. t-1)
        torch._foreach_addcmul_(params, grads, factors(), value=-c)
    if rule == "AdaGrad":
        torch._foreach_addcmul_([st["sum"] for st in states], grads, grads, value=s2)
    elif rule == "AdaMix":
        alphas = [st["alpha"] for st in states]
        _fold_adamix(alphas, grads, scratch, K, s2, _alpha_floor(alphas))
    elif group["adadec"] == "paper":
        _fold_adadec_paper(states, grads, K, xi, s2)
    else:
        Gs = [st["G"] for st in states]
        torch._foreach_mul_(Gs, xi)
        torch._foreach_addcmul_(Gs, grads, grads, value=s2)
    if not lagged:  # the rate built from g(0 .. t)
        torch._foreach_addcmul_(params, grads, factors(), value=-c)


def _fold_adadec_paper(states: list[dict], grads: list[Tensor], K: float, xi: float, s2: float):
    """eq. 14, two terms: inv_root = 1 / sqrt(K + xi (s g(t-1))^2 + (s g(t))^2); keep g(t)."""
    inv_roots, prev_grads = [st["inv_root"] for st in states], [st["prev_grad"] for st in states]
    for inv_root, prev in zip(inv_roots, prev_grads, strict=True):
        torch.addcmul(_scalar_like(inv_root, K), prev, prev, value=xi * s2, out=inv_root)
    torch._foreach_addcmul_(inv_roots, grads, grads, value=s2)
    torch._foreach_rsqrt_(inv_roots)
    torch._foreach_copy_(prev_grads, grads)


def _fold_adamix(
    alphas: list[Tensor],
    grads: list[Tensor],
    scratch: list[Tensor],
    K: float,
    s2: float,
    floor: float,
) -> None:
    """eq. 16: alpha(t) = alpha(t-1) / sqrt(K + (s g(t))^2), element-wise.

    alpha is a running product of factors <= 1/sqrt(K); with the summed minibatch gradient
    (eq. 6) the factors are small and alpha underflows within a few epochs. On the way to 0
    it passes through the subnormal floats, whose arithmetic is many times slower on most
    CPUs, and an element whose gradient then stays below sqrt(eps) never leaves them (the
    factor rounds to 1). So alpha is clamped at ``floor`` = ``_alpha_floor`` (about 1e-31
    in float32, 1e-292 in float64): there alpha * g is more than 20 orders of magnitude
    below any weight, so the trained parameters are those of the unclamped rule, while
    alpha / sqrt(.) and alpha * g stay normal numbers unless |s g| > 1/eps or 0 < |g| < eps.
    """
    for factor, grad in zip(scratch, grads, strict=True):
        torch.addcmul(_scalar_like(factor, K), grad, grad, value=s2, out=factor)
    torch._foreach_rsqrt_(scratch)
    torch._foreach_mul_(alphas, scratch)
    torch._foreach_clamp_min_(alphas, floor)


_STATE_KEYS = {  # the state a fused kernel takes, in its order
    ("AdaGrad", "paper"): ("sum",),
    ("AdaGrad", "decaying"): ("sum",),
    ("AdaMix", "paper"): ("alpha",),
    ("AdaMix", "decaying"): ("alpha",),
    ("AdaDec", "paper"): ("prev_grad", "inv_root"),
    ("AdaDec", "decaying"): ("G",),
}


def _fused_step(
    group: dict, step: int, params: list[Tensor], views: list[list[np.ndarray]]
) -> None:
    """``_adaptive_step`` as one compiled loop per parameter (adamix.fused)."""
    kernels = _fused_kernels()
    kernels.match_threads()
    rule, lagged = group["rule"], group["timing"] == "lagged"
    K, xi, s2, c = group["K"], group["xi"], group["g_scale"] ** 2, _rate_scale(group, step)
    for p, (P, G, *state) in zip(params, views, strict=True):
        x = P.dtype.type  # scalars in the tensors' dtype, as torch's ops round them
        if rule == "AdaGrad":
            kernels.adagrad(P, G, *state, x(-c), x(s2), x(1), lagged)
        elif rule == "AdaMix":
            floor = x(_alpha_floor_of(p.dtype))
            kernels.adamix(P, G, *state, x(K), x(s2), floor, x(1), lagged)
        elif group["adadec"] == "paper":
            kernels.adadec_paper(P, G, *state, x(-c), x(K), x(xi * s2), x(s2), x(1), lagged)
        else:
            kernels.adadec_decaying(P, G, *state, x(-c), x(K), x(xi), x(s2), x(1), lagged)


@functools.cache
def _fused_kernels():
    """The adamix.fused module, imported on first use (numba takes ~0.3 s to import);
    None where numba is not installed."""
    try:
        from adamix import fused
    except ImportError:
        return None
    return fused


def _alpha_floor(alphas: list[Tensor]) -> float:
    """Smallest normal float / machine epsilon, the largest over the dtypes present."""
    return max(_alpha_floor_of(d) for d in {a.dtype for a in alphas})


@functools.cache
def _alpha_floor_of(dtype: torch.dtype) -> float:
    return torch.finfo(dtype).tiny / torch.finfo(dtype).eps


def _scalar_like(t: Tensor, value: float) -> Tensor:
    """A 0-dim tensor on t's device: K + a*b in one addcmul pass instead of fill then add."""
    key = (value, t.dtype, t.device)
    if key not in _SCALARS:
        _SCALARS[key] = torch.full((), value, dtype=t.dtype, device=t.device)
    return _SCALARS[key]


_SCALARS: dict[tuple, Tensor] = {}  # never written to: only ever an addcmul input
