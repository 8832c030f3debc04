"""A short bench/reports.py in CI: the million-chat run is a benchmark, this guards it."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_short_reports_bench_seeds_rolls_up_and_times_every_figure(tmp_path):
    """Given a database of the bench's own, when bench/reports.py runs with 2,000 chats, then
    it seeds them with 2,000 agents and a live floor, rolls up the year, and prints and writes
    every figure beside the bare count."""
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
    figures_file = tmp_path / "reports.json"
    argv = [
        sys.executable, "bench/reports.py", "--sessions", "2000", "--reseed", "--repeat", "2",
        "--database-url", f"{base.rsplit('/', 1)[0]}/cc_bench_reports_smoke",
        "--json", str(figures_file),
    ]  # fmt: skip

    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=120)

    assert done.returncode == 0, done.stderr[-3000:]
    assert "yardstick: SELECT count(*)" in done.stdout
    result = json.loads(figures_file.read_text())
    assert result["sessions"] == 2000
    assert result["agents"] == 2000
    assert result["floor"]["waiting"] == 500 and result["floor"]["active"] > 0
    assert result["rollup_days"] >= 360
    figures = result["figures"]
    assert set(figures) == {"count", "summary_30d", "summary_365d", "agents_30d", "snapshot"}
    for name, row in figures.items():
        assert 0 < row["best_ms"] <= row["median_ms"], name
    assert {figures[n]["goal_ms"] for n in figures if n != "count"} == {500, 50}
