"""The emulator's process-wide collector setting is its own while it runs and is put back when it stops."""

from __future__ import annotations

import gc

from landing_zone.local.runtime import EMULATOR_GC_THRESHOLDS, Emulator


def test_emulator_runs_with_its_collector_thresholds_and_puts_the_callers_back() -> None:
    # GIVEN a process with CPython's default thresholds (the suite sets its own: saved and put back here)
    suite = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    try:
        # WHEN an emulator runs, THEN the collector uses the emulator's young generation
        with Emulator():
            assert gc.get_threshold() == EMULATOR_GC_THRESHOLDS != (700, 10, 10)
        # AND after it stops the caller's thresholds are back
        assert gc.get_threshold() == (700, 10, 10)
    finally:
        gc.set_threshold(*suite)
