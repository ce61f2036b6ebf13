"""Where the map's boxes go: the title, the foldable layer list, and a first view that no box covers.

A meeting shows the map on whatever screen is at hand (a 1000×700 projector window as often as a
large monitor), so the first view is fitted in the browser, once the boxes exist and their sizes are
known: each box in a corner (zoom buttons, layer list, legend, scale bar, title) is kept clear of the
county by padding the side of the map it sits on, choosing for each box the side (beside it or
above/below it) that leaves the county largest. When even the best choice would show the county at less
than half its unobstructed size, the layer list and the legend are folded to their headings (a click on
a heading unfolds it) and the view is fitted again.
"""

from __future__ import annotations

from typing import Any

from branca.element import MacroElement
from folium.template import Template

from geo.text import html_text

#: Gap kept between a box and the county, pixels.
MARGIN_PX = 10
#: Fold the layer list and legend when the boxes would cost more than this many zoom levels (1 = half size).
FOLD_AFTER_ZOOM_LOSS = 1.0


class MapTitle(MacroElement):
    """The map's title, a box at the top centre (escaped text)."""

    _template = Template(
        """
{% macro header(this, kwargs) %}
<style>
.sp-title { position: absolute; z-index: 1000; top: 10px; left: 50%; transform: translateX(-50%);
  max-width: 46%; padding: 4px 14px; border-radius: 5px; background: rgba(255,255,255,0.94);
  box-shadow: 0 1px 5px rgba(0,0,0,0.35); text-align: center; pointer-events: none;
  font: bold 16px/1.35 "Microsoft YaHei","PingFang SC","Noto Sans CJK SC",sans-serif; color: #222; }
</style>
{% endmacro %}
{% macro html(this, kwargs) %}
<div class="sp-title" id="{{ this.get_name() }}">{{ this.text }}</div>
{% endmacro %}
"""
    )

    def __init__(self, text: str) -> None:
        super().__init__()
        self._name = "MapTitle"
        self.text = html_text(text)


