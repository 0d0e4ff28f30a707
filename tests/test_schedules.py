"""The learning-rate rules of adamix.schedules against values worked out by hand.

Every hand test runs 3 steps on a float64 weight of two elements with fixed gradients:
element a gets 0.5, 1.0, -2.0 and element b gets -1.0, 0.0, 0.25. The expected values
are the formulas of docs/paper.md written out, step by step, in plain Python arithmetic.
"""

import functools
import inspect
import io
import math
import os
import subprocess
import sys

import pytest
import torch

from adamix import schedules
from adamix.plan.settings import SETTINGS, TRAINING
from adamix.schedules import (
    READABLE,
    RULES,
    AdaptiveRule,
    ScalarRule,
    build_optimizer,
    load_plugin,
    register,
    settings_read,
)
from adamix.schedules.registry import BUILTIN_RULES, MODERN_RULES, PAPER_RULES, catalog
from conftest import REPO

sqrt = math.sqrt
LR, R = 0.1, 4  # eta0 and total_steps of the hand tests
GA = [0.5, 1.0, -2.0]  # gradients of element a at t = 0, 1, 2
GB = [-1.0, 0.0, 0.25]  # gradients of element b
W0 = [1.0, 2.0]  # initial weight (a, b)


def run(weight_rule, bias_rule="Cons", **kw):
    """Three steps with the fixed gradients; returns the weight and the optimizer."""
    w = torch.tensor(W0, dtype=torch.float64, requires_grad=True)
    kw = {"lr": LR, "total_steps": R, **kw}
    opt = build_optimizer([w], [], weight_rule, bias_rule, **kw)
    for t in range(3):
        w.grad = torch.tensor([GA[t], GB[t]], dtype=torch.float64)
        opt.step()
    return w.detach(), opt


def after(rates_a, rates_b):
    """W0 after the three SGD steps with the given per-step rates of a and of b."""
    a = W0[0] - sum(r * g for r, g in zip(rates_a, GA, strict=True))
    b = W0[1] - sum(r * g for r, g in zip(rates_b, GB, strict=True))
    return torch.tensor([a, b], dtype=torch.float64)


def check(weight_rule, rates_a, rates_b, **kw):
    w, _ = run(weight_rule, **kw)
    torch.testing.assert_close(w, after(rates_a, rates_b), rtol=1e-13, atol=1e-15)


def power(t, R=R, q=0.75):
    return LR * (1 + t / R) ** -q  # eq. 15


# --- scalar rules --------------------------------------------------------------------


def test_cons():
    check("Cons", [LR] * 3, [LR] * 3)


def test_exp():
    rates = [LR * 10 ** (-0 / 4), LR * 10 ** (-1 / 4), LR * 10 ** (-2 / 4)]
    check("Exp", rates, rates)


def test_power():
    rates = [LR * (1 + 0 / 4) ** -0.75, LR * (1 + 1 / 4) ** -0.75, LR * (1 + 2 / 4) ** -0.75]
    check("Power", rates, rates)


def test_power_q():
    rates = [LR, LR * 1.25**-0.5, LR * 1.5**-0.5]
    check("Power", rates, rates, q=0.5)


def test_epoch_unit():
    # steps_per_epoch = 2, R = 4 steps = 2 epochs: t = 0, 0, 1 (epochs)
    exp = [LR, LR, LR * 10 ** (-1 / 2)]
    check("Exp", exp, exp, t_unit="epoch", steps_per_epoch=2)
    pw = [LR, LR, LR * 1.5**-0.75]
    check("Power", pw, pw, t_unit="epoch", steps_per_epoch=2)


# --- AdaGrad, eq. 12 -----------------------------------------------------------------


def test_adagrad_current():
    K = 2.0
    a = [LR / sqrt(K + 0.25), LR / sqrt(K + 0.25 + 1), LR / sqrt(K + 0.25 + 1 + 4)]
    b = [LR / sqrt(K + 1), LR / sqrt(K + 1 + 0), LR / sqrt(K + 1 + 0 + 0.0625)]
    check("AdaGrad", a, b, K=K)


def test_adagrad_lagged():
    # first step eta0 (K = 1), then the sum over the earlier gradients only
    a = [LR, LR / sqrt(1 + 0.25), LR / sqrt(1 + 0.25 + 1)]
    b = [LR, LR / sqrt(1 + 1), LR / sqrt(1 + 1 + 0)]
    check("AdaGrad", a, b, timing="lagged")
    # with K != 1 the empty sum gives eta0 / sqrt(K) on the first step
    a = [LR / sqrt(2), LR / sqrt(2 + 0.25), LR / sqrt(2 + 0.25 + 1)]
    b = [LR / sqrt(2), LR / sqrt(2 + 1), LR / sqrt(2 + 1 + 0)]
    check("AdaGrad", a, b, timing="lagged", K=2.0)


def test_adagrad_g_scale():
    # s = 0.5 inside the denominator: (0.5 g)^2 = g^2 / 4; the update uses the raw g
    a = [LR / sqrt(1 + 0.0625), LR / sqrt(1 + 0.0625 + 0.25), LR / sqrt(1 + 0.0625 + 0.25 + 1)]
    b = [LR / sqrt(1 + 0.25), LR / sqrt(1 + 0.25), LR / sqrt(1 + 0.25 + 0.015625)]
    check("AdaGrad", a, b, g_scale=0.5)


