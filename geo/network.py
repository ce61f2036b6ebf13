"""Routable road networks built from line layers, OSM extracts or the demo generator.

(Being built under the road-network issue: this module currently holds the
settings contract; ``build_network`` lands with that work.)
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Mode = Literal["walk", "bike", "drive", "bus"]


class NetworkSettings(BaseModel):
    """``[network]`` table of a scenario: travel modes and speeds.

    Attributes
    ----------
    mode_primary, mode_junior
        Mode children of each level travel by (primary children walk).
    detour_factor
        Road distance ≈ straight line × this, used where no roads are given.
    walk_speed_kmh
        Walking speed (children), default 4.5 km/h.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    mode_primary: Mode = "walk"
    mode_junior: Mode = "walk"
    detour_factor: float = Field(1.3, ge=1.0, le=5.0)
    walk_speed_kmh: float = Field(4.5, gt=0, le=10)

    def mode_for(self, level: str) -> Mode:
        """Travel mode of a level."""
        return self.mode_primary if level == "primary" else self.mode_junior

    def network_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for :func:`build_network`."""
        return {}

    def travel_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for :func:`geo.travel.travel_matrix`."""
        return {"detour_factor": self.detour_factor, "walk_speed_kmh": self.walk_speed_kmh}


def build_network(roads: Any, **kwargs: Any) -> Any:
    """Build a routable network from a road layer (lands with the road-network issue)."""
    raise NotImplementedError("road networks are not built yet; run without roads")
