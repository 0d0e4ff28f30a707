"""Where a job computes: the torch device a config names, its model name, torch's threads,
and the images it computes on."""

from __future__ import annotations

import functools
import platform

import numpy as np
import torch


def resolve_device(name: str) -> torch.device:
    """config `device` (auto, cpu, cuda) -> a torch device; auto takes CUDA when present."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("config device is 'cuda' but torch sees no CUDA device")
    return torch.device(name)


def setup_job(device: str, threads: int) -> torch.device:
    """A pipeline job's torch: `threads` CPU threads (the rule's) and its device."""
    torch.set_num_threads(threads)
    return resolve_device(device)


@functools.cache
def device_name(device: torch.device | str) -> str:
    """The GPU's or the CPU's model name, e.g. "NVIDIA H200" or "AMD EPYC 7B13" (looked up
    once per process: every metrics row records it)."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:  # Linux
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if "model name" in line)
    except (OSError, StopIteration):
        return platform.machine() or device.type


def pixels(images: np.ndarray, device: torch.device | str) -> torch.Tensor:
    """uint8 images (n, pixels) of a subset file -> the network's float32 input in [0, 1]."""
    return torch.from_numpy(images).to(device, torch.float32) / 255