# --- AdaDec, eq. 13-15 ---------------------------------------------------------------


def test_adadec_paper_current():
    # G(t) = xi g(t-1)^2 + g(t)^2, g(-1) = 0; rate p(t) / sqrt(K + G(t))
    xi, K = 0.5, 2.0
    a = [
        power(0) / sqrt(K + xi * 0 + 0.25),
        power(1) / sqrt(K + xi * 0.25 + 1),
        power(2) / sqrt(K + xi * 1 + 4),
    ]
    b = [
        power(0) / sqrt(K + xi * 0 + 1),
        power(1) / sqrt(K + xi * 1 + 0),
        power(2) / sqrt(K + xi * 0 + 0.0625),
    ]
    check("AdaDec", a, b, xi=xi, K=K)


def test_adadec_paper_lagged():
    # rate p(t) / sqrt(K + G(t-1)), G(-1) = 0
    xi = 0.5
    a = [power(0), power(1) / sqrt(1 + 0.25), power(2) / sqrt(1 + xi * 0.25 + 1)]
    b = [power(0), power(1) / sqrt(1 + 1), power(2) / sqrt(1 + xi * 1 + 0)]
    check("AdaDec", a, b, xi=xi, timing="lagged")


def test_adadec_decaying_current():
    # G(t) = xi G(t-1) + g(t)^2, G(-1) = 0
    xi = 0.5
    Ga = [0.25, xi * 0.25 + 1, xi * (xi * 0.25 + 1) + 4]
    Gb = [1.0, xi * 1 + 0, xi * (xi * 1 + 0) + 0.0625]
    a = [power(t) / sqrt(1 + Ga[t]) for t in range(3)]
    b = [power(t) / sqrt(1 + Gb[t]) for t in range(3)]
    check("AdaDec", a, b, xi=xi, adadec="decaying")


def test_adadec_decaying_lagged():
    xi = 0.5
    a = [power(0), power(1) / sqrt(1 + 0.25), power(2) / sqrt(1 + xi * 0.25 + 1)]
    b = [power(0), power(1) / sqrt(1 + 1), power(2) / sqrt(1 + xi * 1 + 0)]
    check("AdaDec", a, b, xi=xi, adadec="decaying", timing="lagged")


def test_adadec_g_scale_and_epoch():
    # s = 0.5: (s g)^2 = g^2 / 4; t in epochs of 2 steps: p uses t = 0, 0, 1 and R = 2
    xi = 0.5
    p = [LR, LR, LR * (1 + 1 / 2) ** -0.75]
    a = [
        p[0] / sqrt(1 + 0.0625),
        p[1] / sqrt(1 + xi * 0.0625 + 0.25),
        p[2] / sqrt(1 + xi * 0.25 + 1),
    ]
    b = [p[0] / sqrt(1 + 0.25), p[1] / sqrt(1 + xi * 0.25 + 0), p[2] / sqrt(1 + 0 + 0.015625)]
    check("AdaDec", a, b, xi=xi, g_scale=0.5, t_unit="epoch", steps_per_epoch=2)


# --- AdaMix, eq. 16 ------------------------------------------------------------------


def test_adamix_current():
    K = 2.0
    a0 = LR / sqrt(K + 0.25)
    a1 = a0 / sqrt(K + 1)
    a2 = a1 / sqrt(K + 4)
    b0 = LR / sqrt(K + 1)
    b1 = b0 / sqrt(K + 0)
    b2 = b1 / sqrt(K + 0.0625)
    check("AdaMix", [a0, a1, a2], [b0, b1, b2], K=K)


def test_adamix_lagged():
    # applies alpha(t-1), alpha(-1) = eta0, then folds g(t) in
    a = [LR, LR / sqrt(1 + 0.25), LR / sqrt(1 + 0.25) / sqrt(1 + 1)]
    b = [LR, LR / sqrt(1 + 1), LR / sqrt(1 + 1) / sqrt(1 + 0)]
    check("AdaMix", a, b, timing="lagged")


def test_adamix_g_scale():
    a0 = LR / sqrt(1 + 0.0625)
    b0 = LR / sqrt(1 + 0.25)
    a = [a0, a0 / sqrt(1 + 0.25), a0 / sqrt(1 + 0.25) / sqrt(1 + 1)]
    b = [b0, b0 / sqrt(1 + 0), b0 / sqrt(1 + 0) / sqrt(1 + 0.015625)]
    check("AdaMix", a, b, g_scale=0.5)


# --- update "epoch" (ambiguity 6): the state takes an epoch's summed gradient at its end


