"""Memory tracing for the soak's processes (`python -m benchmarks.soak --trace DIR`): the soak
puts this directory on the PYTHONPATH of every process it starts, so Python imports this
module at start-up. With $NEWS_SEARCH_SOAK_TRACE set to a directory, it starts tracemalloc and
writes a snapshot of the live allocations there every $NEWS_SEARCH_SOAK_TRACE_EVERY seconds
(default 60), as `<pid>-<seconds>.snap`; `python -m benchmarks.soak --trace-diff DIR` compares
each process's snapshots. Without the variable it does nothing."""

import os

_folder = os.environ.get("NEWS_SEARCH_SOAK_TRACE")
if _folder:
    import threading
    import time
    import tracemalloc

    tracemalloc.start(12)
    _every = float(os.environ.get("NEWS_SEARCH_SOAK_TRACE_EVERY", "60"))
    _began = time.monotonic()

    def _dump() -> None:
        while True:
            time.sleep(_every)
            seconds = int(time.monotonic() - _began)
            snapshot = tracemalloc.take_snapshot().filter_traces(
                (tracemalloc.Filter(False, tracemalloc.__file__),))
            path = os.path.join(_folder, f"{os.getpid()}-{seconds:06d}.snap")
            snapshot.dump(path + ".part")
            os.replace(path + ".part", path)

    threading.Thread(target=_dump, name="soak-trace", daemon=True).start()
