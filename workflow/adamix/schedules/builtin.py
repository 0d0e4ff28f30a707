"""The built-in learning-rate rules as values: the paper's seven (He & Li 2016, section 2.2)
and four modern ones, each one specification (adamix.schedules.kinds); the registry
(adamix.schedules.registry) registers ``PAPER`` and ``MODERN`` under their names.

Rates at step t = 0, 1, ..., R-1 (R = total_steps, eta0 = lr, s = g_scale; the readings
of the paper's ambiguities are in adamix.schedules.kinds):

    None     0: the parameters never move                              no state
    Cons     eta0                                                       no state
    Exp      eta0 * 10**(-t/R)           (Senior et al. 2013)           no state
    Power    p(t) = eta0 * (1 + t/R)**(-q)              eq. 15, 17, 18  no state
    AdaGrad  eta0 / sqrt(K + sum_{t'<=t} (s g(t'))^2)   eq. 12          the sum
    AdaDec   p(t) / sqrt(K + G(t))                      eq. 13-15       g(t-1) or G(t)
    AdaMix   alpha(t) = alpha(t-1) / sqrt(K + (s g(t))^2), alpha(-1) = eta0  eq. 16  alpha
    Momentum, Nesterov, Adam, RMSprop: torch.optim's, at eta0, per parameter group

The functions that compute with tensors import torch when first called, not here: the
registry, and with it every Snakemake start, reads these values without loading torch.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from adamix.schedules.kinds import AdaptiveRule, ScalarRule, TorchRule, schedule_time

if TYPE_CHECKING:
    import torch
    from torch import Tensor

# --- the paper's scalar rules: tiny pure functions of the step (optax style) -------------


def power(h: dict, t: int, R: int) -> float:
    """p(t) = eta0 (1 + t/R)^-q, eq. 15, 17, 18; also AdaDec's c(t)."""
    return h["lr"] * (1.0 + t / R) ** (-h["q"])


NONE = ScalarRule("None", lambda h, t, R: 0.0, reads=(), doc="0: the parameters never move")
CONS = ScalarRule("Cons", lambda h, t, R: h["lr"], reads=("lr",), doc="eta0")
EXP = ScalarRule(  # Senior et al. 2013; the paper gives no formula
    "Exp", lambda h, t, R: h["lr"] * 10.0 ** (-t / R), reads=("lr", "t_unit"),
    doc="eta0 * 10^(-t/R) (Senior et al. 2013)",
)  # fmt: skip
POWER = ScalarRule("Power", power, reads=("lr", "q", "t_unit"), doc="eta0 (1 + t/R)^-q, eq. 15")


# --- the paper's adaptive rules -----------------------------------------------------------
# Each keeps per element the state its factor is made from:
#   AdaGrad  c = eta0   factor 1 / sqrt(sum), sum = K + sum_t' (s g)^2   state "sum"   eq. 12
#   AdaDec   c = p(t)   factor 1 / sqrt(K + G(t))                         eq. 13-15
#              "paper":    G(t) = xi (s g(t-1))^2 + (s g(t))^2   state "prev_grad", "inv_root"
#              "decaying": G(t) = xi G(t-1) + (s g(t))^2         state "G"
#   AdaMix   c = 1      factor alpha(t)                           state "alpha"     eq. 16
# The factor is kept only where the state cannot give it back (AdaMix's alpha, AdaDec
# "paper", which forgets g(t-1)); every tensor kept is one more pass over memory per step.
# The fused kernels (adamix.schedules.fused) take the scalars in the tensors' dtype, as torch's ops
# round them.


def _full(p: Tensor, value: float) -> Tensor:
    import torch

    return torch.full_like(p, value, memory_format=torch.preserve_format)


def _s2(h: dict) -> float:
    return h["g_scale"] ** 2


def _rsqrt_sum(h: dict, st: dict, out: Tensor | None) -> Tensor:
    import torch

    return torch.rsqrt(st["sum"], out=out)


def _adagrad_fold(h, states, grads, scratch) -> None:
    import torch

    torch._foreach_addcmul_([st["sum"] for st in states], grads, grads, value=_s2(h))


