"""Claim 2 by analysis (adamix.schedules.cost): the update's reads, writes and flops per
element, counted on the fused kernels' own code, against counts made by hand from
adamix/schedules/fused.py."""

from __future__ import annotations

import math

import numba
import pytest

from adamix.plan.settings import FinetuneSettings
from adamix.schedules.cost import Cost, _Array, _interpreted, step_cost, update_cost

# By hand, per element, the update as each kernel writes it (not lagged): reads of p, g
# and the state, writes of p and the state, then flops.
HAND = {
    # t = total + s2*g*g (3); p + mc*g*(1/sqrt(t)) (sqrt, div, 2 mul, add: 5)
    ("AdaGrad", "paper"): Cost(reads=3, writes=2, flops=8, sqrt=1, div=1),
    # 1/sqrt(K + xs2*pr*pr + s2*g*g) (4 mul, 2 add, sqrt, div); p + mc*g*r (3); writes
    # p, prev and inv_root
    ("AdaDec", "paper"): Cost(reads=3, writes=3, flops=11, sqrt=1, div=1),
    # G = xi*G + s2*g*g (4); p + mc*g*(1/sqrt(G + K)) (add, sqrt, div, 2 mul, add: 6)
    ("AdaDec", "decaying"): Cost(reads=3, writes=2, flops=10, sqrt=1, div=1),
    # a * (1/sqrt(K + s2*g*g)) (3 + sqrt, div, mul), a < floor (1), p + -1*g*a (3)
    ("AdaMix", "paper"): Cost(reads=3, writes=2, flops=10, sqrt=1, div=1),
}


@pytest.mark.parametrize("timing", ["current", "lagged"])
@pytest.mark.parametrize(("rule", "adadec"), list(HAND))
def test_adaptive_updates_cost_what_their_kernels_do(rule, adadec, timing):
    settings = FinetuneSettings(adadec=adadec, timing=timing)
    expected = HAND[(rule, adadec)]
    if timing == "lagged" and (rule, adadec) == ("AdaDec", "paper"):
        # the step before the fold applies the stored factor: one more array read
        expected = Cost(**{**expected.__dict__, "reads": 4})
    assert update_cost(rule, settings) == expected
    # a number for g_scale changes the values, not the work
    assert update_cost(rule, FinetuneSettings(adadec=adadec, g_scale=0.01)) == HAND[(rule, adadec)]


def test_streams_are_those_the_fused_kernels_promise():
    # adamix/schedules/fused.py: 5 streams for AdaGrad, AdaMix and AdaDec "decaying", 6
    # for AdaDec "paper", 3 for a plain SGD step
    streams = {key: cost.streams for key, cost in HAND.items()}
    assert streams == {("AdaGrad", "paper"): 5, ("AdaDec", "paper"): 6,
                       ("AdaDec", "decaying"): 5, ("AdaMix", "paper"): 5}  # fmt: skip
    assert update_cost("Cons", FinetuneSettings()).streams == 3


def test_scalar_torch_and_per_epoch_rules():
    sgd = Cost(reads=2, writes=1, flops=2)
    for rule in ("Cons", "Exp", "Power"):
        assert update_cost(rule, FinetuneSettings()) == sgd
    assert update_cost("None", FinetuneSettings()) == Cost()
    assert update_cost("Adam", FinetuneSettings()) is None  # torch.optim's: not counted
    assert update_cost("AdaMix", FinetuneSettings(update="epoch")) is None  # torch's ops
    assert update_cost("Cons", FinetuneSettings(update="epoch")) == sgd


def test_the_counter_counts_element_work_only():
    @numba.njit
    def axpy(p, g, c, d):
        c2 = c * d  # scalars alone: once per call, not per element
        for i in range(p.size):
            p[i] = p[i] - c2 * g[i]

    cost = Cost()
    x = _Array(cost).dtype.type
    _interpreted(axpy)(_Array(cost, 2.0), _Array(cost, 3.0), x(0.5), x(2.0))
    assert cost == Cost(reads=2, writes=1, flops=2)


def test_a_steps_cost_sums_weights_and_biases():
    weights, biases = 2_833_000, 4_314  # the unrolled 784-1000-500-250-30 autoencoder
    found = step_cost("AdaMix+Power", FinetuneSettings(), weights, biases)
    assert (found["update_streams"], found["update_flops"]) == (5, 10)
    assert found["update_mb"] == pytest.approx(4 * (5 * weights + 3 * biases) / 1e6)
    assert found["update_mflops"] == pytest.approx((10 * weights + 2 * biases) / 1e6)
    assert all(math.isnan(v) for v in step_cost("Adam+Adam", FinetuneSettings(), 1, 1).values())
