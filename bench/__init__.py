"""DBJobQ's benchmark suite: the same workloads on DBJobQ and on other Python database queues.

Run ``python -m bench.run`` (``make bench``) or ``python -m bench.run --quick`` (``make bench-quick``).
"""
