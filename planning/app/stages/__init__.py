"""Registry of runnable stages, in run order.

Each module listed in :data:`STAGE_MODULES` defines ``STAGE`` (a
:class:`planning.app.stage.Stage`). Adding a capability means writing its module
and naming it here; the runner and the scenario loader need no change.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import import_module

from planning.app.stage import Stage

#: Stage modules in run order: travel first, zones before communities,
#: balance and communities before rotation (which uses both).
STAGE_MODULES: tuple[str, ...] = ("network", "balance", "zones", "communities", "rotation")


def _load() -> dict[str, Stage]:
    stages: dict[str, Stage] = {}
    for mod in STAGE_MODULES:
        stage = import_module(f"planning.app.stages.{mod}").STAGE
        stages[stage.name] = stage
    return stages


STAGES: Mapping[str, Stage] = _load()