def _adagrad_kernel(k, h, c, p, P, G, state, lagged) -> None:
    x = P.dtype.type
    k.adagrad(P, G, *state, x(-c), x(_s2(h)), x(1), lagged)


ADAGRAD = AdaptiveRule(
    "AdaGrad",
    reads=("lr", "K", "timing", "g_scale", "update"),
    scale=lambda h, step: h["lr"],
    # K + the running sum; K acts as Adagrad's initial sum
    init=lambda h, p: {"sum": _full(p, h["K"])},
    fold=_adagrad_fold,
    factor=_rsqrt_sum,
    no_state_factor=lambda h: h["K"] ** -0.5,
    kernel=_adagrad_kernel,
    state_keys=lambda h: ("sum",),
    doc="eta0 / sqrt(K + sum of (s g)^2), eq. 12",
)


def _adadec_scale(h: dict, step: int) -> float:
    return power(h, *schedule_time(h, step))  # c(t) = p(t), eq. 15


def _adadec_init(h: dict, p: Tensor) -> dict:
    if h["adadec"] == "paper":
        return {"prev_grad": _full(p, 0.0), "inv_root": _full(p, h["K"] ** -0.5)}  # g(-1) = 0
    return {"G": _full(p, 0.0)}  # G(-1) = 0


def _adadec_fold(h, states, grads, scratch) -> None:
    import torch

    K, xi, s2 = h["K"], h["xi"], _s2(h)
    if h["adadec"] == "paper":  # eq. 14: inv_root = 1 / sqrt(K + xi (s g(t-1))^2 + (s g(t))^2)
        inv_roots, prevs = [st["inv_root"] for st in states], [st["prev_grad"] for st in states]
        for inv_root, prev in zip(inv_roots, prevs, strict=True):
            torch.addcmul(_scalar_like(inv_root, K), prev, prev, value=xi * s2, out=inv_root)
        torch._foreach_addcmul_(inv_roots, grads, grads, value=s2)
        torch._foreach_rsqrt_(inv_roots)
        torch._foreach_copy_(prevs, grads)
    else:  # Senior et al.: G = xi G + (s g)^2
        Gs = [st["G"] for st in states]
        torch._foreach_mul_(Gs, xi)
        torch._foreach_addcmul_(Gs, grads, grads, value=s2)


def _adadec_factor(h: dict, st: dict, out: Tensor | None) -> Tensor:
    import torch

    if h["adadec"] == "paper":
        return st["inv_root"]
    return torch.rsqrt(torch.add(st["G"], h["K"], out=out), out=out)


def _adadec_kernel(k, h, c, p, P, G, state, lagged) -> None:
    x = P.dtype.type
    K, xi, s2 = h["K"], h["xi"], _s2(h)
    if h["adadec"] == "paper":
        k.adadec_paper(P, G, *state, x(-c), x(K), x(xi * s2), x(s2), x(1), lagged)
    else:
        k.adadec_decaying(P, G, *state, x(-c), x(K), x(xi), x(s2), x(1), lagged)


ADADEC = AdaptiveRule(
    "AdaDec",
    reads=("lr", "K", "q", "xi", "timing", "adadec", "t_unit", "g_scale", "update"),
    scale=_adadec_scale,
    init=_adadec_init,
    fold=_adadec_fold,
    factor=_adadec_factor,
    no_state_factor=lambda h: h["K"] ** -0.5,
    kernel=_adadec_kernel,
    state_keys=lambda h: ("prev_grad", "inv_root") if h["adadec"] == "paper" else ("G",),
    doc="p(t) / sqrt(K + G(t)), eq. 13-15",
)


