"""Python's garbage collector, tuned for a long-running server.

A full collection walks every object the process holds (about 180,000 once the web
app, the AMI link and the dialer are loaded) and stops the event loop while it does:
70-107 ms every 50 s or so in ``python -m bench wallboard_fanout``, enough to make one
wallboard picture in fifty late for every supervisor (delivery p99 92-96 ms against the
50 ms allowed). Freezing what start-up built takes it out of every later collection,
and asking for a full collection ten times more rarely makes the rest rarer still: p99
27-30 ms, with no growth in memory over the run (cyclic garbage is still collected).
"""

from __future__ import annotations

import gc

# full collections after this many middle-generation ones (Python's default: 10)
FULL_AFTER = 100


def tune_for_serving() -> None:
    """Call once start-up is done: what exists now is kept for the process's life."""
    gc.collect()
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_AFTER)