class FitView(MacroElement):
    """Fit the first view to ``bounds`` clear of every box; make the layer list foldable.

    Add it after the :class:`folium.LayerControl` (its script uses the control's variable) and after
    every other box, so that they exist when it measures them.

    Parameters
    ----------
    bounds
        ``[[south, west], [north, east]]`` of the county as drawn.
    control
        The map's layer control.
    layers_title
        Heading of the layer list (``图层``), a click on it folds the list.
    """

    _template = Template(
        """
{% macro header(this, kwargs) %}
<style>
.leaflet-control-layers { font: 13px/1.4 "Microsoft YaHei","PingFang SC","Noto Sans CJK SC",sans-serif; }
.leaflet-control-layers-expanded { padding: 5px 9px 5px 7px; }
.leaflet-control-layers label { margin: 1px 0; }
.leaflet-control-layers .sp-layers-head { font-weight: bold; cursor: pointer; margin: 0 0 3px; }
.leaflet-control-layers .sp-layers-head::after { content: " ▾"; }
.leaflet-control-layers.sp-folded .sp-layers-head { margin: 0; }
.leaflet-control-layers.sp-folded .sp-layers-head::after { content: " ▸"; }
.leaflet-control-layers.sp-folded .leaflet-control-layers-list { display: none; }
</style>
{% endmacro %}
{% macro script(this, kwargs) %}
(function () {
  var map = {{ this._parent.get_name() }};
  var control = {{ this.control.get_name() }};
  var bounds = L.latLngBounds({{ this.bounds|tojson }});
  var M = {{ this.margin }};
  var box = map.getContainer();
  var layers = control.getContainer();
  var head = L.DomUtil.create('div', 'sp-layers-head');
  head.textContent = {{ this.layers_title|tojson }};
  layers.insertBefore(head, layers.firstChild);
  head.addEventListener('click', function () { layers.classList.toggle('sp-folded'); });
  var legend = document.querySelector('.sp-legend');
  var selectors = ['.leaflet-control-zoom', '.leaflet-control-layers', '.sp-legend', '.leaflet-control-scale', '.sp-title'];
  function rects() {
    var c = box.getBoundingClientRect(), out = [];
    selectors.forEach(function (sel) {
      document.querySelectorAll(sel).forEach(function (el) {
        var r = el.getBoundingClientRect();
        if (r.width > 0 && r.height > 0) { out.push({l: r.left - c.left, t: r.top - c.top, r: r.right - c.left, b: r.bottom - c.top}); }
      });
    });
    return out;
  }
  function placeTitle() {  // a narrow window: the title moves left, beside the zoom buttons, clear of the layer list
    var title = document.querySelector('.sp-title'), zoom = box.querySelector('.leaflet-control-zoom');
    if (!title || !zoom) { return; }
    var t = title.getBoundingClientRect(), l = layers.getBoundingClientRect();
    if (t.right + M <= l.left) { return; }
    var left = zoom.getBoundingClientRect().right - box.getBoundingClientRect().left + M;
    title.style.left = left + 'px';
    title.style.transform = 'none';
    title.style.maxWidth = Math.max(l.left - box.getBoundingClientRect().left - left - M, 80) + 'px';
  }
  function choices(r, W, H) {  // the paddings [left, top, right, bottom] that each keep the county clear of box r
    var out = [];
    if (r.l < W / 2) { out.push([r.r + M, 0, 0, 0]); }
    if (r.r > W / 2) { out.push([0, 0, W - r.l + M, 0]); }
    if (r.t < H / 2) { out.push([0, r.b + M, 0, 0]); }
    if (r.b > H / 2) { out.push([0, 0, 0, H - r.t + M]); }
    return out;
  }
  function best() {
    var W = box.clientWidth, H = box.clientHeight, found = null;
    var options = rects().map(function (r) { return choices(r, W, H); });
    function visit(k, pad) {
      if (k === options.length) {
        var px = pad[0] + pad[2], py = pad[1] + pad[3];
        var z = px < W - M && py < H - M ? map.getBoundsZoom(bounds, false, L.point(px, py)) : -Infinity;
        if (!isFinite(z)) { z = -Infinity; }
        if (found === null || z > found.zoom) { found = {zoom: z, pad: pad}; }
        return;
      }
      if (!options[k].length) { visit(k + 1, pad); return; }
      options[k].forEach(function (p) {
        visit(k + 1, [Math.max(pad[0], p[0]), Math.max(pad[1], p[1]), Math.max(pad[2], p[2]), Math.max(pad[3], p[3])]);
      });
    }
    visit(0, [M, M, M, M]);
    return found;
  }
  placeTitle();
  var free = map.getBoundsZoom(bounds, false, L.point(2 * M, 2 * M));
  var fit = best();
  if (fit.zoom < free - {{ this.fold_after }}) {
    layers.classList.add('sp-folded');
    if (legend) { legend.classList.add('sp-folded'); }
    fit = best();
  }
  if (fit.zoom === -Infinity) { fit.pad = [M, M, M, M]; }  // a window too small for any clear view: fit it anyway
  box.setAttribute('data-sp-fit', JSON.stringify(fit));  // what was chosen, for tests and for a curious reader
  map.fitBounds(bounds, {paddingTopLeft: [fit.pad[0], fit.pad[1]], paddingBottomRight: [fit.pad[2], fit.pad[3]], animate: false});
})();
{% endmacro %}
"""
    )

    def __init__(self, bounds: list[list[float]], *, control: Any, layers_title: str) -> None:
        super().__init__()
        self._name = "FitView"
        self.bounds = bounds
        self.control = control
        self.layers_title = layers_title
        self.margin = MARGIN_PX
        self.fold_after = FOLD_AFTER_ZOOM_LOSS
