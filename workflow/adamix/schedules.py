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

The adaptive math runs on ``torch._foreach_*`` multi-tensor ops, in place, so that a step
allocates nothing and never synchronises with the device. A step is memory-bound: every
pass streams the parameters, gradients or state through memory, so each rule makes as few
passes as its formula allows, and on a CPU it makes them one large parameter at a time,
while that parameter is in cache (``_parts``).
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable

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
    state, created the first time the parameter has a gradient: the element-wise factor
    of the rate, "inv_root" (AdaGrad, AdaDec) or "alpha" (AdaMix), and what the next
    factor needs: "sum" (AdaGrad), "prev_grad" (AdaDec "paper") or "G" (AdaDec
    "decaying"). A parameter whose ``grad`` is None is skipped and its state stays.
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
        )
        _check_hyperparameters(defaults)
        _as_python_numbers(defaults)
        defaults["step"] = 0
        self._scratch: dict[Tensor, Tensor] = {}
        super().__init__(params, defaults)

    def add_param_group(self, param_group: dict) -> None:
        _check_hyperparameters({**self.defaults, **param_group})
        _as_python_numbers(param_group)
        super().add_param_group(param_group)

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        self._scratch = {}  # not part of the state: rebuilt on the next step

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
        """One reusable work tensor per parameter (AdaMix): allocating them anew every step
        costs more than the arithmetic on CPUs (fresh pages fault in)."""
        bufs = []
        for p in params:
            buf = self._scratch.get(p)
            if buf is None or (buf.shape, buf.dtype, buf.device) != (p.shape, p.dtype, p.device):
                buf = self._scratch[p] = torch.empty_like(p)
            bufs.append(buf)
        return bufs

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
            else:
                scratch = self._scratch_like(params) if rule == "AdaMix" else None
                _adaptive_step(group, step, params, grads, states, scratch)
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
        c, key = _rate_scale(group, step), _FACTOR_KEY[rule]
        no_state = group["lr"] if rule == "AdaMix" else group["K"] ** -0.5  # t = -1
        total, n, lo, hi = 0.0, 0, float("inf"), float("-inf")
        for p in group["params"]:
            state = self.state.get(p)
            if state:
                factor = state[key]
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
# Each keeps, per element, a factor with rate = c(t) * factor:
#   AdaGrad  c = eta0   factor "inv_root" = 1 / sqrt(K + sum (s g)^2)   eq. 12
#   AdaDec   c = p(t)   factor "inv_root" = 1 / sqrt(K + G(t))          eq. 13-15
#   AdaMix   c = 1      factor "alpha"    = alpha(t)                     eq. 16
# A step folds g(t) into the state, which updates the factor, and moves theta by
# c * factor * g: "current" folds first, "lagged" moves first.

_FACTOR_KEY = {"AdaGrad": "inv_root", "AdaDec": "inv_root", "AdaMix": "alpha"}


def _rate_scale(group: dict, step: int) -> float:
    """c(t): eta0 for AdaGrad (eq. 12), p(t) for AdaDec (eq. 15), 1 for AdaMix."""
    if group["rule"] == "AdaDec":
        t, R = _schedule_time(group, step)
        return scalar_rate("Power", group["lr"], t, R, group["q"])
    return group["lr"] if group["rule"] == "AdaGrad" else 1.0


def _init_state(state: dict, p: Tensor, group: dict) -> None:
    """Per-parameter state before the first gradient (t = -1)."""
    rule, K = group["rule"], group["K"]

    def full(value: float) -> Tensor:
        return torch.full_like(p, value, memory_format=torch.preserve_format)

    if rule == "AdaMix":
        state["alpha"] = full(group["lr"])  # alpha(-1) = eta0
        return
    state["inv_root"] = full(K**-0.5)  # no gradient yet: 1 / sqrt(K)
    if rule == "AdaGrad":
        state["sum"] = full(K)  # K + the running sum; K acts as Adagrad's initial sum
    elif group["adadec"] == "paper":
        state["prev_grad"] = full(0.0)  # g(-1) = 0
    else:
        state["G"] = full(0.0)  # G(-1) = 0


