"""The backfill progress bar: tqdm draws it in place on a terminal."""

from __future__ import annotations

import io

from gpu_batch.backfill.progress import ProgressBar


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_tqdm_redraws_the_bar_in_place_and_closes_it() -> None:
    out = Terminal()
    bar = ProgressBar(stream=out, rows_per_item=53, min_interval=0)
    bar.update(100, 1000, force=True)  # a resumed run: 100 done before this session
    for done in range(200, 1001, 100):
        bar.update(done, 1000)
    bar.finish()
    text = out.getvalue()
    assert "\r" in text and "1000/1000" in text and "detections" in text and "100%" in text
    assert "rows/s" in text
    assert text.endswith("\n")
