"""The numeric code's digest: its meaning counts, not its comments, formatting or file."""

from __future__ import annotations

from pathlib import Path

from adamix.provenance import FINETUNE_CODE, PRETRAIN_CODE, code_digest

ONE = '''"""Module a."""
import math

RATE = 0.5  # a constant


def rate(t):
    """The rate at step t."""
    return RATE / math.sqrt(1 + t)


def other():
    return 2
'''
TWO = "def helper(x):\n    return x * 2\n"


def write(folder: Path, **files: str) -> Path:
    folder.mkdir()
    for name, text in files.items():
        (folder / f"{name}.py").write_text(text)
    return folder


def digest(folder: Path) -> str:
    return code_digest(["a.py", "b.py"], package=folder)


def test_a_pure_move_keeps_the_digest_and_a_changed_number_does_not(tmp_path):
    before = digest(write(tmp_path / "before", a=ONE, b=TWO))
    # other() moved to b.py, the imports, docstrings, comments and formatting changed
    moved_a = ONE.replace("def other():\n    return 2\n", "")
    moved_a = moved_a.replace('"""The rate at step t."""', "# no docstring")
    moved_a = moved_a.replace("import math", "import math\nfrom b import other")
    moved_a = moved_a.replace("RATE = 0.5  # a constant", "RATE = (0.5)")
    moved_b = "import sys\n\ndef other():\n    # a comment\n    return 2\n\n\n" + TWO
    assert digest(write(tmp_path / "moved", a=moved_a, b=moved_b)) == before
    for changed in ["RATE = 0.25", "RATE = 0.5\nEXTRA = 1"]:
        folder = tmp_path / f"changed{len(changed)}"
        assert digest(write(folder, a=ONE.replace("RATE = 0.5", changed), b=TWO)) != before
    swapped = ONE.replace("math.sqrt(1 + t)", "math.sqrt(t + 1)")  # same number, other code
    assert digest(write(tmp_path / "swapped", a=swapped, b=TWO)) != before


def test_the_stages_digest_the_package_s_numeric_modules():
    # code_digest reads every file (a moved module is an error, never silently skipped);
    # fine-tuning's code includes pre-training's, whose layers it reads.
    assert set(PRETRAIN_CODE) < set(FINETUNE_CODE)
    loop = {"train/finetune.py", "train/autoencoder.py", "train/rbm.py"}
    assert loop | {"schedules/sgd.py", "schedules/fused.py"} <= set(FINETUNE_CODE)
    assert code_digest(PRETRAIN_CODE) != code_digest(FINETUNE_CODE)