@pytest.mark.parametrize("timing", ["current", "lagged"])  # no effect under update "epoch"
def test_update_per_epoch(timing):
    # steps_per_epoch = 2: steps 0 and 1 apply the initial factor; after step 1 the state
    # takes g = g(0) + g(1) (a: 0.5 + 1.0 = 1.5, b: -1.0 + 0.0 = -1.0); step 2 applies it.
    kw = {"update": "epoch", "steps_per_epoch": 2, "timing": timing}
    check("AdaMix", [LR, LR, LR / sqrt(1 + 1.5**2)], [LR, LR, LR / sqrt(1 + 1)], **kw)
    s = 0.5  # g_scale: (s g)^2 in the denominator, the update with the raw g
    a, b = [LR, LR, LR / sqrt(1 + (s * 1.5) ** 2)], [LR, LR, LR / sqrt(1 + s**2)]
    check("AdaMix", a, b, g_scale=s, **kw)
    K = 2.0  # AdaGrad: K is the initial sum
    a = [LR / sqrt(K), LR / sqrt(K), LR / sqrt(K + 1.5**2)]
    b = [LR / sqrt(K), LR / sqrt(K), LR / sqrt(K + 1)]
    check("AdaGrad", a, b, K=K, **kw)
    # AdaDec (eq. 14, g(-1) = 0): c(t) = p(t) follows the step, the factor the epoch
    a = [power(0), power(1), power(2) / sqrt(1 + 1.5**2)]
    b = [power(0), power(1), power(2) / sqrt(1 + 1)]
    check("AdaDec", a, b, **kw)


def test_update_per_epoch_resumes_mid_epoch_and_takes_no_fused_kernel():
    # the epoch's gradient so far is state: a save after step 0 resumes to the same weight
    kw = {"lr": LR, "total_steps": R, "update": "epoch", "steps_per_epoch": 2}
    w = torch.tensor(W0, dtype=torch.float64, requires_grad=True)
    opt = build_optimizer([w], [], "AdaMix", "Cons", **kw)
    w.grad = torch.tensor([GA[0], GB[0]], dtype=torch.float64)
    opt.step()
    saved = io.BytesIO()
    torch.save(opt.state_dict(), saved)
    again = build_optimizer([w], [], "AdaMix", "Cons", **kw)
    again.load_state_dict(torch.load(io.BytesIO(saved.getvalue()), weights_only=True))
    for t in (1, 2):
        w.grad = torch.tensor([GA[t], GB[t]], dtype=torch.float64)
        again.step()
    expected = after([LR, LR, LR / sqrt(1 + 1.5**2)], [LR, LR, LR / sqrt(1 + 1)])
    torch.testing.assert_close(w.detach(), expected, rtol=1e-13, atol=1e-15)
    with pytest.raises(RuntimeError, match="the fused kernels update at every step"):
        run("AdaMix", fused=True, **{k: kw[k] for k in ("update", "steps_per_epoch")})
    with pytest.raises(ValueError, match='capturable: True, expected False when update is "epoch"'):
        build_optimizer([w], [], "AdaMix", "Cons", capturable=True, **kw)


def test_adamix_no_subnormals():
    # A huge gradient drives alpha towards 0 within a few steps; it must stop at a floor
    # of normal floats (subnormal arithmetic is very slow on CPUs) that is far too small
    # to move the weight.
    for dtype in (torch.float32, torch.float64):
        w = torch.ones(3, dtype=dtype, requires_grad=True)
        opt = build_optimizer([w], [], "AdaMix", "None", lr=1e-3, total_steps=100)
        for _ in range(150):
            w.grad = torch.tensor([1e6, 1e3, 0.0], dtype=dtype)
            opt.step()
        alpha = opt.state[w]["alpha"]
        tiny = torch.finfo(dtype).tiny
        assert (alpha >= tiny).all()
        assert alpha[0] == alpha[1]  # both at the floor
        assert alpha[0] * 1e6 < torch.finfo(dtype).eps * 1e-10  # update far below resolution
        assert alpha[2] == torch.tensor(1e-3, dtype=dtype)  # no gradient, no decay
        assert torch.isfinite(w).all()


# --- routing, frozen and skipped parameters --------------------------------------------


def test_adamix_power_routing():
    w = torch.tensor(W0, dtype=torch.float64, requires_grad=True)
    b = torch.tensor([0.0, 0.0], dtype=torch.float64, requires_grad=True)
    opt = build_optimizer([w], [b], "AdaMix", "Power", lr=LR, total_steps=R)
    for t in range(3):
        w.grad = torch.tensor([GA[t], GB[t]], dtype=torch.float64)
        b.grad = torch.tensor([GA[t], GB[t]], dtype=torch.float64)
        opt.step()
    a0, b0 = LR / sqrt(1 + 0.25), LR / sqrt(1 + 1)
    expected_w = after([a0, a0 / sqrt(2), a0 / sqrt(2) / sqrt(5)], [b0, b0, b0 / sqrt(1.0625)])
    torch.testing.assert_close(w.detach(), expected_w, rtol=1e-13, atol=1e-15)
    rates = [power(0), power(1), power(2)]  # one shared rate for every bias element
    expected_b = torch.tensor(
        [
            -sum(r * g for r, g in zip(rates, GA, strict=True)),
            -sum(r * g for r, g in zip(rates, GB, strict=True)),
        ],
        dtype=torch.float64,
    )
    torch.testing.assert_close(b.detach(), expected_b, rtol=1e-13, atol=1e-15)
    assert "alpha" in opt.state[w] and not opt.state[b]


