"""The fine-tuning loop on a tiny network: losses, divergence as a result, resume state."""

from __future__ import annotations

import math
import subprocess

import pytest
import torch

from adamix.joblog import job_log
from adamix.schedules.kinds import AdaptiveRule, ScalarRule
from adamix.schedules.registry import RULES, register
from adamix.train import digest, finetune
from adamix.train.autoencoder import unroll
from adamix.train.rbm import init_rbm
from conftest import fill

SETTINGS = {
    "epochs": 3,
    "batch_size": 10,
    "lr": 0.001,
    "K": 1.0,
    "q": 0.75,
    "xi": 0.999,
    "loss": "sse",
    "timing": "current",
    "adadec": "paper",
    "t_unit": "step",
    "g_scale": "sum",
}


def tiny_model(seed=0):
    g = torch.Generator().manual_seed(seed)
    rbms = [
        init_rbm(16, 8, weight_std=0.1, generator=g),
        init_rbm(8, 3, weight_std=0.1, generator=g),
    ]
    return unroll(rbms)


def run(tmp_path, save_every_s=None, log=None, inputs="", model=None, **overrides):
    patterns = torch.rand(4, 16, generator=torch.Generator().manual_seed(1))
    data = patterns.repeat(10, 1)  # four images to learn, in train and test alike
    return finetune(
        model or tiny_model(),
        data[:30],
        data[30:],
        weight_rule="Cons",
        bias_rule="Cons",
        settings={**SETTINGS, **overrides},
        seed=0,
        keys={"reading": "default"},
        state_path=tmp_path / "state.pt",
        inputs=inputs,
        log=log or (lambda _: None),
        **({} if save_every_s is None else {"save_every_s": save_every_s}),
    )


def test_unrolled_network_is_the_paper_shape():
    model = tiny_model()
    kinds = [type(m).__name__ for m in model]
    # 16-8-3 encoder with a linear code layer, then 3-8-16 decoder with logistic units
    assert kinds == ["Linear", "Sigmoid", "Linear", "Linear", "Sigmoid", "Linear", "Sigmoid"]
    assert [m.weight.shape for m in model if isinstance(m, torch.nn.Linear)] == [
        (8, 16), (3, 8), (8, 3), (16, 8)
    ]  # fmt: skip


def test_rows_per_epoch_and_cross_entropy_loss_trains(tmp_path):
    for loss in ("sse", "cross_entropy"):
        rows = run(tmp_path / loss, loss=loss, lr=0.01)
        assert [r["epoch"] for r in rows] == [0, 1, 2, 3]
        assert [r["step"] for r in rows] == [0, 3, 6, 9]
        assert rows[-1]["test_rer_sse"] < rows[0]["test_rer_sse"]
        assert rows[1]["test_rer_mse"] == rows[1]["test_rer_sse"] / 16


def test_non_finite_loss_is_recorded_as_diverged_not_raised(tmp_path):
    # A decoder weight of +inf: the forward pass saturates its output to a finite 1 (epoch 0
    # is finite), and the first backward pass multiplies that inf by the saturated
    # sigmoid's zero slope. inf * 0 is NaN in IEEE arithmetic on every CPU, and NaN spreads
    # to every weight through the next step's sums, whatever their order.
    model = tiny_model()
    with torch.no_grad():
        model[5].weight[0, 0] = math.inf
    rows = run(tmp_path, model=model)
    assert rows[-1]["diverged"] and not any(r["diverged"] for r in rows[:-1])
    assert not math.isfinite(rows[-1]["train_rer_sse"])
    assert len(rows) < SETTINGS["epochs"] + 1  # training stopped at the divergence


def test_a_saturated_network_has_diverged(tmp_path):
    # A huge rate drives the sigmoids into saturation: the errors stay finite and the
    # gradients vanish, but the test RER ends far above the pre-trained network's. The rate
    # keeps every number finite by construction, on any CPU: the gradients here are about 1,
    # so one epoch of 3 steps moves a weight by a few 1e4 and the pre-activations stay near
    # 1e5, far from float32's 3.4e38. (At lr=1e30 the decoder's products overflow at the
    # second step, weights near 1e30 times codes near 1e28; a sum holding +inf and -inf is
    # NaN, and whether a sum meets both turns on the matmul kernel's order and rounding:
    # NaN on some CPUs, a finite saturation on others.)
    rows = run(tmp_path, lr=1e4)
    assert all(math.isfinite(r["test_rer_sse"]) for r in rows)
    assert rows[-1]["test_rer_sse"] > 2 * rows[0]["test_rer_sse"]
    assert rows[-1]["diverged"] and not any(r["diverged"] for r in rows[:-1])
    assert len(rows) < SETTINGS["epochs"] + 1
    assert not any(r["diverged"] for r in run(tmp_path / "fine"))  # a sane rate: never


