"""Run every benchmark script in turn, each printing its figures and its ratios to peers.

Usage::

    python benchmarks/run_all.py            # full sizes (tens of minutes on 2 cores)
    python benchmarks/run_all.py --quick    # smoke run of each

Each script is also runnable alone; see its docstring for its instances,
targets and peers.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

SCRIPTS = ("bench_travel.py", "bench_zones.py", "bench_communities.py", "bench_rotation.py")


def main(argv: list[str]) -> int:
    """Run each benchmark with the given arguments; exit non-zero if one fails."""
    here = Path(__file__).resolve().parent
    failed = []
    for name in SCRIPTS:
        print(f"\n=== {name} {' '.join(argv)}", flush=True)
        t0 = time.perf_counter()
        code = subprocess.call([sys.executable, str(here / name), *argv])
        print(f"=== {name}: exit {code} after {time.perf_counter() - t0:.1f} s", flush=True)
        if code:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