def test_none_is_frozen():
    w = torch.tensor(W0, requires_grad=True)
    b = torch.tensor([0.5], requires_grad=True)
    opt = build_optimizer([w], [b], "None", "Cons", lr=LR, total_steps=R)
    for _ in range(3):
        w.grad = torch.tensor([1.0, -1.0])
        b.grad = torch.tensor([1.0])
        opt.step()
    assert w.tolist() == W0 and not opt.state[w]
    assert b.item() == pytest.approx(0.5 - 3 * LR)
    assert [g["step"] for g in opt.param_groups] == [3, 3]


def test_param_without_grad_is_skipped():
    w1 = torch.tensor([1.0], dtype=torch.float64, requires_grad=True)
    w2 = torch.tensor([1.0], dtype=torch.float64, requires_grad=True)
    opt = build_optimizer([w1, w2], [], "AdaGrad", "Cons", lr=LR, total_steps=R)
    w1.grad = torch.tensor([1.0], dtype=torch.float64)
    w2.grad = torch.tensor([1.0], dtype=torch.float64)
    opt.step()
    w2.grad = None  # w2 is skipped at t = 1: no update, its sum does not advance
    opt.step()
    w2.grad = torch.tensor([1.0], dtype=torch.float64)
    opt.step()
    assert opt.param_groups[0]["step"] == 3
    assert w1.item() == pytest.approx(1 - LR / sqrt(2) - LR / sqrt(3) - LR / sqrt(4))
    assert w2.item() == pytest.approx(1 - LR / sqrt(2) - LR / sqrt(3))
    assert opt.state[w2]["sum"].item() == 3.0  # K + two squared gradients


# --- state round trip ----------------------------------------------------------------

PAIRS = [
    ("Cons", "Cons", {}),
    ("Exp", "Exp", {}),
    ("Power", "None", {}),
    ("AdaGrad", "AdaGrad", {}),
    ("AdaDec", "AdaDec", {}),
    ("AdaMix", "Power", {}),
    ("AdaMix", "AdaMix", {"timing": "lagged"}),
    ("AdaGrad", "AdaDec", {"timing": "lagged", "g_scale": 0.01}),
    ("AdaDec", "Exp", {"adadec": "decaying", "t_unit": "epoch", "steps_per_epoch": 3}),
    ("AdaDec", "AdaDec", {"timing": "lagged", "adadec": "paper"}),
    ("Adam", "Momentum", {}),
    ("RMSprop", "Nesterov", {}),
]


@pytest.mark.parametrize(("weight_rule", "bias_rule", "kw"), PAIRS)
def test_split_run_is_bit_identical(weight_rule, bias_rule, kw):
    gen = torch.Generator().manual_seed(0)
    shapes = [(5, 4), (4,), (3, 5), (3,)]
    init = [torch.randn(s, generator=gen) for s in shapes]
    grads = [[10 * torch.randn(s, generator=gen) for s in shapes] for _ in range(8)]

    def make(values):
        params = [v.clone().requires_grad_() for v in values]
        opt = build_optimizer(
            params[0::2], params[1::2], weight_rule, bias_rule, lr=0.01, total_steps=8, **kw
        )
        return params, opt

    def steps(params, opt, ts):
        for t in ts:
            for p, g in zip(params, grads[t], strict=True):
                p.grad = g.clone()
            opt.step()

    whole, whole_opt = make(init)
    steps(whole, whole_opt, range(8))

    first, opt = make(init)
    steps(first, opt, range(4))
    buffer = io.BytesIO()
    torch.save(opt.state_dict(), buffer)
    buffer.seek(0)
    second, fresh = make([p.detach() for p in first])
    fresh.load_state_dict(torch.load(buffer, weights_only=True))
    steps(second, fresh, range(4, 8))

    for a, b in zip(whole, second, strict=True):
        assert torch.equal(a, b)
    assert fresh.rate_stats() == whole_opt.rate_stats()
    assert [g["step"] for g in fresh.param_groups] == [8, 8]