def test_state_of_other_settings_is_not_resumed(tmp_path):
    full = run(tmp_path)
    again = run(tmp_path, lr=0.002)  # the saved state belongs to lr=0.001: start afresh
    assert [r["epoch"] for r in again] == [0, 1, 2, 3]
    assert again[1]["test_rer_sse"] != full[1]["test_rer_sse"]


def test_state_of_an_older_form_is_not_resumed(tmp_path):
    full = run(tmp_path)
    state = torch.load(tmp_path / "state.pt", weights_only=True)
    del state["format"]  # as written before RESUME_FORMAT: another form of optimizer state
    torch.save(state, tmp_path / "state.pt")
    messages = []
    again = run(tmp_path, log=messages.append)
    assert messages[0].startswith("ignoring resume state")
    assert "other inputs, settings or code" in messages[0]
    assert [r["test_rer_sse"] for r in again] == [r["test_rer_sse"] for r in full]  # started over


def test_resume_state_is_saved_at_most_every_save_every_s(tmp_path):
    run(tmp_path / "every", save_every_s=None)  # None: leave finetune()'s default, every epoch
    assert (tmp_path / "every" / "state.pt").exists()
    run(tmp_path / "rarely", save_every_s=3600)  # three short epochs: never an hour apart
    assert not (tmp_path / "rarely" / "state.pt").exists()


def test_state_of_other_inputs_is_not_resumed(tmp_path):
    # A job killed, its inputs made again otherwise (other pre-training, subset, code):
    # the saved state is set aside and the job starts over.
    full = run(tmp_path, inputs="digest of the old layers")
    messages = []
    again = run(tmp_path, inputs="digest of the new layers", log=messages.append)
    assert messages[0].startswith("ignoring resume state")
    assert "other inputs, settings or code" in messages[0]
    assert [r["epoch"] for r in again] == [0, 1, 2, 3]
    resumed = run(tmp_path, inputs="digest of the new layers", log=messages.append)
    assert messages[-1].startswith("resumed from") and resumed[-1] == again[-1]
    assert [r["test_rer_sse"] for r in again] == [r["test_rer_sse"] for r in full]


