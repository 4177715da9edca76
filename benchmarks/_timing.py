"""Interleaved timing: rounds that alternate the candidates, median of the rounds.

A candidate is prepared outside the timing (fresh inputs, caches set up as the case
needs) and answers a zero-argument *batch*; one batch is timed with
``time.perf_counter_ns`` with the garbage collector off, and divided by its number of
calls. In every round each candidate runs one batch, in an order that rotates from
round to round, so drift (frequency scaling, a noisy neighbour) hits all of them
alike; every figure is then the median over the rounds of the candidate's time divided
by the baseline's time *in the same round*.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

__all__ = ["Candidate", "Measured", "measure"]


@dataclass
class Candidate:
    """One thing to time: ``prepare()`` (untimed) answers the batch to time."""

    name: str
    prepare: Callable[[], Callable[[], object]]
    calls: int
    #: Shown in the report next to the name.
    note: str = ""


@dataclass
class Measured:
    """Per-round ns per call, and the ratios to the baseline of the same round."""

    name: str
    ns: list[float] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)
    note: str = ""

    @property
    def median_ns(self) -> float:
        return statistics.median(self.ns)

    @property
    def ratio(self) -> float:
        """The median of the per-round ratios to the baseline."""
        return statistics.median(self.ratios)

    @property
    def spread(self) -> tuple[float, float]:
        """The interquartile range of the ratios."""
        if len(self.ratios) < 4:
            return (min(self.ratios), max(self.ratios))
        q = statistics.quantiles(self.ratios, n=4)
        return (q[0], q[2])


def measure(
    baseline: Candidate, candidates: Sequence[Candidate], rounds: int
) -> dict[str, Measured]:
    """Run ``rounds`` interleaved rounds; answer the measurements by name."""
    everyone = [baseline, *candidates]
    results = {c.name: Measured(c.name, note=c.note) for c in everyone}
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        for r in range(rounds):
            shift = r % len(everyone)
            order = everyone[shift:] + everyone[:shift]
            if r % 2:
                order.reverse()
            times: dict[str, float] = {}
            for candidate in order:
                batch = candidate.prepare()
                start = time.perf_counter_ns()
                batch()
                elapsed = time.perf_counter_ns() - start
                times[candidate.name] = elapsed / candidate.calls
            base = times[baseline.name]
            for name, ns in times.items():
                results[name].ns.append(ns)
                results[name].ratios.append(ns / base)
            # Between rounds, untimed: whatever the batches left behind.
            gc.collect()
    finally:
        if was_enabled:
            gc.enable()
    return results