@functools.cache
def fused_rounds_as_foreach(dtype: torch.dtype) -> bool:
    """Whether, on this machine and torch build, the fused kernels and the foreach ops
    round a*b + c alike. The kernels are compiled to fuse it into one multiply-add (FMA)
    where the CPU has one; torch's vectorised CPU kernels fuse it too, but not its
    non-vectorised ones (ATEN_CPU_CAPABILITY=default), nor numba on a CPU without FMA
    (NUMBA_CPU_NAME=generic). On g = 1 + h, h = 2^-(mantissa bits // 2 + 1), the product
    g*g = 1 + 2h + h^2 loses h^2 when rounded on its own, so g*g - 1 tells the two
    apart: one AdaGrad kernel call against the foreach op of AdaGrad's fold."""
    from adamix.schedules import fused

    h = 2.0 ** -(round(-math.log2(torch.finfo(dtype).eps)) // 2 + 1)
    g = torch.full((67,), 1 + h, dtype=dtype)  # 67: vector lanes and a scalar tail
    ours, theirs = torch.full_like(g, -1.0), torch.full_like(g, -1.0)
    torch._foreach_addcmul_([theirs], [g], [g], value=1.0)
    x = fused.flat(g).dtype.type
    p = torch.zeros_like(g)
    fused.adagrad(fused.flat(p), fused.flat(g), fused.flat(ours), x(0), x(1), x(1), False)
    return torch.equal(ours, theirs)


def test_the_rounding_probe_tells_fused_from_unfused():
    # The probe's input separates the two roundings, so its answer means something.
    for dtype in (torch.float32, torch.float64):
        h = 2.0 ** -(round(-math.log2(torch.finfo(dtype).eps)) // 2 + 1)
        g = torch.tensor(1 + h, dtype=dtype)
        assert g * g - 1 == 2 * h  # rounded on its own: h^2 lost
        assert torch.tensor(2 * h + h * h, dtype=dtype) != 2 * h  # fused: kept
        assert isinstance(fused_rounds_as_foreach(dtype), bool)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(("weight_rule", "bias_rule", "kw"), PAIRS)
def test_fused_kernels_match_foreach(weight_rule, bias_rule, kw, dtype):
    # The CPU kernels of adamix.schedules.fused and the foreach ops make the same float
    # operations in the same order, so a run may switch between them (a resume state saved
    # on a GPU continues on a CPU). Where both fuse a*b + c into one multiply-add, or
    # neither does (fused_rounds_as_foreach), they agree to the last bit, state and rates
    # included. Where only one does (torch's non-vectorised kernels, a CPU without FMA),
    # each a*b + c may round differently by half an ulp, and after the 6 steps the results
    # lie within a few ulps of the tensor's scale (measured: under 2): 8 allowed.
    gen = torch.Generator().manual_seed(0)
    shapes = [(50, 40), (40,), (3, 5), (3,), (2, 3), (2,)]
    init = [torch.randn(s, generator=gen, dtype=dtype) for s in shapes]
    grads = [[10 * torch.randn(s, generator=gen, dtype=dtype) for s in shapes] for _ in range(6)]
    results = []
    for fused in (False, True, [False, True]):  # foreach, fused, and alternating
        params = [v.clone().requires_grad_() for v in init]
        opt = build_optimizer(
            params[0::2], params[1::2], weight_rule, bias_rule, lr=0.01, total_steps=8, **kw
        )
        for t in range(6):
            for group in opt.param_groups:
                group["fused"] = fused[t % 2] if isinstance(fused, list) else fused
            for p, g in zip(params, grads[t], strict=True):
                p.grad = g.clone()
            opt.step()
        state = [v for p in params for v in opt.state[p].values()]
        results.append(([p.detach() for p in params] + state, opt.rate_stats()))
    reference, reference_stats = results[0]
    exact = fused_rounds_as_foreach(dtype)
    tol = 8 * torch.finfo(dtype).eps
    for tensors, stats in results[1:]:
        if exact:
            assert all(torch.equal(a, b) for a, b in zip(reference, tensors, strict=True))
            assert stats == reference_stats
            continue
        for a, b in zip(reference, tensors, strict=True):  # ulps of the tensor's scale
            torch.testing.assert_close(b, a, rtol=tol, atol=tol * a.abs().max().item())
        assert stats.keys() == reference_stats.keys()
        for name, values in stats.items():
            assert values == pytest.approx(reference_stats[name], rel=tol, abs=0), name


def test_fused_true_refuses_what_the_kernels_cannot_take():
    w = torch.zeros(4, 3, requires_grad=True)
    opt = build_optimizer([w], [], "AdaMix", "None", lr=LR, total_steps=R, fused=True)
    w.grad = torch.ones(3, 4).t()  # not contiguous
    with pytest.raises(RuntimeError, match="fused=True, but the kernels take contiguous"):
        opt.step()
    w.grad = torch.ones(4, 3)
    opt.step()  # contiguous: fine
    assert w[0, 0].item() == pytest.approx(-LR / sqrt(2))


# --- rate_stats ----------------------------------------------------------------------


def test_rate_stats():
    _, opt = run("AdaGrad", "Power")  # bias group has no parameters: shared rate anyway
    a = LR / sqrt(1 + 0.25 + 1 + 4)
    b = LR / sqrt(1 + 1 + 0 + 0.0625)
    mean, lo, hi = opt.rate_stats()["weight"]
    assert mean == pytest.approx((a + b) / 2, rel=1e-12)
    assert (lo, hi) == (pytest.approx(a, rel=1e-12), pytest.approx(b, rel=1e-12))
    assert opt.rate_stats()["bias"] == pytest.approx((power(2),) * 3, rel=1e-12)

    _, opt = run("AdaMix", "None")
    alpha_b = LR / sqrt(2) / sqrt(1) / sqrt(1.0625)
    alpha_a = LR / sqrt(1.25) / sqrt(2) / sqrt(5)
    assert opt.rate_stats()["weight"] == pytest.approx(
        ((alpha_a + alpha_b) / 2, alpha_a, alpha_b), rel=1e-12
    )
    assert opt.rate_stats()["bias"] == (0.0, 0.0, 0.0)


def test_rate_stats_before_any_step():
    w = torch.zeros(2, 3, requires_grad=True)
    b = torch.zeros(3, requires_grad=True)
    opt = build_optimizer([w], [b], "AdaMix", "Exp", lr=LR, total_steps=R)
    stats = opt.rate_stats()
    assert stats["weight"] == pytest.approx((LR, LR, LR))
    assert stats["bias"] == pytest.approx((LR, LR, LR))
    assert all(isinstance(x, float) for v in stats.values() for x in v)


# --- validation ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kw", "name"),
    [
        ({"weight_rule": "Adamax"}, "weight_rule"),
        ({"bias_rule": "cons"}, "bias_rule"),
        ({"lr": -1.0}, "lr"),
        ({"lr": float("nan")}, "lr"),
        ({"total_steps": 0}, "total_steps"),
        ({"total_steps": 2.5}, "total_steps"),
        ({"K": 0.0}, "K"),
        ({"q": -0.1}, "q"),
        ({"xi": 1.5}, "xi"),
        ({"xi": -0.1}, "xi"),
        ({"timing": "next"}, "timing"),
        ({"adadec": "senior"}, "adadec"),
        ({"g_scale": 0.0}, "g_scale"),
        ({"t_unit": "batch"}, "t_unit"),
        ({"t_unit": "epoch"}, "steps_per_epoch"),
        ({"t_unit": "epoch", "steps_per_epoch": 0}, "steps_per_epoch"),
        ({"t_unit": "epoch", "steps_per_epoch": 5}, "steps_per_epoch"),  # > total_steps
        ({"fused": "yes"}, "fused"),
    ],
)
def test_invalid_arguments(kw, name):
    args = {"weight_rule": "AdaMix", "bias_rule": "Power", "lr": LR, "total_steps": R, **kw}
    w = torch.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match=rf"\binvalid {name}\b"):
        build_optimizer([w], [], **args)


