"""The network stage in the report: the road network's figures (edges by class, speeds, reach)."""

from __future__ import annotations

from maps.common import ReportParams, StageRenderer, stage_mapping
from maps.tables import figures_table, flatten, heading
from planning.app.stage import RunResult

STAGE = "network"
#: File of the network stage read here, relative to its output folder.
SUMMARY = "summary.json"

HEADING = ("道路网络", "Road network")


def section(run: RunResult, params: ReportParams) -> str:
    """The network's figures, ``""`` without a summary."""
    summary = stage_mapping(run, STAGE, SUMMARY)
    if summary is None:
        return ""
    return heading(STAGE, HEADING, params.language) + figures_table(flatten(summary), params.language)


RENDERER = StageRenderer(stage=STAGE, heading=HEADING, section=section)
