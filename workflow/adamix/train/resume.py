"""The resume state of a fine-tuning job: saved after an epoch, loaded by a restarted job.

A state holds the model, the optimizer, the shuffling RNG and the metrics rows so far,
with the identity of the job it belongs to: its keys and settings, a ``digest`` of the
files its model and data came from and of the numeric code (adamix.provenance), and the
state's form (``RESUME_FORMAT``). A state of another identity is set aside and the job starts
over, so a resumed run returns the same rows as an uninterrupted one.
"""

from __future__ import annotations

import copy
import hashlib
import io
import os
from collections.abc import Sequence
from pathlib import Path

import torch

from adamix.atomic import atomic

# The form of a resume state; a state of another form is ignored (the job starts over).
# 2: AdaGrad and AdaDec "decaying" keep no factor (the fused kernels, adamix.schedules.fused).
RESUME_FORMAT = 2


def digest(paths: Sequence[str | os.PathLike]) -> str:
    """sha256 over the contents of the files (a plug-in given as a module name, or the
    code's digest, counts by its text): what a resume state must have been computed from
    to be reused."""
    h = hashlib.sha256()
    for path in paths:
        h.update(Path(path).read_bytes() if Path(path).is_file() else str(path).encode())
    return h.hexdigest()


def save_state(path, identity, model, optimizer, generator, rows, log=print) -> bool:
    """Write the resume state atomically: a kill mid-write leaves the previous state intact.
    The state is optional: a failed write (disk full, no such folder, a read-only folder)
    is a warning naming the path and the reason, and leaves no temporary file behind.
    Serialised in memory first, so that a file system error is Python's own (`No space
    left on device`), not torch's position check. True if the state was written."""
    path = Path(path)
    state = {
        **identity,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "generator": generator.get_state(),
        "rows": rows,
    }
    buffer = io.BytesIO()
    torch.save(state, buffer)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic(path) as tmp:
            tmp.write_bytes(buffer.getbuffer())
    except OSError as error:
        reason = (error.strerror or str(error)).lower()
        log(f"WARNING: resume state not saved to {path}: {reason}; the job goes on without it")
        return False
    return True


def load_state(path, identity, model, optimizer, generator, log=print) -> list[dict]:
    """The rows of the resume state at `path`, with model, optimizer and generator set to
    it; [] (start over) when there is none, when it belongs to other inputs, settings or
    code (set aside), or when it cannot be read (moved aside to *.unreadable, or left in
    place where its folder is read-only; named in the log). Nothing is changed unless the
    whole state applies."""
    path = Path(path)
    if not path.exists():
        return []
    before = copy.deepcopy((model.state_dict(), optimizer.state_dict(), generator.get_state()))
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(state, dict):
            raise ValueError(f"a {type(state).__name__}, not a dict")
        if any(state.get(key) != value for key, value in identity.items()):
            log(f"ignoring resume state {path}: it belongs to other inputs, settings or code")
            return []
        rows = state["rows"]
        if not (isinstance(rows, list) and rows and rows[-1]["epoch"] >= 0):
            raise ValueError("no rows")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        generator.set_state(state["generator"])
    except Exception as error:  # truncated, garbage, wrong shapes or keys
        model.load_state_dict(before[0])
        optimizer.load_state_dict(before[1])
        generator.set_state(before[2])
        # torch's own messages advise an unsafe load (weights_only=False): not passed on
        reason = str(error) if isinstance(error, ValueError) else type(error).__name__
        aside = path.with_name(path.name + ".unreadable")
        try:
            os.replace(path, aside)
        except OSError as move_error:  # a read-only folder: the state stays, unused
            where = f"left in place ({(move_error.strerror or str(move_error)).lower()})"
        else:
            where = f"moved to {aside}"
        log(f"unreadable resume state {path} ({reason}), {where}; starting over")
        return []
    log(f"resumed from {path} after epoch {rows[-1]['epoch']}")
    return rows