# --- the registry and plug-ins ------------------------------------------------------


def test_builtin_rules_are_the_papers_seven_and_four_modern_ones():
    assert PAPER_RULES == ("None", "Cons", "Exp", "Power", "AdaGrad", "AdaDec", "AdaMix")
    assert MODERN_RULES == ("Momentum", "Nesterov", "Adam", "RMSprop")
    assert BUILTIN_RULES == PAPER_RULES + MODERN_RULES
    assert all(RULES[name].name == name for name in RULES)


def test_the_optimizer_names_no_rule():
    # The optimizer dispatches through the registry: rule names appear in the rules'
    # own specifications only (adamix.schedules.builtin), never in the kinds, the
    # registry, the optimizer or its kernels.
    modules = sorted((REPO / "workflow" / "adamix" / "schedules").glob("*.py"))
    assert {m.name for m in modules} >= {"kinds.py", "registry.py", "sgd.py", "builtin.py"}
    for module in modules:
        if module.name == "builtin.py":
            continue
        source = module.read_text().split('"""', 2)[2]  # after the module's docstring
        for name in BUILTIN_RULES:
            assert f'"{name}"' not in source, (module.name, name)


def test_library_lr_is_torch_optims_default():
    # builtin.py writes the library's default rates as numbers (reading them needs no
    # torch); they are those of torch.optim's signatures.
    optimizers = {"Momentum": torch.optim.SGD, "Nesterov": torch.optim.SGD,
                  "Adam": torch.optim.Adam, "RMSprop": torch.optim.RMSprop}  # fmt: skip
    assert set(optimizers) == set(MODERN_RULES)
    for name, optimizer in optimizers.items():
        default = float(inspect.signature(optimizer).parameters["lr"].default)
        assert RULES[name].library_lr == default, name
    assert all(catalog()[name]["library_lr"] is None for name in PAPER_RULES)


def test_catalog_is_the_registry_as_plain_data():
    assert list(catalog()) == list(RULES)
    for name, entry in catalog().items():
        assert entry == {"reads": RULES[name].reads, "library_lr": entry["library_lr"]}
        assert isinstance(entry["reads"], tuple)


