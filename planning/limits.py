"""How long and how a solver searches: one limits object shared by every model.

The application layer fills it from the scenario's ``[solver]`` table and seed;
a model called directly uses the defaults here (or its own documented default
instance). Time limits are deterministic work limits (CP-SAT's deterministic
time, ≈ seconds on a typical core), so the same inputs give the same plan on
any machine; a wall-clock limit exists for benchmarks only.
"""

from __future__ import annotations

from typing import Final

from pydantic import BaseModel, ConfigDict, Field

#: Default work budget of one optimization model, in deterministic seconds (``[solver] time_limit_s``).
DEFAULT_TIME_LIMIT_S: Final = 30.0
#: Default CP-SAT workers (``[solver] workers``): the 2 cores of the machines the project runs on.
DEFAULT_WORKERS: Final = 2


class SolveLimits(BaseModel):
    """Limits of one solve.

    Attributes
    ----------
    time_limit_s
        Work budget in deterministic seconds (CP-SAT's machine-independent time).
    workers
        Solver threads; a model that must stay deterministic may use fewer (it says so).
    seed
        Random seed of the solver.
    wall_limit_s
        Wall-clock limit; results then depend on machine speed, so for benchmarks only.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    time_limit_s: float = Field(DEFAULT_TIME_LIMIT_S, gt=0)
    workers: int = Field(DEFAULT_WORKERS, ge=1, le=64)
    seed: int = Field(0, ge=0, lt=2**31)
    wall_limit_s: float | None = Field(None, gt=0)


__all__ = ["DEFAULT_TIME_LIMIT_S", "DEFAULT_WORKERS", "SolveLimits"]