def _adaptive_step(
    group: dict,
    step: int,
    params: list[Tensor],
    grads: list[Tensor],
    states: list[dict],
    scratch: list[Tensor] | None,
) -> None:
    """One step of AdaGrad, AdaDec or AdaMix: theta -= c(t) * factor * g, and the fold."""
    rule, lagged = group["rule"], group["timing"] == "lagged"
    K, xi, s2 = group["K"], group["xi"], group["g_scale"] ** 2
    c = _rate_scale(group, step)
    floor = _alpha_floor([st["alpha"] for st in states]) if rule == "AdaMix" else 0.0
    for part in _parts(params):
        p, g, st = [params[i] for i in part], [grads[i] for i in part], [states[i] for i in part]
        factors = [s[_FACTOR_KEY[rule]] for s in st]
        if lagged:  # the rate built from g(0 .. t-1)
            torch._foreach_addcmul_(p, g, factors, value=-c)
        if rule == "AdaGrad":
            _fold_adagrad([s["sum"] for s in st], factors, g, s2)
        elif rule == "AdaMix":
            _fold_adamix(factors, g, [scratch[i] for i in part], K, s2, floor)
        elif group["adadec"] == "paper":
            _fold_adadec_paper([s["prev_grad"] for s in st], factors, g, K, xi, s2)
        else:
            _fold_adadec_decaying([s["G"] for s in st], factors, g, K, xi, s2)
        if not lagged:  # the rate built from g(0 .. t)
            torch._foreach_addcmul_(p, g, factors, value=-c)


def _parts(params: list[Tensor]) -> list[list[int]]:
    """The order of work, as groups of parameter indices. Each pass of a rule streams its
    tensors through memory; on a CPU all passes over one large parameter run before the
    next, while its tensors are in cache (a largest weight and its state are ~12 MB, the
    whole net's ~45 MB), and the small ones go together to save calls. On a GPU one
    multi-tensor kernel per pass takes every parameter: fewer launches."""
    if params[0].device.type != "cpu":
        return [list(range(len(params)))]
    large = [[i] for i, p in enumerate(params) if p.numel() >= _LARGE]
    small = [i for i, p in enumerate(params) if p.numel() < _LARGE]
    return large + ([small] if small else [])


_LARGE = 1 << 16  # elements: 256 KB of float32, a quarter of a typical L2 cache


def _fold_adagrad(
    sums: list[Tensor], inv_roots: list[Tensor], grads: list[Tensor], s2: float
) -> None:
    """eq. 12: sum += (s g(t))^2, inv_root = 1 / sqrt(sum); sum started at K."""
    torch._foreach_addcmul_(sums, grads, grads, value=s2)
    for inv_root, total in zip(inv_roots, sums, strict=True):
        torch.rsqrt(total, out=inv_root)  # one pass; the same bits as copy then pow(-0.5)


def _fold_adadec_paper(
    prev_grads: list[Tensor],
    inv_roots: list[Tensor],
    grads: list[Tensor],
    K: float,
    xi: float,
    s2: float,
) -> None:
    """eq. 14, two terms: inv_root = 1 / sqrt(K + xi (s g(t-1))^2 + (s g(t))^2); keep g(t)."""
    for inv_root, prev in zip(inv_roots, prev_grads, strict=True):
        torch.addcmul(_scalar_like(inv_root, K), prev, prev, value=xi * s2, out=inv_root)
    torch._foreach_addcmul_(inv_roots, grads, grads, value=s2)
    torch._foreach_rsqrt_(inv_roots)
    torch._foreach_copy_(prev_grads, grads)


def _fold_adadec_decaying(
    Gs: list[Tensor], inv_roots: list[Tensor], grads: list[Tensor], K: float, xi: float, s2: float
) -> None:
    """Senior et al.: G(t) = xi G(t-1) + (s g(t))^2, inv_root = 1 / sqrt(K + G(t))."""
    torch._foreach_mul_(Gs, xi)
    torch._foreach_addcmul_(Gs, grads, grads, value=s2)
    for inv_root, G in zip(inv_roots, Gs, strict=True):
        torch.add(G, K, out=inv_root)
    torch._foreach_rsqrt_(inv_roots)


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


def _alpha_floor(alphas: list[Tensor]) -> float:
    """Smallest normal float / machine epsilon, the largest over the dtypes present."""
    return max(torch.finfo(d).tiny / torch.finfo(d).eps for d in {a.dtype for a in alphas})


def _scalar_like(t: Tensor, value: float) -> Tensor:
    """A 0-dim tensor on t's device: K + a*b in one addcmul pass instead of fill then add."""
    key = (value, t.dtype, t.device)
    if key not in _SCALARS:
        _SCALARS[key] = torch.full((), value, dtype=t.dtype, device=t.device)
    return _SCALARS[key]


_SCALARS: dict[tuple, Tensor] = {}  # never written to: only ever an addcmul input
