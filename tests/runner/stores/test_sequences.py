"""Durable counters: never the same number twice, across threads and restarts."""

from __future__ import annotations

import threading

from runner.stores.db import Database
from runner.stores.sequences import SequenceStore


def test_numbers_are_unique_across_threads_and_continue_after_a_restart(store_url: str) -> None:
    url = store_url
    db = Database.open(url)
    store = SequenceStore(db)
    got: list[int] = []
    lock = threading.Lock()

    def take() -> None:
        for _ in range(25):
            number = store.next("credit_fj")
            with lock:
                got.append(number)

    threads = [threading.Thread(target=take) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(got) == list(range(1, 101))
    assert store.next("eco_env") == 1  # counters are independent
    db.close()
    reopened = Database.open(url)
    assert SequenceStore(reopened).next("credit_fj") == 101
    reopened.close()