def test_the_registry_imports_no_torch():
    # Every Snakemake start reads the registry: it, its built-ins and the package's
    # eager names load no torch; the optimizer comes on first use.
    code = (
        "import sys\n"
        "import adamix.schedules.registry\n"
        "from adamix.schedules import RULES, register, load_plugin, settings_read, catalog\n"
        "assert not [m for m in sys.modules if m.startswith(('torch', 'numba'))]\n"
        "from adamix.schedules import build_optimizer, ScheduledSGD\n"
        "assert 'torch' in sys.modules\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO / "workflow")}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


# Each readable setting changed to another value a run could have.
OTHER_VALUE = {
    "lr": 0.02, "K": 2.0, "q": 0.5, "xi": 0.9, "timing": "lagged", "adadec": "decaying",
    "t_unit": "epoch", "g_scale": 0.1, "update": "epoch",
}  # fmt: skip


@pytest.mark.parametrize("fused", [None, False])
@pytest.mark.parametrize("rule", BUILTIN_RULES)
def test_settings_a_rule_does_not_read_change_nothing(rule, fused):
    # What a rule declares in `reads` is all it reads: changing any other setting gives
    # the same bits (the basis for computing each distinct run once).
    gen = torch.Generator().manual_seed(3)
    init = torch.randn(4, 5, generator=gen)
    grads = [torch.randn(4, 5, generator=gen) for _ in range(6)]

    def train(**kw):
        w = init.clone().requires_grad_()
        args = {"lr": 0.01, "total_steps": 6, "steps_per_epoch": 2, "fused": fused, **kw}
        opt = build_optimizer([w], [], rule, "None", **args)
        for g in grads:
            w.grad = g.clone()
            opt.step()
        return w.detach(), opt.rate_stats()

    w0, stats0 = train()
    unread = [name for name in READABLE if name not in RULES[rule].reads]
    for name in unread:
        w, stats = train(**{name: OTHER_VALUE[name]})
        assert torch.equal(w, w0) and stats == stats0, name
    for name in RULES[rule].reads:  # and every setting it declares does change something
        w, _ = train(**{name: OTHER_VALUE[name]})
        assert not torch.equal(w, w0), name


def _scalar(name, **kw):
    return ScalarRule(name, lambda h, t, R: h["lr"], **{"reads": ("lr",), **kw})


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (_scalar("AdaMix"), "'AdaMix' is already registered"),
        (_scalar("My+Rule"), "a name is letters, digits and _"),
        (_scalar("Mine", reads=("lr", "momentum")), r"reads unknown settings \['momentum'\]"),
        (ScalarRule("Mine", rate=None, reads=()), "rate must be a function"),
        (
            AdaptiveRule(
                "Mine",
                reads=(),
                scale=lambda h, s: 1.0,
                init=None,
                fold=None,
                factor=None,
                no_state_factor=None,
            ),
            "init, fold, factor, no_state_factor must be a function",
        ),  # fmt: skip
        ("Cons", "is not a ScalarRule, an AdaptiveRule or a TorchRule"),
    ],
)
def test_register_refuses_a_bad_rule(rule, message):
    with pytest.raises(ValueError, match=message):
        register(rule)
    assert "Mine" not in RULES


def test_plugin_rules_step_as_their_formulas():
    assert load_plugin(str(REPO / "tests" / "plugins" / "user_rules.py")) == ("Halving", "RMS")
    assert load_plugin(str(REPO / "tests" / "plugins" / "user_rules.py")) == ("Halving", "RMS")
    halving = [LR, LR / 2, LR / 4]  # R = 4 steps: the rate halves every step
    check("Halving", halving, halving)
    # RMS, xi = 0.5, K = 1: v(t) = 0.5 v(t-1) + 0.5 g^2, rate = LR / sqrt(1 + v(t))
    va = [0.5 * 0.25, 0.25 * 0.25 + 0.5 * 1.0, 0.5 * (0.25 * 0.25 + 0.5) + 0.5 * 4.0]
    vb = [0.5 * 1.0, 0.25, 0.125 + 0.5 * 0.0625]
    check("RMS", [LR / sqrt(1 + v) for v in va], [LR / sqrt(1 + v) for v in vb], xi=0.5)


def test_plugin_errors_name_the_plugin(tmp_path):
    with pytest.raises(FileNotFoundError, match="plug-in 'nowhere.py': no such file"):
        load_plugin("nowhere.py")
    empty = tmp_path / "empty.py"
    empty.write_text("x = 1\n")
    with pytest.raises(ValueError, match="empty.py' registered no rule"):
        load_plugin(str(empty))
    clash = tmp_path / "clash.py"
    clash.write_text(
        "from adamix.schedules import ScalarRule, register\n"
        "register(ScalarRule('Power', lambda h, t, R: 1.0, reads=()))\n"
    )
    with pytest.raises(ValueError, match="clash.py'.*'Power' is already registered"):
        load_plugin(str(clash))
    assert RULES["Power"] is schedules.RULES["Power"] and RULES["Power"].doc


def test_readme_lists_the_builtin_rules_and_shows_the_plugin_file():
    readme = (REPO / "docs" / "extending.md").read_text()
    section = readme[readme.index("## Learning-rate rules") :]
    section = section[: section.index("\n## ", 4)]
    table = [line for line in section.splitlines() if line.startswith("| `")]
    assert [line.split("`")[1] for line in table] == list(BUILTIN_RULES)
    for line in table:
        name = line.split("`")[1]
        reads = line.split("|")[3].strip()
        assert reads == ", ".join(RULES[name].reads) or (reads == "–" and not RULES[name].reads)
    example = (REPO / "tests" / "plugins" / "user_rules.py").read_text()
    assert f"```python\n{example}```" in section


# --- dtypes and devices --------------------------------------------------------------

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("rule", RULES)
def test_float32_matches_float64(rule, device):
    gen = torch.Generator().manual_seed(1)
    init = torch.randn(6, 7, generator=gen)
    grads = [torch.randn(6, 7, generator=gen) for _ in range(5)]
    result = {}
    for dtype in (torch.float32, torch.float64):
        w = init.to(device, dtype, copy=True).requires_grad_()
        opt = build_optimizer([w], [], rule, "None", lr=0.01, total_steps=5, timing="current")
        for g in grads:
            w.grad = g.to(device, dtype)
            opt.step()
        assert w.dtype == dtype and w.device.type == device
        result[dtype] = w.detach().cpu().double()
    torch.testing.assert_close(result[torch.float32], result[torch.float64], rtol=1e-5, atol=1e-6)


