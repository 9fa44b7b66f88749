"""Whether a time-bound standing (an authorisation, an emergency window, a grant) is
open at the request's time. One rule, shared by the policy's modules; decides nothing
else.
"""

from __future__ import annotations


def is_open(until_us: int | None, now_us: int | None) -> bool:
    """Whether a standing that ends at `until_us` is open at `now_us`; an unknown time
    (None) opens none."""
    return until_us is not None and now_us is not None and now_us < until_us