def test_finetune_job_digests_its_input_files(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_bytes(b"layer one")
    b.write_bytes(b"layer two")
    first = digest([a, b])
    assert digest([a, b]) == first and digest([b, a]) != first
    b.write_bytes(b"layer two, trained again")
    assert digest([a, b]) != first


@pytest.mark.parametrize(
    "damage",
    [
        lambda path: path.write_bytes(path.read_bytes()[:1000]),  # truncated
        lambda path: path.write_bytes(b"garbage" * 100),
        lambda path: torch.save([1, 2, 3], path),  # not a state
        lambda path: torch.save(  # the state of another network's shape
            {**torch.load(path, weights_only=True), "model": {"0.weight": torch.zeros(2, 2)}},
            path,
        ),
    ],
    ids=["truncated", "garbage", "list", "wrong-shape"],
)
def test_unreadable_state_is_moved_aside_and_the_job_starts_over(tmp_path, damage):
    full = run(tmp_path)
    damage(tmp_path / "state.pt")
    messages = []
    again = run(tmp_path, log=messages.append)
    assert messages[0].startswith(f"unreadable resume state {tmp_path / 'state.pt'}")
    assert "weights_only" not in messages[0]
    assert (tmp_path / "state.pt.unreadable").exists()
    assert [r["test_rer_sse"] for r in again] == [r["test_rer_sse"] for r in full]


def test_a_failed_save_is_a_warning_and_leaves_no_temporary_file(tmp_path):
    (tmp_path / "not-a-folder").write_text("")
    messages = []
    rows = finetune(
        tiny_model(),
        torch.rand(30, 16),
        torch.rand(10, 16),
        weight_rule="Cons",
        bias_rule="Cons",
        settings=SETTINGS,
        seed=0,
        keys={"reading": "default"},
        state_path=tmp_path / "not-a-folder" / "state.pt",
        log=messages.append,
    )
    assert [r["epoch"] for r in rows] == [0, 1, 2, 3]
    assert any(m.startswith("WARNING: resume state not saved") for m in messages)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["not-a-folder"]


def test_a_full_disk_is_said_once_naming_the_state(small_disk):
    fill(small_disk)
    state, messages = small_disk / "state.pt", []
    rows = run(small_disk, log=messages.append)  # saves after every epoch: three failures
    assert [r["epoch"] for r in rows] == [0, 1, 2, 3]
    warnings = [m for m in messages if m.startswith("WARNING")]
    assert warnings == [
        f"WARNING: resume state not saved to {state}: no space left on device;"
        " the job goes on without it"
    ]
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler"]


def test_a_full_disk_under_the_log_file_is_said_once(small_disk, capfd):
    fill(small_disk)
    with job_log(str(small_disk / "job.log")) as log:
        for epoch in range(100):
            log.info("epoch %d: test rer_sse 1.0", epoch)
    err = capfd.readouterr().err
    assert err == (
        f"WARNING: log file {small_disk / 'job.log'} not written: no space left on device;"
        " its further messages are dropped\n"
    )


def test_an_unreadable_state_in_a_read_only_folder_is_left_and_the_job_starts_over(
    small_disk, tmp_path
):
    full = run(tmp_path)
    state = small_disk / "state.pt"
    state.write_bytes(b"garbage" * 100)
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    messages = []
    again = run(small_disk, log=messages.append)
    assert messages[0] == (
        f"unreadable resume state {state} (UnpicklingError), left in place (read-only file"
        " system); starting over"
    )
    assert [r["test_rer_sse"] for r in again] == [r["test_rer_sse"] for r in full]
    assert state.read_bytes() == b"garbage" * 100


TIMING_COLUMNS = ("epoch_seconds", "cumulative_seconds", "finished_at")


def _rows_without_timing(rows):
    return [{k: v for k, v in row.items() if k not in TIMING_COLUMNS} for row in rows]


def test_cuda_graphs_are_ignored_on_a_cpu(tmp_path):
    """config cuda_graphs asks for graphs on CUDA only: on a CPU the eager loop runs and
    its rows are those of cuda_graphs=False, bit for bit."""
    rows = {}
    for graphs in (False, True):
        rows[graphs] = finetune(
            tiny_model(), torch.rand(30, 16, generator=torch.Generator().manual_seed(1)),
            torch.rand(10, 16, generator=torch.Generator().manual_seed(2)),
            weight_rule="AdaMix", bias_rule="Power", settings=SETTINGS, seed=0,
            keys={"reading": "default"}, state_path=tmp_path / f"{graphs}.pt",
            cuda_graphs=graphs, log=lambda _: None,
        )  # fmt: skip
    assert _rows_without_timing(rows[True]) == _rows_without_timing(rows[False])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize(
    "run", ["Cons+Cons", "Exp+Power", "AdaGrad+AdaGrad", "AdaDec+AdaDec", "AdaMix+Power",
            "Momentum+Momentum", "Adam+Adam", "RMSprop+RMSprop"],
)  # fmt: skip
def test_cuda_graph_replays_give_the_eager_metrics(tmp_path, run):
    """On a GPU: every rule's run replayed from a captured graph (rates of the device's
    step) ends with the eager run's errors, within float32 rounding."""
    gen = torch.Generator().manual_seed(1)
    train, test = torch.rand(600, 16, generator=gen), torch.rand(100, 16, generator=gen)
    weight, bias = run.split("+")
    rows = {}
    for graphs in (False, True):
        rows[graphs] = finetune(
            tiny_model().cuda(), train.cuda(), test.cuda(), weight_rule=weight,
            bias_rule=bias, settings={**SETTINGS, "epochs": 5}, seed=0,
            keys={"reading": "default"}, state_path=tmp_path / f"{graphs}.pt",
            cuda_graphs=graphs, log=lambda _: None,
        )  # fmt: skip
    for ours, eager in zip(rows[True], rows[False], strict=True):
        assert ours["step"] == eager["step"] and ours["diverged"] == eager["diverged"]
        assert ours["test_rer_sse"] == pytest.approx(eager["test_rer_sse"], rel=1e-4)


def _negative_factor(h, state, out):
    return torch.full_like(state["v"], -1.0) if out is None else out.fill_(-1.0)


BAD_RULES = {
    "NegativeRate": ScalarRule("NegativeRate", lambda h, t, R: -h["lr"], reads=("lr",)),
    "NanRate": ScalarRule("NanRate", lambda h, t, R: math.nan, reads=()),
    "HugeRate": ScalarRule("HugeRate", lambda h, t, R: 1e300, reads=()),  # inf in float32
    "NegativeFactor": AdaptiveRule(
        "NegativeFactor",
        reads=("lr",),
        scale=lambda h, step: h["lr"],
        init=lambda h, p: {"v": torch.zeros_like(p)},
        fold=lambda h, states, grads, scratch: None,
        factor=_negative_factor,
        no_state_factor=lambda h: -1.0,
    ),  # fmt: skip
}


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("NegativeRate", r"rule NegativeRate gave the rate -0.001 at step 0"),
        ("NanRate", r"rule NanRate gave the rate nan at step 0"),
        ("HugeRate", r"rule HugeRate gave the rate 1e\+300 at step 0"),
        (
            "NegativeFactor",
            r"rule NegativeFactor gave weight rates from -0.001 to -0.001 in epoch 1",
        ),
    ],
)
def test_a_rule_that_gives_a_bad_rate_is_named_not_reported_as_diverged(tmp_path, name, message):
    if name not in RULES:
        register(BAD_RULES[name])
    with pytest.raises(ValueError, match=message):
        finetune(
            tiny_model(), torch.rand(30, 16), torch.rand(10, 16), weight_rule=name,
            bias_rule="Cons", settings={**SETTINGS, "batch_size": 10}, seed=0, keys={},
            state_path=tmp_path / "state.pt", log=lambda _: None,
        )  # fmt: skip


