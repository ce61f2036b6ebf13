"""Offline assets: Leaflet's script and style inlined from an installed package.

folium's default page loads Leaflet, jQuery, Bootstrap, Font Awesome and the
awesome-markers plugin from five CDNs, so on an intranet it is a blank page.
Our maps use only Leaflet's core (vector layers, circle markers, tooltips, the
layer control, our own legend), so :func:`make_offline` removes every external
link folium would emit and inlines Leaflet 1.9.3 from the ``xstatic-leaflet``
package (the version folium 0.20 targets), with the images its stylesheet
refers to turned into ``data:`` URIs. :func:`external_references` finds any
reference to another host left in a page; the renderer refuses to return a page
that has one.
"""

from __future__ import annotations

import base64
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import folium
from branca.element import Element, Figure

#: Leaflet version inlined (what folium 0.20 loads from its CDN).
LEAFLET_VERSION = "1.9.3"

_SOURCE_MAP = re.compile(r"//# sourceMappingURL=\S+")
_CSS_URL = re.compile(r"url\((['\"]?)(images/[A-Za-z0-9_.-]+\.png)\1\)")
# A reference that makes the browser fetch something: src/href attributes,
# CSS url(...) and @import, with an explicit scheme or protocol-relative.
_EXTERNAL = re.compile(
    r"""(?:\b(?:src|href)\s*=\s*["']?|url\(\s*["']?|@import\s+["']?)((?:https?:)?//[^"')\s>]+)""",
    re.IGNORECASE,
)


def _leaflet_dir() -> Path:
    try:
        from xstatic.pkg import leaflet  # noqa: PLC0415
    except ImportError as err:  # pragma: no cover - packaging error
        msg = "xstatic-leaflet is not installed: pip install 'xstatic-leaflet==1.9.3.0'"
        raise RuntimeError(msg) from err
    if leaflet.VERSION != LEAFLET_VERSION:  # pragma: no cover - packaging error
        msg = f"xstatic-leaflet {leaflet.VERSION} installed, {LEAFLET_VERSION} expected"
        raise RuntimeError(msg)
    return Path(leaflet.BASE_DIR)


@lru_cache(maxsize=1)
def leaflet_js() -> str:
    """Leaflet's minified script, without its source-map comment."""
    text = (_leaflet_dir() / "leaflet.js").read_text(encoding="utf-8")
    return _SOURCE_MAP.sub("", text).replace("</script", "<\\/script")


@lru_cache(maxsize=1)
def leaflet_css() -> str:
    """Leaflet's stylesheet with its images inlined as ``data:`` URIs."""
    base = _leaflet_dir()
    text = (base / "leaflet.css").read_text(encoding="utf-8")

    def inline(match: re.Match[str]) -> str:
        data = base64.b64encode((base / match.group(2)).read_bytes()).decode("ascii")
        return f"url(data:image/png;base64,{data})"

    return _CSS_URL.sub(inline, text)


class RawHtml(Element):
    """A piece of HTML inserted verbatim (not run through Jinja, unlike ``Element``)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self._name = "RawHtml"
        self._text = text

    def render(self, **kwargs: Any) -> str:
        """The text as given."""
        return self._text


def _walk(element: Element) -> list[Element]:
    out = [element]
    for child in element._children.values():
        out += _walk(child)
    return out


def make_offline(m: folium.Map) -> folium.Map:
    """Drop every CDN link folium would emit and inline Leaflet instead.

    Call it once the map holds all its layers (links are per element). Plugins
    needing other scripts are not supported: the renderer uses Leaflet's core only.

    Parameters
    ----------
    m
        The map; it must already sit in a :class:`branca.element.Figure`.

    Returns
    -------
    folium.Map
        The same map.
    """
    for element in _walk(m):
        if hasattr(element, "default_js"):
            element.default_js = []
            element.default_css = []  # type: ignore[attr-defined]  # elements with default_js (folium's JSCSSMixin) have it too
    figure = m.get_root()
    if not isinstance(figure, Figure):  # pragma: no cover - programming error
        msg = "make_offline needs a map inside a Figure"
        raise TypeError(msg)
    figure.header.add_child(RawHtml(f"<style>\n{leaflet_css()}\n</style>"), name="leaflet_css_inline")
    figure.header.add_child(RawHtml(f"<script>\n{leaflet_js()}\n</script>"), name="leaflet_js_inline")
    return m


def external_references(html: str) -> list[str]:
    """URLs of other hosts a page would fetch when opened (scripts, styles, images, imports).

    Plain links (``<a href=...>``) are not fetched and are therefore ignored;
    ``data:`` URIs and relative paths are local.

    Examples
    --------
    >>> external_references('<script src="https://cdn.example/x.js"></script><a href="b.html">b</a>')
    ['https://cdn.example/x.js']
    """
    found = []
    for match in _EXTERNAL.finditer(html):
        start = html.rfind("<", 0, match.start())
        tag = html[start : start + 3].lower()
        if tag.startswith("<a ") or tag == "<a>":
            continue
        found.append(match.group(1))
    return sorted(set(found))


def fix_ids(root: Element, *, prefix: str = "") -> None:
    """Replace branca's random element ids by counter-based ones, in tree order.

    branca gives every element a ``uuid4`` id that ends up in variable and
    ``div`` names, so two renders of the same map differ; after this they do not.
    """
    for k, element in enumerate(_walk(root)):
        element._id = f"{prefix}{k:06d}"
