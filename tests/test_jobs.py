"""The plumbing of a pipeline job: its log file and its validated loaders."""

from __future__ import annotations

import logging
import subprocess

import numpy as np
import pandas as pd
import pytest
import torch

from adamix.atomic import atomic
from adamix.joblog import job_log
from adamix.train import finetune_job
from adamix.train.rbm import init_rbm, load_layer


def test_a_failing_job_writes_its_traceback_into_its_log(tmp_path):
    log = tmp_path / "job.log"
    with pytest.raises(ValueError, match="boom"), job_log(str(log)) as logger:
        logger.info("started")
        raise ValueError("boom")
    text = log.read_text()
    assert "started" in text and "job failed" in text
    assert "Traceback (most recent call last)" in text and "ValueError: boom" in text
    logging.getLogger().handlers.clear()  # leave no handler on the closed file


def test_layer_loader_names_the_file_and_the_problem(tmp_path):
    good = init_rbm(6, 3, weight_std=0.1, generator=torch.Generator().manual_seed(0))
    torch.save(good, tmp_path / "layer1.pt")
    assert set(load_layer(tmp_path / "layer1.pt")) == {"W", "hbias", "vbias"}
    cases = {
        "garbage.pt": (b"not a checkpoint", "not a layer checkpoint"),
        "keys.pt": ({"W": good["W"]}, r"it has \['W'\], not W, hbias and vbias"),
        "shape.pt": ({**good, "hbias": torch.zeros(4)}, "do not fit together"),
        "dtype.pt": ({**good, "W": good["W"].double()}, "must be float32 tensors"),
        "nan.pt": ({**good, "vbias": torch.full((6,), float("nan"))}, "non-finite values"),
    }
    for name, (content, message) in cases.items():
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            torch.save(content, path)
        with pytest.raises(ValueError, match=message) as error:
            load_layer(path)
        assert str(path) in str(error.value) and "weights_only" not in str(error.value)
        assert "rule pretrain_layer makes it" in str(error.value)


# --- the fine-tuning job on tiny real files ---------------------------------------------

SETTINGS = {"epochs": 3, "batch_size": 10}  # the rest: FinetuneSettings' defaults


def job_files(tmp_path, *, layer_seed=0, images=None):
    """A subset file of 30 + 10 random 784-pixel images and two layers 784-8-3."""
    gen = torch.Generator().manual_seed(layer_seed)
    layers = [
        init_rbm(784, 8, weight_std=0.1, generator=gen),
        init_rbm(8, 3, weight_std=0.1, generator=gen),
    ]
    paths = [tmp_path / f"layer{k}.pt" for k in (1, 2)]
    for layer, path in zip(layers, paths, strict=True):
        torch.save(layer, path)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (40, 784), dtype=np.uint8) if images is None else images
    subset = tmp_path / "subset.npz"
    labels = np.arange(40, dtype=np.uint8) % 10
    np.savez(subset, train_images=x[:30], train_labels=labels[:30], test_images=x[30:],
             test_labels=labels[30:], val_images=x[:10][::-1], val_labels=labels[:10],
             val_index=np.arange(10))  # fmt: skip
    return subset, paths


def run_job(tmp_path, subset, layers, log=lambda _: None):
    out = tmp_path / "metrics.parquet"
    finetune_job(
        subset, layers, out, weight_rule="AdaMix", bias_rule="Power", reading="default",
        size=0.1, seed=0, settings=SETTINGS, state=tmp_path / "state.pt", code="c0de",
        log=log,
    )  # fmt: skip
    return pd.read_parquet(out)


def test_finetune_job_writes_its_metrics_and_drops_its_state(tmp_path):
    subset, layers = job_files(tmp_path)
    rows = run_job(tmp_path, subset, layers)
    assert list(rows["epoch"]) == [0, 1, 2, 3] and not rows["diverged"].any()
    assert rows["val_rer_sse"].notna().all() and (rows["val_rer_sse"] != rows["test_rer_sse"]).all()
    assert (rows["val_rer_mse"] == rows["val_rer_sse"] / 784).all()
    assert rows["lr"].unique().tolist() == [0.001] and rows["batch_size"].unique().tolist() == [10]
    assert not (tmp_path / "state.pt").exists()
    assert rows["code"].unique().tolist() == ["c0de"]  # the code's digest, on every row


