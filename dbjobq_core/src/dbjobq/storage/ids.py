"""Job ids and claim tokens.

A job id is a UUID version 7 (RFC 9562): 48 bits of Unix milliseconds, then a 12-bit counter, then
62 fresh random bits. Ids therefore sort by creation time to the millisecond, which keeps B-tree
inserts local and makes ``id`` a fair last tie-breaker in the claim order; the counter keeps the ids
one process makes in creation order within a millisecond; and the random tail means the next id
cannot be guessed from the last one. Ids made by different processes in the same millisecond are in
no particular order. An id is an address, not a secret: check who may see a job before showing it.
"""

from __future__ import annotations

import os
import threading
import time
import uuid

#: The counter starts each millisecond below 2,048 (a random start), leaving room for 2,048 more ids.
_COUNTER_START_MASK = (1 << 11) - 1
_COUNTER_MAX = (1 << 12) - 1

_lock = threading.Lock()
_last_millis = 0
_counter = 0


def new_job_id() -> str:
    """A new time-ordered job id (UUIDv7 text with a per-millisecond counter and a random tail)."""
    global _last_millis, _counter
    millis = time.time_ns() // 1_000_000
    tail = int.from_bytes(os.urandom(8), "big") >> 2  # 62 bits from the OS's CSPRNG
    with _lock:
        if millis > _last_millis:
            _last_millis, _counter = millis, _counter_start()
        elif _counter < _COUNTER_MAX:
            _counter += 1  # same millisecond (or the clock stepped back): keep this process's order
        else:
            # 2,048+ ids in one millisecond: borrow the next millisecond rather than lose the order.
            _last_millis, _counter = _last_millis + 1, _counter_start()
        millis, counter = _last_millis, _counter
    value = (
        (millis & ((1 << 48) - 1)) << 80
        | 0x7 << 76  # version 7
        | counter << 64
        | 0x2 << 62  # RFC 9562 variant
        | tail
    )
    text = f"{value:032x}"  # the canonical 8-4-4-4-12 form, as str(uuid.UUID(int=value)) writes it
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def _counter_start() -> int:
    return int.from_bytes(os.urandom(2), "big") & _COUNTER_START_MASK


def new_token() -> str:
    """A random claim token (fencing: an outcome is recorded only while the job holds it)."""
    return uuid.uuid4().hex
