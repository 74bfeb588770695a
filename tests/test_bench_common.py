"""Benchmark utilities: percentiles and the Markdown tables the README quotes."""

from bench.common import pct, peak_rss_mb, table


def test_nearest_rank_percentiles():
    values = [5.0, 1.0, 3.0, 2.0, 4.0]
    assert pct(values, 0.0) == 1.0 and pct(values, 0.5) == 3.0 and pct(values, 1.0) == 5.0
    assert pct(list(range(1, 21)), 0.95) == 19
    assert pct([7.0], 0.95) == 7.0


def test_table_aligns_numbers_right_and_text_left():
    text = table(["name", "time"], [["flat", "1.5 ms"], ["IVF", "0.2 ms"]])
    lines = text.splitlines()
    assert lines[0] == "| name | time |"
    assert lines[1] == "| --- | ---: |"
    assert lines[3] == "| IVF | 0.2 ms |"


def test_peak_memory_is_a_positive_number_of_megabytes():
    assert 1 < peak_rss_mb() < 100_000
