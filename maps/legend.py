"""The map legend: one section per coloured layer, shown while that layer is on."""

from __future__ import annotations

from typing import Any, Literal

import folium
from branca.element import MacroElement
from folium.template import Template

from geo.text import html_text

#: Swatch kinds: a line, a dashed line, a filled square, an outlined square, a dot, or text only.
Swatch = Literal["line", "dash", "fill", "outline", "dot", "ring", "text"]
Item = tuple[Swatch, str, str, float]


def swatch_svg(kind: Swatch, colour: str, size: float) -> str:
    """A 22×14 inline SVG swatch."""
    c = html_text(colour)
    w = max(min(size, 6.0), 1.0)
    body = {
        "line": f'<line x1="1" y1="7" x2="21" y2="7" stroke="{c}" stroke-width="{w}"/>',
        "dash": f'<line x1="1" y1="7" x2="21" y2="7" stroke="{c}" stroke-width="{w}" stroke-dasharray="4 3"/>',
        "fill": f'<rect x="2" y="1" width="18" height="12" fill="{c}" fill-opacity="0.55" stroke="#fff"/>',
        "outline": f'<rect x="3" y="2" width="16" height="10" fill="none" stroke="{c}" stroke-width="{min(w, 3)}"/>',
        "dot": f'<circle cx="11" cy="7" r="{min(w, 6)}" fill="{c}" stroke="#fff"/>',
        "ring": f'<circle cx="11" cy="7" r="{min(w, 5)}" fill="#fff" stroke="{c}" stroke-width="2.5"/>',
        "text": "",
    }[kind]
    return f'<svg width="22" height="14" viewBox="0 0 22 14" aria-hidden="true">{body}</svg>'


class Legend(MacroElement):
    """A legend box (bottom left) with a section per layer, hidden while its layer is off.

    Sections are matched to layers by the layer's name in the layer control;
    the element listens to ``overlayadd``/``overlayremove``.
    """

    _template = Template(
        """
{% macro header(this, kwargs) %}
<style>
.sp-legend { position: absolute; z-index: 1000; left: 10px; bottom: 48px; max-width: 270px; max-height: 55%;
  overflow-y: auto; background: rgba(255,255,255,0.94); padding: 6px 10px; border-radius: 5px;
  box-shadow: 0 1px 5px rgba(0,0,0,0.35); font: 11.5px/1.3 "Microsoft YaHei","PingFang SC","Noto Sans CJK SC",sans-serif; }
.sp-legend h4 { margin: 2px 0 4px; font-size: 13px; cursor: pointer; }
.sp-legend h4::after { content: " ▾"; } .sp-legend.sp-folded h4::after { content: " ▸"; }
.sp-legend.sp-folded .sp-sec { display: none !important; }
.sp-legend .sp-sec b { display: block; margin-top: 4px; }
.sp-legend .sp-row { display: flex; align-items: center; gap: 6px; }
</style>
{% endmacro %}
{% macro html(this, kwargs) %}
<div class="sp-legend" id="{{ this.get_name() }}"><h4>{{ this.title }}</h4>{{ this.body }}</div>
{% endmacro %}
{% macro script(this, kwargs) %}
(function () {
  var box = document.getElementById({{ this.get_name()|tojson }});
  var map = {{ this._parent.get_name() }};
  function toggle(name, on) {
    box.querySelectorAll('.sp-sec').forEach(function (el) {
      if (el.getAttribute('data-layer') === name) { el.style.display = on ? '' : 'none'; }
    });
  }
  map.on('overlayadd', function (e) { toggle(e.name, true); });
  map.on('overlayremove', function (e) { toggle(e.name, false); });
  L.DomEvent.disableScrollPropagation(box);
  L.DomEvent.disableClickPropagation(box);
  box.querySelector('h4').addEventListener('click', function () { box.classList.toggle('sp-folded'); });
})();
{% endmacro %}
"""
    )

    def __init__(self, title: str) -> None:
        super().__init__()
        self._name = "Legend"
        self.title = html_text(title)
        self.sections: list[tuple[str, list[Item]]] = []

    def section(self, layer: str, items: list[Item]) -> None:
        """Add (or replace) the section of layer ``layer``."""
        self.sections = [s for s in self.sections if s[0] != layer] + [(layer, list(items))]

    @property
    def body(self) -> str:
        """The sections' HTML; a section starts hidden when its layer starts hidden."""
        shown = {}
        parent = self._parent
        if parent is not None:
            for child in parent._children.values():
                if isinstance(child, folium.FeatureGroup):
                    shown[child.layer_name] = bool(child.show)
        parts = []
        for layer, items in self.sections:
            style = "" if shown.get(layer, True) else ' style="display:none"'
            rows = "".join(
                f'<div class="sp-row">{swatch_svg(kind, colour, size) if kind != "text" else ""}<span>{html_text(text)}</span></div>'
                for kind, colour, text, size in items
            )
            parts.append(f'<div class="sp-sec" data-layer="{html_text(layer)}"{style}><b>{html_text(layer)}</b>{rows}</div>')
        return "".join(parts)

    def render(self, **kwargs: Any) -> None:  # type: ignore[override]  # as MacroElement.render: adds to the figure, returns nothing
        """Render unless empty (a map with no coloured layer has no legend)."""
        if self.sections:
            super().render(**kwargs)


def legend_of(m: folium.Map, *, title: str = "图例 Legend") -> Legend:
    """The map's legend, created on first use."""
    existing = m._children.get("sp_legend")
    if isinstance(existing, Legend):
        return existing
    legend = Legend(title)
    m.add_child(legend, name="sp_legend")
    return legend


class MetricScale(MacroElement):
    """A scale bar in metres only (planners in China do not read feet)."""

    _template = Template(
        """
{% macro script(this, kwargs) %}
L.control.scale({imperial: false, maxWidth: 150}).addTo({{ this._parent.get_name() }});
{% endmacro %}
"""
    )

    def __init__(self) -> None:
        super().__init__()
        self._name = "MetricScale"