def test_a_job_whose_state_sits_unreadable_in_a_read_only_folder_finishes(tmp_path, small_disk):
    """The state can be neither moved aside nor deleted: the job starts over, writes its
    metrics and says so; the state stays as it was."""
    subset, layers = job_files(tmp_path)
    (small_disk / "state.pt").write_bytes(b"garbage")
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    out, messages = tmp_path / "metrics.parquet", []
    finetune_job(
        subset, layers, out, weight_rule="Cons", bias_rule="Cons", reading="default",
        size=0.1, seed=0, settings=SETTINGS, state=small_disk / "state.pt", code="c0de",
        log=messages.append,
    )  # fmt: skip
    assert list(pd.read_parquet(out)["epoch"]) == [0, 1, 2, 3]
    assert messages[-1].startswith(f"WARNING: resume state {small_disk / 'state.pt'} not deleted")
    assert (small_disk / "state.pt").read_bytes() == b"garbage"


def test_a_killed_job_whose_layers_changed_starts_over(tmp_path):
    # Killed after epoch 2 (its state holds epoch 1), then the layers are pre-trained
    # again otherwise: the rerun must not resume from the old layers' state.
    subset, layers = job_files(tmp_path)

    def kill_at_epoch_2(message):
        if message.startswith("epoch 2"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_job(tmp_path, subset, layers, log=kill_at_epoch_2)
    assert (tmp_path / "state.pt").exists()
    job_files(tmp_path, layer_seed=1)  # new layer checkpoints, same paths
    messages = []
    rows = run_job(tmp_path, subset, layers, log=messages.append)
    assert any(m.startswith("ignoring resume state") for m in messages)
    (tmp_path / "fresh").mkdir()
    fresh = run_job(tmp_path / "fresh", *job_files(tmp_path / "fresh", layer_seed=1))
    cols = ["epoch", "test_rer_sse", "train_rer_sse", "lr_weight_mean"]
    pd.testing.assert_frame_equal(rows[cols], fresh[cols])


@pytest.mark.parametrize(
    ("images", "message"),
    [
        (np.random.default_rng(0).random((40, 784)), "dtypes float64/uint8, expected uint8"),
        (np.zeros((40, 784), dtype=np.uint8), "blank images"),
    ],
    ids=["float64", "zeroed"],
)
def test_a_bad_subset_is_refused_before_training(tmp_path, images, message):
    subset, layers = job_files(tmp_path, images=images)
    with pytest.raises(ValueError, match=message) as error:
        run_job(tmp_path, subset, layers)
    assert str(subset) in str(error.value) and "rule make_subset" in str(error.value)
    assert not (tmp_path / "metrics.parquet").exists()


def test_a_bad_layer_is_refused_naming_the_file(tmp_path):
    subset, layers = job_files(tmp_path)
    layers[1].write_bytes(b"truncated")
    with pytest.raises(ValueError, match=f"{layers[1]}: not a layer checkpoint"):
        run_job(tmp_path, subset, layers)


def test_an_atomic_write_that_fails_keeps_the_old_file(tmp_path):
    path = tmp_path / "layer1.pt"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic(path) as tmp:
        tmp.write_bytes(b"half of the n")
        raise RuntimeError("killed mid-write")
    assert path.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == [path.name]
    with atomic(path) as tmp:
        tmp.write_bytes(b"new")
    assert path.read_bytes() == b"new" and [p.name for p in tmp_path.iterdir()] == [path.name]


def test_a_layer_that_would_take_no_step_is_an_error():
    """Fewer images than a minibatch: an error, never an untrained layer with error 0."""
    from adamix.train.rbm import pretrain_layer

    settings = {
        "epochs": 1, "batch_size": 100, "lr": 0.1, "lr_linear": 0.001, "momentum_initial": 0.5,
        "momentum_final": 0.9, "momentum_switch_epoch": 5, "weight_cost": 0.0002,
    }  # fmt: skip
    images = torch.rand(60, 20)
    with pytest.raises(ValueError, match="batch_size 100 exceeds the 60 training images"):
        pretrain_layer(images, [], 8, top=False, settings=settings, weight_std=0.03, seed=0)
    layer, rows = pretrain_layer(
        images, [], 8, top=False, settings={**settings, "batch_size": 30}, weight_std=0.03, seed=0
    )
    assert len(rows) == 1 and rows[0]["recon_sse"] > 0
