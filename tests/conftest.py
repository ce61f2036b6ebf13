"""Shared test settings.

Hypothesis runs derandomized by default, so CI sees the same examples every
run and a failure reproduces; ``HYPOTHESIS_PROFILE=thorough`` draws random
examples (500 where a test does not set its own ``max_examples``) to hunt for bugs.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("thorough", max_examples=500, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
