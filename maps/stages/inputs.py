"""The layers every map has, drawn from the inputs: roads, boundaries and schools.

Schools are coloured by the strength classes of the balance stage and name their community from the
communities stage when those ran (the files named in :mod:`maps.stages.balance` and
:mod:`maps.stages.communities`); grey without them.
"""

from __future__ import annotations

import folium

from maps.common import MapContext, MapLayer, stage_frame
from maps.layers import add_boundaries, add_roads, add_schools
from maps.stages import balance, communities


def _draw_roads(m: folium.Map, ctx: MapContext) -> None:
    add_roads(m, ctx.run.inputs.roads, display=ctx.display)


def _draw_boundaries(m: folium.Map, ctx: MapContext) -> None:
    add_boundaries(m, ctx.run.inputs.boundary, display=ctx.display)


def _draw_schools(m: folium.Map, ctx: MapContext) -> None:
    strength = stage_frame(ctx.run, balance.STAGE, balance.SCHOOLS_BALANCE)
    groups = stage_frame(ctx.run, communities.STAGE, communities.GROUPS)
    add_schools(m, ctx.run.inputs.schools, balance=strength, groups=groups, display=ctx.display)


#: Roads and boundaries lie between the zones' fills and the points drawn on top; schools come last.
LAYERS: tuple[MapLayer, ...] = (
    MapLayer("roads", 40, _draw_roads, always=True),
    MapLayer("boundaries", 50, _draw_boundaries, always=True),
    MapLayer("schools", 90, _draw_schools),
)
