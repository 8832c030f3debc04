"""CPU per chat of this checkout beside an earlier commit's, the runs interleaved on one machine.

These machines are shared and their speed changes within the hour, so two figures compare only
when measured side by side: this makes a git worktree of BASE in a temporary folder, runs
bench/load.py from it (A) and from this checkout (B) in turn, A B A B ..., each with its own
topology, and prints for every run the machine's speed figure, sessions created/s, the create
p99, the CPU of every process and the CPU seconds per chat; then B's mean CPU per chat over A's.

    .venv/bin/python bench/ab_load.py --base HEAD~1 [--rounds 2] -- --duration 120 --rate 20 \\
        --agents 200 --accept-timeout 10 --seed 1

Everything after `--` goes to both runs of bench/load.py (which must accept it on both sides).
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.load import pct  # noqa: E402 -- the percentile every bench prints


def cpu_ms_per_chat(figures: dict) -> float:
    """From any version's --json: every process's CPU over the chats created meanwhile."""
    cpu_seconds = sum(figures["cpu_percent"].values()) / 100 * figures["seconds"]
    return 1000 * cpu_seconds / max(figures["sessions_created"], 1)


def run(checkout: Path, load_args: list[str], out: Path) -> dict:
    command = [sys.executable, "bench/load.py", *load_args, "--json", str(out)]
    done = subprocess.run(command, cwd=checkout, capture_output=True, text=True)
    if not out.exists():
        sys.exit(f"bench/load.py failed in {checkout}:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return json.loads(out.read_text())


def main() -> None:
    argv = sys.argv[1:]
    load_args = argv[argv.index("--") + 1 :] if "--" in argv else []
    own = argv[: argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="HEAD~1", help="the commit to compare with (A)")
    parser.add_argument("--rounds", type=int, default=2, help="pairs of runs, A then B")
    parser.add_argument("--json", default="", help="also write every run's figures here")
    args = parser.parse_args(own)
    base = subprocess.run(
        ["git", "rev-parse", "--short", args.base], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    if not base:
        sys.exit(f"no such commit: {args.base}")
    rows = []
    with tempfile.TemporaryDirectory(prefix="cc-ab-") as scratch:
        tree = Path(scratch) / "base"
        subprocess.run(
            ["git", "worktree", "add", "--detach", "-q", str(tree), base], cwd=ROOT, check=True
        )
        try:
            print(f"A = {base} (worktree), B = this checkout; bench/load.py {' '.join(load_args)}")
            print(
                f"{'run':4s} {'speed':>8s} {'created/s':>9s} {'create p99':>10s} "
                f"{'CPU of 200':>10s} {'CPU/chat':>9s}"
            )
            for n in range(args.rounds):
                for side, checkout in (("A", tree), ("B", ROOT)):
                    figures = run(checkout, load_args, Path(scratch) / f"{side}{n}.json")
                    row = {
                        "side": side,
                        "speed_ms": figures.get("python_speed_ms"),
                        "sessions_per_s": figures["sessions_per_s"],
                        "create_p99_ms": 1000 * (pct(figures["create_rtt"], 99) or 0.0),
                        "cpu_percent": sum(figures["cpu_percent"].values()),
                        "cpu_ms_per_chat": cpu_ms_per_chat(figures),
                    }
                    rows.append(row)
                    print(
                        f"{side:4s} {row['speed_ms'] or 0:6.1f} ms {row['sessions_per_s']:9.1f} "
                        f"{row['create_p99_ms']:7.0f} ms {row['cpu_percent']:10.0f} "
                        f"{row['cpu_ms_per_chat']:6.1f} ms",
                        flush=True,
                    )
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT)
    mean = {
        side: sum(r["cpu_ms_per_chat"] for r in rows if r["side"] == side) / args.rounds
        for side in "AB"
    }
    print(
        f"CPU per chat: A {mean['A']:.1f} ms, B {mean['B']:.1f} ms: "
        f"B/A = {mean['B'] / mean['A']:.2f} (the capacity goal: <= 0.20)"
    )
    if args.json:
        Path(args.json).write_text(json.dumps({"base": base, "runs": rows, "mean": mean}))


if __name__ == "__main__":
    main()