def _adamix_fold(h, states, grads, scratch) -> None:
    """eq. 16: alpha(t) = alpha(t-1) / sqrt(K + (s g(t))^2), element-wise.

    alpha is a running product of factors <= 1/sqrt(K); with the summed minibatch gradient
    (eq. 6) the factors are small and alpha underflows within a few epochs. On the way to 0
    it passes through the subnormal floats, whose arithmetic is many times slower on most
    CPUs, and an element whose gradient then stays below sqrt(eps) never leaves them (the
    factor rounds to 1). So alpha is clamped at ``_alpha_floor`` (about 1e-31 in float32,
    1e-292 in float64): there alpha * g is more than 20 orders of magnitude below any
    weight, so the trained parameters are those of the unclamped rule, while alpha /
    sqrt(.) and alpha * g stay normal numbers unless |s g| > 1/eps or 0 < |g| < eps.
    """
    import torch

    alphas = [st["alpha"] for st in states]
    for factor, grad in zip(scratch, grads, strict=True):
        torch.addcmul(_scalar_like(factor, h["K"]), grad, grad, value=_s2(h), out=factor)
    torch._foreach_rsqrt_(scratch)
    torch._foreach_mul_(alphas, scratch)
    torch._foreach_clamp_min_(alphas, max(_alpha_floor(a.dtype) for a in alphas))


def _adamix_kernel(k, h, c, p, P, G, state, lagged) -> None:
    x = P.dtype.type
    k.adamix(P, G, *state, x(h["K"]), x(_s2(h)), x(_alpha_floor(p.dtype)), x(1), lagged)


@functools.cache
def _alpha_floor(dtype: torch.dtype) -> float:
    """Smallest normal float / machine epsilon of the dtype."""
    import torch

    return torch.finfo(dtype).tiny / torch.finfo(dtype).eps


ADAMIX = AdaptiveRule(
    "AdaMix",
    reads=("lr", "K", "timing", "g_scale", "update"),
    scale=lambda h, step: 1.0,
    init=lambda h, p: {"alpha": _full(p, h["lr"])},  # alpha(-1) = eta0
    fold=_adamix_fold,
    factor=lambda h, st, out: st["alpha"],
    no_state_factor=lambda h: h["lr"],
    kernel=_adamix_kernel,
    state_keys=lambda h: ("alpha",),
    doc="alpha(t) = alpha(t-1) / sqrt(K + (s g(t))^2), alpha(-1) = eta0, eq. 16",
)

PAPER = (NONE, CONS, EXP, POWER, ADAGRAD, ADADEC, ADAMIX)  # the paper's seven, in its order


def _scalar_like(t: Tensor, value: float) -> Tensor:
    """A 0-dim tensor on t's device: K + a*b in one addcmul pass instead of fill then add."""
    key = (value, t.dtype, t.device)
    if key not in _SCALARS:
        import torch

        _SCALARS[key] = torch.full((), value, dtype=t.dtype, device=t.device)
    return _SCALARS[key]


_SCALARS: dict[tuple, Tensor] = {}  # never written to: only ever an addcmul input

# --- modern rules: torch.optim's own, per parameter group ----------------------------------
# ``library_lr``: the default `lr` of the optimizer's signature (torch.optim.SGD 0.001,
# Adam 0.001, RMSprop 0.01), written as a number so that reading it needs no torch;
# tests/test_schedules.py checks it against torch's signatures.


def _momentum(params, h: dict):
    from torch.optim import SGD

    return SGD(params, lr=h["lr"], momentum=0.9)


def _nesterov(params, h: dict):
    from torch.optim import SGD

    return SGD(params, lr=h["lr"], momentum=0.9, nesterov=True)


def _adam(params, h: dict):
    from torch.optim import Adam

    return Adam(params, lr=h["lr"], capturable=h["capturable"])


def _rmsprop(params, h: dict):
    from torch.optim import RMSprop

    return RMSprop(params, lr=h["lr"], capturable=h["capturable"])


MOMENTUM = TorchRule(
    "Momentum", _momentum, doc="SGD with momentum 0.9 (torch.optim.SGD)", library_lr=0.001
)
NESTEROV = TorchRule(
    "Nesterov", _nesterov, doc="SGD with Nesterov momentum 0.9 (torch.optim.SGD)", library_lr=0.001
)
ADAM = TorchRule(
    "Adam", _adam, doc="Adam, betas (0.9, 0.999), eps 1e-8 (torch.optim.Adam)", library_lr=0.001
)
RMSPROP = TorchRule(
    "RMSprop", _rmsprop, doc="RMSprop, alpha 0.99, eps 1e-8 (torch.optim.RMSprop)", library_lr=0.01
)

MODERN = (MOMENTUM, NESTEROV, ADAM, RMSPROP)
