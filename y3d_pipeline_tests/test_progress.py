"""Progress: log lines at a sensible interval with rate and ETA, plain lines when stderr is not a terminal."""

import io

from y3d_pipeline.progress import ProgressLog, describe, terminal_progress


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_progress_log_is_throttled_and_says_rate_and_eta():
    clock, lines = Clock(), []
    progress = ProgressLog("ShipStation orders", unit="pages", log=lines.append, interval=10, clock=clock)
    for page in range(1, 40):
        clock.now += 1
        progress(page, 40)
    assert len(lines) == 3  # every 10 s, not every page
    assert lines[0] == "ShipStation orders: 10/40 pages (25%), 1.0 pages/s, ETA 30s, 10s elapsed"
    clock.now += 1
    progress(40, 40)  # the end is always logged
    assert lines[-1].startswith("ShipStation orders: 40/40 pages (100%)") and "ETA" not in lines[-1]


def test_unknown_totals_and_long_durations():
    assert describe("Shopify orders", "orders", 500, None, 125) == \
        "Shopify orders: 500 orders, 4.0 orders/s, 2m05s elapsed"
    assert "ETA 1h23m" in describe("rows", "rows", 1, 5000, 1)


def test_terminal_progress_prints_plain_lines_off_a_terminal():
    stream = io.StringIO()
    with terminal_progress("demo", unit="steps", total=3, stream=stream, interval=0) as bar:
        bar.update(1, 3, "demo: normalize_orders")
        bar.update(3, 3)
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("demo: normalize_orders: 1/3 steps (33%)")
    assert lines[-1].startswith("demo: normalize_orders: 3/3 steps (100%)")
