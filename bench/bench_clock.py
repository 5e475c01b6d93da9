"""Throughput of the SLA clock: due-time computations per second on one core.

Run as ``.venv/bin/python bench/bench_clock.py``. Dispatch instants are random (seeded) across 2026,
so the day cache is warm after the first pass, as it is in a long-running worker.
Targets: >= 100,000 minute-target computations per second, and a 10-day target costing at most
three times a 30-minute one.
"""

from __future__ import annotations

import platform
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sla.clock import Calendar, due_after_days, due_after_minutes  # noqa: E402

N = 200_000
REPEATS = 5


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def dispatches(n: int) -> list[datetime]:
    rng = random.Random(2026)
    year_start = datetime(2026, 1, 1, tzinfo=UTC)
    seconds = 365 * 86400
    return [year_start + timedelta(seconds=rng.randrange(seconds)) for _ in range(n)]


def rate(fn, cal: Calendar, starts: list[datetime], amount: float) -> float:
    """Best of REPEATS passes, in computations per second."""
    best = float("inf")
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        for start in starts:
            fn(cal, start, amount)
        best = min(best, time.perf_counter() - t0)
    return len(starts) / best


def main() -> None:
    print(f"Python {sys.version.split()[0]} ({platform.python_implementation()}) on {cpu_model()}")
    print(f"{N:,} random dispatch instants across 2026, best of {REPEATS} passes\n")
    starts = dispatches(N)
    standard = Calendar.standard()
    round_the_clock = Calendar.round_the_clock()
    cases = [
        ("Emergency  10 min round the clock", due_after_minutes, round_the_clock, 10),
        ("Critical   30 min standard", due_after_minutes, standard, 30),
        ("Major      60 min standard", due_after_minutes, standard, 60),
        ("Moderate  240 min standard", due_after_minutes, standard, 240),
        ("10 business days (4800 min) standard", due_after_minutes, standard, 4800),
        ("Minor       1 calendar day standard", due_after_days, standard, 1),
        ("           10 calendar days standard", due_after_days, standard, 10),
    ]
    results = {}
    for label, fn, cal, amount in cases:
        fn(cal, starts[0], amount)  # warm the cache for the year before timing
        results[label] = rate(fn, cal, starts, amount)
        print(f"{label:<40} {results[label]:>12,.0f} /s")
    base = results["Critical   30 min standard"]
    print()
    for label in ("10 business days (4800 min) standard", "           10 calendar days standard"):
        print(f"cost ratio {label.strip()} / 30 min: {base / results[label]:.2f}x")


if __name__ == "__main__":
    main()
