"""Memory tracing for the soak's processes (`python -m benchmarks.soak --trace DIR`): the soak
puts this directory on the PYTHONPATH of every process it starts, so Python imports this
module at start-up. With $NEWS_SEARCH_SOAK_TRACE set to a directory, it starts tracemalloc and
writes a snapshot of the live allocations there every $NEWS_SEARCH_SOAK_TRACE_EVERY seconds
(default 60), as `<pid>-<seconds>.snap`, keeping $NEWS_SEARCH_SOAK_TRACE_FRAMES frames per
allocation (default 1: the diff is by source line, and more frames cost more);
`python -m benchmarks.soak --trace-diff DIR` compares each process's snapshots. Only processes
whose command line has one of the comma-separated words of $NEWS_SEARCH_SOAK_TRACE_ONLY are
traced (default: the serve workers and the index-worker; tracing slows a process down several
times). Without the variable it does nothing."""

import os
import sys

_folder = os.environ.get("NEWS_SEARCH_SOAK_TRACE")
_only = os.environ.get("NEWS_SEARCH_SOAK_TRACE_ONLY", "search_service.serving,index-worker")
if _folder and any(word in getattr(sys, "orig_argv", ()) for word in _only.split(",")):
    import threading
    import time
    import tracemalloc

    tracemalloc.start(int(os.environ.get("NEWS_SEARCH_SOAK_TRACE_FRAMES", "1")))
    _every = float(os.environ.get("NEWS_SEARCH_SOAK_TRACE_EVERY", "60"))
    _began = time.monotonic()

    def _dump() -> None:
        while True:
            time.sleep(_every)
            seconds = int(time.monotonic() - _began)
            # unfiltered: filtering walks every trace in Python, holding the GIL for minutes
            # in a large process; --trace-diff leaves tracemalloc's own lines out instead
            snapshot = tracemalloc.take_snapshot()
            path = os.path.join(_folder, f"{os.getpid()}-{seconds:06d}.snap")
            snapshot.dump(path + ".part")
            os.replace(path + ".part", path)

    threading.Thread(target=_dump, name="soak-trace", daemon=True).start()
