"""Keyed work queue semantics, including under concurrent workers."""

from __future__ import annotations

import threading
import time

from virtctl.controller.reconcile.queue import WorkQueue


def test_key_is_queued_at_most_once():
    q = WorkQueue()
    for _ in range(5):
        q.add("a")
    q.add("b")
    assert len(q) == 2
    assert q.get(timeout=0) == "a" and q.get(timeout=0) == "b"
    assert q.get(timeout=0.01) is None


def test_readded_while_processing_is_processed_after_done_not_concurrently():
    q = WorkQueue()
    q.add("a")
    assert q.get(timeout=0) == "a"
    q.add("a")
    assert q.get(timeout=0.05) is None          # held by a worker: not handed out again
    q.done("a")
    assert q.get(timeout=0) == "a"
    q.done("a")
    assert q.idle()


def test_done_without_readd_drops_key():
    q = WorkQueue()
    q.add("a")
    q.get(timeout=0)
    q.done("a")
    assert q.get(timeout=0.01) is None


def test_add_after_and_rate_limited_backoff():
    q = WorkQueue(base_delay=0.02, max_delay=0.08)
    t0 = time.monotonic()
    q.add_after("x", 0.05)
    assert q.get(timeout=1) == "x"
    assert time.monotonic() - t0 >= 0.045
    q.done("x")
    delays = [q.add_rate_limited("y") for _ in range(5)]
    assert delays == [0.02, 0.04, 0.08, 0.08, 0.08]       # exponential, capped
    assert q.failures("y") == 5
    q.forget("y")
    assert q.failures("y") == 0
    assert q.get(timeout=1) == "y"                          # the five adds collapse into one key
    q.done("y")
    assert q.get(timeout=0.15) is None


def test_shutdown_wakes_waiting_workers():
    q = WorkQueue()
    got = []
    t = threading.Thread(target=lambda: got.append(q.get()))
    t.start()
    time.sleep(0.05)
    q.shutdown()
    t.join(1)
    assert not t.is_alive() and got == [None]
    q.add("late")
    assert q.get(timeout=0) is None


def test_concurrent_workers_never_process_a_key_twice_at_once():
    q = WorkQueue()
    active: dict[str, int] = {}
    overlaps = []
    processed = []
    lock = threading.Lock()

    def worker():
        while True:
            key = q.get()
            if key is None:
                return
            with lock:
                active[key] = active.get(key, 0) + 1
                if active[key] > 1:
                    overlaps.append(key)
            time.sleep(0.001)
            with lock:
                active[key] -= 1
                processed.append(key)
            q.done(key)

    workers = [threading.Thread(target=worker) for _ in range(4)]
    for w in workers:
        w.start()
    keys = [f"k{i % 7}" for i in range(400)]
    for k in keys:
        q.add(k)
        if len(processed) % 13 == 0:
            time.sleep(0.0005)
    deadline = time.monotonic() + 5
    while not q.idle() and time.monotonic() < deadline:
        time.sleep(0.01)
    q.shutdown()
    for w in workers:
        w.join(2)
    assert overlaps == []
    assert set(processed) == set(keys)          # every key got processed after its last add
    assert len(processed) <= len(keys)


def test_backoff_stays_at_the_maximum_after_very_many_failures():
    q = WorkQueue(max_delay=60.0)
    for _ in range(1100):          # 2.0 ** 1024 would overflow a float
        delay = q.add_rate_limited("k")
    assert delay == 60.0
