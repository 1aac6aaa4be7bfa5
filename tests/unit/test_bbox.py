"""deertrack.bbox: the one conversion between pixel boxes and fractions of the image, and its clipping."""

from __future__ import annotations

import itertools

from deertrack import bbox
from deertrack.camtrap_dp import fraction


def test_edges_round_so_a_pixel_box_written_as_fractions_comes_back_exactly() -> None:
    for size in ((2048, 1440), (1920, 1080), (640, 480)):
        for x, w in itertools.product((0, 1, 99, 100, 333, 619), (1, 17, 20, 301)):
            box = (x, x // 2, w, w + 3)
            if x + w > size[0] or x // 2 + w + 3 > size[1]:
                continue  # inside the image only: clipping is tested below
            as_text = [float(fraction(v)) for v in bbox.to_fractions(box, size) or ()]  # 5 places, as exported
            assert bbox.from_fractions((as_text[0], as_text[1], as_text[2], as_text[3]), size) == box


def test_fractions_to_pixels_round_each_edge() -> None:
    assert bbox.from_fractions((0.32325, 0.0, 0.1, 0.5), (2048, 1440)) == (662, 0, 205, 720)
    assert bbox.from_fractions((0.25, 0.25, 0.5, 0.5), (100, 100)) == (25, 25, 50, 50)


def test_clip_keeps_the_part_inside_or_says_none() -> None:
    assert bbox.clip((600, 400, 100, 100), (640, 480)) == (600, 400, 40, 80)
    assert bbox.clip((-10, -5, 30, 30), (640, 480)) == (0, 0, 20, 25)
    assert bbox.clip((640, 0, 10, 10), (640, 480)) is None
    assert bbox.clip((10, 10, 0, 5), (640, 480)) is None


def test_clip_to_a_pixel_never_empties() -> None:
    assert bbox.clip_to_a_pixel((700, 500, 10, 10), (640, 480)) == (639, 479, 1, 1)
    assert bbox.clip_to_a_pixel((5, 5, 0, 0), (640, 480)) == (5, 5, 1, 1)
    assert bbox.clip_to_a_pixel((600, 400, 100, 100), (640, 480)) == (600, 400, 40, 80)


def test_to_fractions_clips_first() -> None:
    assert bbox.to_fractions((50, 0, 100, 10), (100, 100)) == (0.5, 0.0, 0.5, 0.1)
    assert bbox.to_fractions((100, 0, 10, 10), (100, 100)) is None


def test_pad_and_edges() -> None:
    assert bbox.pad((100, 100, 50, 20), 0.1) == (95, 98, 60, 24)
    assert bbox.edges((1, 2, 3, 4)) == (1, 2, 4, 6)


def test_fits_only_when_the_whole_box_is_inside() -> None:
    assert bbox.fits((0, 0, 640, 480), (640, 480)) and bbox.fits((600, 400, 40, 80), (640, 480))
    assert not bbox.fits((600, 400, 41, 80), (640, 480)) and not bbox.fits((640, 0, 1, 1), (640, 480))
