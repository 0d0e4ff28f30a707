"""The plumbing of a pipeline job: its log file and its validated loaders."""

from __future__ import annotations

import logging

import pytest
import torch

from adamix.joblog import job_log
from adamix.rbm import init_rbm, load_layer


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
        "keys.pt": ({"W": good["W"]}, "has W, hbias and vbias, not"),
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
