"""The benchmark runs end to end in its tiny mode, so it cannot rot (its numbers are not judged)."""

import json
import subprocess
import sys


def test_bench_quick_prints_a_json_line_last():
    result = subprocess.run(
        [sys.executable, "-m", "adamix.bench", "--quick", "--threads", "1"],
        capture_output=True,
        text=True,
        check=True,
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["device"] == "cpu"
    assert set(report["overhead_pct"]) >= {"Cons+Cons", "AdaMix+Power", "AdaGrad+AdaGrad"}