def test_fused_step_keeps_torchs_thread_count():
    # numba's OpenMP pool may share torch's libgomp; starting it must not change the
    # thread count a Snakemake job gave torch. A fresh process: the pool starts once.
    code = (
        "import torch; torch.set_num_threads(1)\n"
        "from adamix.schedules import build_optimizer\n"
        "w = torch.zeros(1000, requires_grad=True)\n"
        "opt = build_optimizer([w], [], 'AdaMix', 'None', lr=0.1, total_steps=2, fused=True)\n"
        "w.grad = torch.ones(1000); opt.step()\n"
        "print(torch.get_num_threads())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "1"


def test_settings_read_by_a_run():
    assert set(TRAINING) | set(READABLE) == set(SETTINGS)  # every setting read by someone
    assert settings_read("Cons+Cons") == ("epochs", "batch_size", "lr", "loss")
    assert settings_read("None+None") == ("epochs", "batch_size", "loss")
    assert settings_read("AdaMix+Power") == (
        "epochs", "batch_size", "lr", "K", "q", "loss", "timing", "t_unit", "g_scale", "update"
    )  # fmt: skip


TORCH_OPTIM = {
    "Momentum": lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9),
    "Nesterov": lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9, nesterov=True),
    "Adam": lambda p: torch.optim.Adam(p, lr=0.01),
    "RMSprop": lambda p: torch.optim.RMSprop(p, lr=0.01),
}


@pytest.mark.parametrize("rule", MODERN_RULES)
def test_modern_rules_are_torch_optim_per_group(rule):
    # Weight+Bias = rule+Cons: the weights step exactly as torch.optim's optimizer steps
    # them alone; the biases as plain SGD at eta0.
    gen = torch.Generator().manual_seed(5)
    w0, b0 = torch.randn(4, 3, generator=gen), torch.randn(3, generator=gen)
    grads = [(torch.randn(4, 3, generator=gen), torch.randn(3, generator=gen)) for _ in range(5)]
    w, b = w0.clone().requires_grad_(), b0.clone().requires_grad_()
    ours = build_optimizer([w], [b], rule, "Cons", lr=0.01, total_steps=5)
    w_ref = w0.clone().requires_grad_()
    reference = TORCH_OPTIM[rule]([w_ref])
    for gw, gb in grads:
        w.grad, b.grad, w_ref.grad = gw.clone(), gb.clone(), gw.clone()
        ours.step()
        reference.step()
    assert torch.equal(w, w_ref)
    torch.testing.assert_close(
        b.detach(), b0 - 0.01 * sum(gb for _, gb in grads), rtol=0, atol=1e-6
    )
    assert ours.rate_stats()["weight"] == (0.01, 0.01, 0.01)


READINGS = [
    {}, {"timing": "lagged"}, {"adadec": "decaying"}, {"t_unit": "epoch", "steps_per_epoch": 3},
    {"g_scale": 0.01},
]  # fmt: skip


@pytest.mark.parametrize("reading", READINGS, ids=lambda r: ",".join(r) or "default")
@pytest.mark.parametrize("rule", BUILTIN_RULES)
def test_the_capturable_path_gives_the_parameters_of_the_current_one(rule, reading):
    """capturable=True (the step and every rate that changes with it as device tensors,
    for CUDA graphs) against the default path, every rule and reading, on the CPU: the
    same parameters within float32 rounding (a tensor rate multiplies before it adds, the
    default path adds with alpha), the same step counters, the same rate statistics."""
    gen = torch.Generator().manual_seed(0)
    start = [torch.randn(5, 4, generator=gen), torch.randn(4, generator=gen)]
    grads = [[torch.randn_like(p) for p in start] for _ in range(12)]
    hyper = {"lr": 0.01, "total_steps": 12, **reading}
    runs = {}
    for capturable in (False, True):
        weight, bias = (p.clone().requires_grad_() for p in start)
        opt = build_optimizer([weight], [bias], rule, rule, capturable=capturable, **hyper)
        for step_grads in grads:
            weight.grad, bias.grad = (g.clone() for g in step_grads)
            opt.step()
        runs[capturable] = (weight.detach(), bias.detach(), opt)
    for ours, theirs in zip(runs[True][:2], runs[False][:2], strict=True):
        torch.testing.assert_close(ours, theirs, rtol=2e-6, atol=1e-7)
    captured, default = runs[True][2], runs[False][2]
    assert [g["step"] for g in captured.state_dict()["param_groups"]] == [12, 12]
    for name, stats in default.rate_stats().items():
        assert captured.rate_stats()[name] == pytest.approx(stats, rel=1e-6)


def test_capturable_refuses_the_fused_kernels():
    with pytest.raises(ValueError, match="invalid fused"):
        build_optimizer([torch.zeros(2)], [torch.zeros(1)], "AdaMix", "Power", lr=0.1,
                        total_steps=10, capturable=True, fused=True)  # fmt: skip