# ------------------------------------------------------------------ claim 2's step timing


def test_the_timing_order_is_drawn_afresh_each_round_and_reproducible_for_a_seed():
    from adamix.train.step_timing import round_orders

    orders = round_orders(4, 6, seed=3)
    assert orders == round_orders(4, 6, seed=3)  # the same seed, the same orders
    assert all(sorted(order) == [0, 1, 2, 3] for order in orders)  # each a permutation
    assert len({tuple(order) for order in orders}) > 1  # not one order for every round
    assert orders != round_orders(4, 6, seed=4)
    # torch's permutations of that generator, one per round in turn
    gen = torch.Generator().manual_seed(3)
    assert orders == [torch.randperm(4, generator=gen).tolist() for _ in range(6)]


def test_step_timing_job_times_a_replica_of_the_baseline_in_random_order(tmp_path, monkeypatch):
    import numpy as np
    import pandas as pd

    from adamix.train import step_timing

    monkeypatch.setattr(
        step_timing, "load_subset", lambda _: {"train_images": np.full((40, 16), 128, np.uint8)}
    )
    g = torch.Generator().manual_seed(0)
    layers = {"a": init_rbm(16, 8, weight_std=0.1, generator=g),
              "b": init_rbm(8, 3, weight_std=0.1, generator=g)}  # fmt: skip
    monkeypatch.setattr(step_timing, "load_layer", layers.__getitem__)
    settings = {**SETTINGS, "epochs": 1}
    cells = [  # [reading, run, job's reading, settings]: g_scale-mean's Cons+Cons is default's
        ["default", "Cons+Cons", "default", settings],
        ["default", "AdaMix+Power", "default", settings],
        ["g_scale-mean", "Cons+Cons", "default", settings],
        ["g_scale-mean", "AdaMix+Power", "g_scale-mean", {**settings, "g_scale": "mean"}],
    ]
    out = tmp_path / "timing.parquet"
    step_timing.step_timing_job(
        "subset", ["a", "b"], out, cells=cells, rounds=4, steps=2, device="cpu", threads=1,
        log=lambda _: None,
    )  # fmt: skip
    table = pd.read_parquet(out)
    assert list(table.columns[:7]) == [
        "reading", "run", "replica", "round", "position", "seconds", "threads"
    ]  # fmt: skip
    assert (table["threads"] == 1).all() and (table["seconds"] > 0).all()
    replica = table[table["replica"]]
    # the replica of the first Cons+Cons job, given to both cells that job computes
    assert set(replica["run"]) == {"Cons+Cons"} and len(replica) == 2 * 4
    assert set(replica["reading"]) == {"default", "g_scale-mean"}
    # 4 distinct jobs timed (3 + the replica): positions 0..3, each once per round
    one = table.drop_duplicates(["round", "position"])
    assert len(one) == 4 * 4 and sorted(set(table["position"])) == [0, 1, 2, 3]
    default = table[table["reading"] == "default"]
    positions = default.pivot_table(index="round", columns=["run", "replica"], values="position")
    expected = step_timing.round_orders(4, 5, seed=0)[1:]  # after the warm-up round
    assert len({tuple(o) for o in expected}) > 1  # the order changes between rounds
    # the jobs in the timed order: default's Cons+Cons, AdaMix+Power, g_scale-mean's
    # AdaMix+Power, then the replica; position of job k in round r = its index in the order
    assert positions[("Cons+Cons", False)].tolist() == [o.index(0) for o in expected]
    assert positions[("AdaMix+Power", False)].tolist() == [o.index(1) for o in expected]
    assert positions[("Cons+Cons", True)].tolist() == [o.index(3) for o in expected]
