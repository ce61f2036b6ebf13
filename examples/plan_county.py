"""Example scenario script: plan a county, compare two zoning options, write the result.

Run after ``make demo`` (which writes the demo county's inputs to
``out/demo/inputs/``)::

    .venv/bin/python examples/plan_county.py out/demo/inputs/scenario.toml out/example

Any scenario file works the same way.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from planning.app.session import Session


def main(scenario_path: str, out_dir: str) -> None:
    """Compare zoning with and without a cap on students moved, then write the capped plan."""
    session = Session.from_file(scenario_path)
    print(f"{len(session.inputs.schools)} schools, {len(session.inputs.blocks)} blocks")

    rows = []
    for cap in (None, 1500):
        out = session.run("zones", levels=["primary"], max_moved=cap)
        plan = out.files["primary/metrics.json"]["plan"]
        rows.append(
            {
                "max_moved": cap,
                "mean_travel_s": plan["travel"]["mean_travel_s"],
                "moved": plan["moved_students"],
                "gap": plan["gap"],
            }
        )
    print(pd.DataFrame(rows).to_string(index=False))

    # The last run (cap 1500) is kept; later stages see it, and write() saves everything.
    session.run("balance")
    written = session.write(Path(out_dir))
    print(f"wrote {len(written)} files to {out_dir}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: plan_county.py SCENARIO.toml OUT_DIR")
    main(sys.argv[1], sys.argv[2])
