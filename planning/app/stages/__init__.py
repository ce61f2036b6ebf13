"""Registry of runnable stages, in run order.

Each module listed in :data:`STAGE_MODULES` defines ``STAGE`` (a
:class:`planning.app.stage.Stage` declaring its parameters, result type, files,
command and needs). Adding a capability means writing its module and naming it
here; the scenario loader, the session, the runner and the command line read
everything else from the declaration.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import import_module
from types import NoneType

from planning.app.stage import Stage

#: Stage modules in run order: travel first, zones before communities,
#: balance and communities before rotation (which uses both), rotation before improve (its moves count
#: as given), projection before layout.
STAGE_MODULES: tuple[str, ...] = ("network", "balance", "zones", "communities", "rotation", "improve", "projection", "layout")


def _load() -> dict[str, Stage]:
    stages: dict[str, Stage] = {}
    for mod in STAGE_MODULES:
        stage = import_module(f"planning.app.stages.{mod}").STAGE
        stages[stage.name] = stage
    results = [s.result_type for s in stages.values() if s.result_type is not NoneType]
    commands = [s.command.name for s in stages.values() if s.command is not None]
    if len(set(results)) < len(results) or len(set(commands)) < len(commands):
        msg = "two stages declare the same result type or command; results are looked up by type, commands by name"
        raise TypeError(msg)
    return stages


STAGES: Mapping[str, Stage] = _load()
