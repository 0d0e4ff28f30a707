"""Fused CPU kernels of the adaptive rules: one pass over memory per parameter per step.

A step of an adaptive rule is memory-bound. Written as torch ops it streams the
parameter-sized tensors 9 to 13 times (each op reads and writes whole tensors); these
loops read each element's parameter, gradient and state once and write them once: 5
streams for AdaGrad, AdaMix and AdaDec "decaying", 6 for AdaDec "paper", against the 3 of
a plain SGD step. They compute the same formulas as ``adamix.schedules``, with the same
float operations in the same order, on the same state, so the two paths can take turns
within a run (``ScheduledSGD(fused=...)``): bit for bit where torch's CPU kernels fuse
multiply-adds as numba's do (its vectorised kernels on a CPU with FMA), else within a few
ulps.

numba compiles each kernel on first use, per dtype, and caches the machine code on disk
(``__pycache__``), so later processes load it in a fraction of a second. The loops run
on as many threads as torch uses (``torch.get_num_threads()``, which a Snakemake job
sets to its ``threads``).

Arguments: flat, contiguous arrays of one dtype (float32 or float64), the scalars of that
dtype; ``mc`` is -c(t), the negated scale of the rate; ``lagged`` applies the factor built
from the earlier gradients before folding g(t) in (docs/paper.md, ambiguity 1).
"""

from __future__ import annotations

import numba
import numpy as np
import torch
from numba import prange

# "contract" lets a*b + c be one fused multiply-add, as in torch's vectorised addcmul, so
# that both paths round alike where the CPU has FMA and torch runs its vectorised kernels;
# under torch's non-vectorised ones (ATEN_CPU_CAPABILITY=default), or numba on a CPU
# without FMA, one path fuses and the other does not, and they differ by a few ulps. Where
# a sum has two products, ``_rounded_product`` marks the one torch rounds on its own (an
# op of its own there).
_jit = numba.njit(parallel=True, cache=True, fastmath={"contract"})


@numba.njit(cache=True)
def _rounded_product(a, b):
    return a * b  # no fastmath flags: never fused into an add


@_jit
def adagrad(p, g, total, mc, s2, one, lagged):
    """eq. 12: p += mc * g / sqrt(total); total += (s g)^2 (before the move if not lagged)."""
    for i in prange(p.size):
        gi = g[i]
        t = total[i]
        if lagged:
            p[i] = p[i] + mc * gi * (one / np.sqrt(t))
        t = t + s2 * gi * gi
        total[i] = t
        if not lagged:
            p[i] = p[i] + mc * gi * (one / np.sqrt(t))


@_jit
def adadec_paper(p, g, prev, inv_root, mc, K, xs2, s2, one, lagged):
    """eq. 14: inv_root = 1 / sqrt(K + xi (s g(t-1))^2 + (s g(t))^2); prev = g(t)."""
    for i in prange(p.size):
        gi = g[i]
        if lagged:
            p[i] = p[i] + mc * gi * inv_root[i]
        pr = prev[i]
        r = one / np.sqrt(K + xs2 * pr * pr + s2 * gi * gi)
        inv_root[i] = r
        prev[i] = gi
        if not lagged:
            p[i] = p[i] + mc * gi * r


@_jit
def adadec_decaying(p, g, G, mc, K, xi, s2, one, lagged):
    """Senior et al.: G = xi G + (s g)^2; p += mc * g / sqrt(G + K)."""
    for i in prange(p.size):
        gi = g[i]
        Gi = G[i]
        if lagged:
            p[i] = p[i] + mc * gi * (one / np.sqrt(Gi + K))
        Gi = _rounded_product(xi, Gi) + s2 * gi * gi  # as torch: mul_, then addcmul_
        G[i] = Gi
        if not lagged:
            p[i] = p[i] + mc * gi * (one / np.sqrt(Gi + K))


@_jit
def adamix(p, g, alpha, K, s2, floor, one, lagged):
    """eq. 16: alpha = max(alpha / sqrt(K + (s g)^2), floor); p -= g * alpha (c = 1).

    A NaN alpha stays NaN (as torch.clamp_min), so a diverged run shows as diverged."""
    for i in prange(p.size):
        gi = g[i]
        a = alpha[i]
        if lagged:
            p[i] = p[i] + -one * gi * a
        a = a * (one / np.sqrt(K + s2 * gi * gi))
        if a < floor:
            a = floor
        alpha[i] = a
        if not lagged:
            p[i] = p[i] + -one * gi * a


def flat(t: torch.Tensor) -> np.ndarray:
    """A 1-d numpy view of a contiguous float32 or float64 CPU tensor, through which a
    kernel writes into the tensor; ValueError for any other tensor."""
    if not (t.is_cpu and t.is_contiguous() and t.dtype in (torch.float32, torch.float64)):
        raise ValueError(
            f"the kernels take contiguous float32/64 CPU tensors, not {t.dtype} "
            f"{'contiguous' if t.is_contiguous() else 'strided'} on {t.device}"
        )
    return t.detach().numpy().reshape(-1)


def match_threads() -> None:
    """numba's threads = torch's (at most numba's pool size, NUMBA_NUM_THREADS)."""
    n = min(torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS)
    if numba.get_num_threads() != n:
        numba.set_num_threads(n)


def _start_pool() -> None:
    """Start numba's thread pool now, and keep torch's thread count. Where numba's
    OpenMP layer binds to the libgomp that torch loaded (one runtime for both), starting
    the pool sets its thread count to all cores, which torch reads as its own: a 1-thread
    Snakemake job would silently run on 2 threads."""
    n = torch.get_num_threads()
    numba.get_num_threads()  # launches the pool
    torch.set_num_threads(n)


_start_pool()
