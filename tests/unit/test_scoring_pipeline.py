"""`crm.pipelined`: every chunk is scored and written exactly once, by one writer or several; a writer's error
reaches the caller and stops the other writers instead of letting them work through the rest."""

from __future__ import annotations

import threading
import time

import pytest

from ai.scoring.crm import pipelined


def chunks_seen(writers: int, total: int = 1_000, chunk: int = 64) -> tuple[tuple[int, int], list[list[int]]]:
    seen: list[list[int]] = [[] for _ in range(writers)]
    lock = threading.Lock()

    def compute(lo: int, hi: int) -> list[int]:
        return list(range(lo, hi))

    def writer(k: int):
        def write(rows: list[int]) -> int:
            time.sleep(0.002)  # a database round trip: lets the other writer take chunks too
            with lock:
                seen[k].extend(rows)
            return len(rows) // 2  # "history rows written": whatever the writer reports is summed

        return write

    return pipelined(total, compute, [writer(k) for k in range(writers)], chunk=chunk), seen


@pytest.mark.parametrize("writers", [1, 2, 3])
def test_every_row_is_scored_and_written_once(writers: int) -> None:
    (scored, written), seen = chunks_seen(writers)
    assert sorted(row for part in seen for row in part) == list(range(1_000))
    assert (scored, written) == (1_000, 15 * 32 + 40 // 2)  # 15 chunks of 64, then one of 40
    if writers > 1:
        assert all(seen), "every writer took a share"


def test_a_writer_that_fails_stops_the_others_and_the_error_reaches_the_caller() -> None:
    calls = {"ok": 0}

    def compute(lo: int, hi: int) -> list[int]:
        return list(range(lo, hi))

    def broken(rows: list[int]) -> int:
        raise RuntimeError("the database went away")

    def slow(rows: list[int]) -> int:
        time.sleep(0.02)
        calls["ok"] += 1
        return len(rows)

    with pytest.raises(RuntimeError, match="went away"):
        pipelined(100 * 10, compute, [broken, slow], chunk=10)
    assert calls["ok"] < 10  # of the 99 chunks left, the healthy writer finished the one it had, maybe two
