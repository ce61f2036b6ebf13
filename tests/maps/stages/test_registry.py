"""The registry of stage renderers: order, layers, and the texts each renderer merges in."""

from __future__ import annotations

import importlib

import pytest

from maps import labels, tables
from maps.render import ALL_LAYERS, STAGE_MAPS
from maps.stages import LAYERS, STAGES
from planning.app.stages import STAGES as PLANNING_STAGES


def test_stages_in_report_order() -> None:
    assert [s.stage for s in STAGES] == ["zones", "balance", "communities", "rotation", "improve", "projection", "layout", "network"]


def test_layers_in_draw_order() -> None:
    assert [layer.key for layer in LAYERS] == [
        "zones", "current_zones", "isochrones", "multischool", "roads", "boundaries", "blocks", "groups", "rotation", "improve", "layout",
        "schools",
    ]
    assert ALL_LAYERS == ("zones", "current_zones", "isochrones", "multischool", "blocks", "groups", "rotation", "improve", "layout", "schools")


def test_stage_maps_and_their_layers() -> None:
    assert dict(STAGE_MAPS) == {
        "zones": ("zones", "current_zones", "isochrones", "multischool", "blocks", "schools"),
        "balance": ("schools",),
        "communities": ("groups", "schools"),
        "rotation": ("rotation", "schools"),
        "improve": ("improve", "schools"),
        "layout": ("layout",),
    }
    assert all(set(keys) <= set(ALL_LAYERS) for keys in STAGE_MAPS.values())


def test_stage_labels_and_figure_names_are_merged() -> None:
    for renderer in STAGES:
        assert all(labels.TEXT[k] == v for k, v in renderer.labels.items()), renderer.stage
        assert all(tables.FIGURE_NAMES[k] == v for k, v in renderer.figure_names.items()), renderer.stage
    assert labels.t("zones", "zh", level="小学") == "小学片区"
    assert labels.t("rotation_legend", "en").startswith("Arcs run from sending")
    assert tables.figure_name("travel.max_travel_s", "zh") == "到校出行 · 最长允许到校时间"


def test_a_label_defined_twice_differently_is_refused() -> None:
    table = {"zones": ("片区", "zones")}
    labels.merge_texts(table, {"zones": ("片区", "zones"), "roads": ("道路", "Roads")}, owner="same texts", table_name="labels")
    assert table == {"zones": ("片区", "zones"), "roads": ("道路", "Roads")}
    with pytest.raises(ValueError, match=r"maps\.stages\.new redefines labels zones: give them another key"):
        labels.merge_texts(table, {"zones": ("学区", "districts")}, owner="maps.stages.new", table_name="labels")
    assert table["zones"] == ("片区", "zones")
def test_every_file_a_renderer_reads_is_declared_by_its_stage() -> None:
    """The renderers' file constants and the stages' declarations (``Stage.files``) cannot drift apart."""
    suffixes = (".csv", ".gpkg", ".json")
    for renderer in STAGES:
        module = importlib.import_module(f"maps.stages.{renderer.stage}")
        stage = PLANNING_STAGES[renderer.stage]
        names = [v for k, v in vars(module).items() if k.isupper() and isinstance(v, str) and v.endswith(suffixes)]
        assert names, f"maps.stages.{renderer.stage} reads no declared file?"
        for name in names:
            for level in ("primary", "junior"):
                rel = name.format(level=level)
                assert stage.declares(rel), f"maps.stages.{renderer.stage} reads {rel!r}, which stage {stage.name!r} does not declare"
