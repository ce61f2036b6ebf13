"""The stage renderers, one module per stage, and the layers drawn from the inputs.

Each module declares in one :class:`~maps.common.StageRenderer` what its stage shows: map layers (with
their draw order), the layers of its own map, its report section, Excel sheets, navigation entry and
texts. :data:`STAGES` lists them in the order the report shows them; :mod:`maps.render` and
:mod:`maps.report` only loop over it. Adding a stage to the maps and the report means adding one module
here and one entry to :data:`STAGES`.

Importing this package merges every renderer's map labels into :data:`maps.labels.TEXT` and its figure
names into :data:`maps.tables.FIGURE_NAMES` (a key defined differently twice is an error).
"""

from __future__ import annotations

from maps.common import MapLayer, StageRenderer
from maps.labels import add_labels
from maps.stages import balance, communities, improve, inputs, layout, network, projection, rotation, zones
from maps.tables import add_figure_names

#: Stage renderers in report order (sections, navigation, Excel sheets, per-stage maps).
STAGES: tuple[StageRenderer, ...] = (
    zones.RENDERER, balance.RENDERER, communities.RENDERER, rotation.RENDERER, improve.RENDERER, projection.RENDERER, layout.RENDERER,
    network.RENDERER,
)

#: Every map layer, in draw order.
LAYERS: tuple[MapLayer, ...] = tuple(sorted((*inputs.LAYERS, *(layer for s in STAGES for layer in s.layers)), key=lambda layer: layer.order))

_orders = [layer.order for layer in LAYERS]
_keys = [layer.key for layer in LAYERS]
if len(set(_orders)) != len(_orders) or len(set(_keys)) != len(_keys):  # pragma: no cover - a renderer module's slip
    _msg = f"map layers need distinct keys and draw orders: {list(zip(_keys, _orders))}"
    raise ValueError(_msg)

for _renderer in STAGES:
    add_labels(_renderer.labels, owner=f"maps.stages.{_renderer.stage}")
    add_figure_names(_renderer.figure_names, owner=f"maps.stages.{_renderer.stage}")

__all__ = ["LAYERS", "STAGES"]
