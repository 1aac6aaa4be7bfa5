"""The demo data set in memory: exact counts, determinism, seasonal and daily rhythms, valid boxes."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pytest

from infra.demo import DEMO_SEED, generate_dataset
from infra.demo.activity import sun_times
from infra.demo.sightings import IMAGE_HEIGHT, IMAGE_WIDTH, INFO_BAR


def _local_zone() -> tzinfo:
    try:
        return ZoneInfo("America/New_York")
    except ZoneInfoNotFoundError:  # no time zone database here: Eastern Standard Time is near enough
        return timezone(timedelta(hours=-5))


LOCAL = _local_zone()


@pytest.fixture(scope="module")
def demo():
    return generate_dataset(DEMO_SEED)


def test_exact_counts_and_season(demo) -> None:
    assert len(demo.locations) == 6
    assert len(demo.individuals) == 53
    assert len(demo.detections) == 4546
    assert Counter(i.sex for i in demo.individuals) == {"buck": 14, "doe": 24, "fawn": 15}
    times = [im.captured_at for im in demo.images]
    assert all(t.tzinfo is not None and t.utcoffset().total_seconds() == 0 for t in times)
    assert min(times).date() == date(2023, 9, 1)
    assert max(times).date() == date(2024, 1, 31)
    starts = [im.captured_at for im in demo.images if im.frame == 0]
    assert starts == sorted(starts)  # bursts in the order they were taken
    # every deer is seen, so first/last seen and sighting counts are defined
    summaries = Counter(d.individual for d in demo.detections)
    assert len(summaries) == 53 and sum(summaries.values()) == 4546


def test_locations_are_six_cameras_in_one_study_area(demo) -> None:
    codes = [loc.code for loc in demo.locations]
    assert codes == [f"CAM-{n:02d}" for n in range(1, 7)]
    assert len({loc.name for loc in demo.locations}) == 6
    lats = [loc.latitude for loc in demo.locations]
    lons = [loc.longitude for loc in demo.locations]
    assert max(lats) - min(lats) < 0.1 and max(lons) - min(lons) < 0.1  # within a few km
    for loc in demo.locations:
        assert 44 < loc.latitude < 46 and -73 < loc.longitude < -71
        assert loc.deployment_start < datetime(2023, 9, 1, tzinfo=UTC) < datetime(2024, 2, 1, tzinfo=UTC) \
            < loc.deployment_end


def test_same_seed_same_data_other_seed_other_data(demo) -> None:
    again = generate_dataset.__wrapped__(DEMO_SEED)  # not the cached object: generated afresh
    assert again is not demo
    assert again.fingerprint() == demo.fingerprint()
    assert again.truth() == demo.truth()
    other = generate_dataset.__wrapped__(DEMO_SEED + 1)
    assert other.fingerprint() != demo.fingerprint()
    assert len(other.detections) == 4546  # the counts hold for any seed


def test_buck_activity_rises_in_the_rut(demo) -> None:
    per_month: Counter[str] = Counter()
    for det in demo.detections:
        if demo.individuals[det.individual].sex == "buck":
            per_month[demo.images[det.image].captured_at.strftime("%Y-%m")] += 1
    september, november = per_month["2023-09"] / 30, per_month["2023-11"] / 30
    assert november > 1.5 * september
    assert per_month["2023-11"] == max(per_month.values())


def test_hour_of_day_peaks_at_dawn_and_dusk(demo) -> None:
    hours = Counter(demo.images[d.image].captured_at.astimezone(LOCAL).hour for d in demo.detections)
    histogram = np.array([hours[h] for h in range(24)], dtype=float)
    morning, evening = int(np.argmax(histogram[:12])), 12 + int(np.argmax(histogram[12:]))
    assert 5 <= morning <= 8, histogram
    assert 16 <= evening <= 19, histogram
    midday, night = histogram[11:14].mean(), histogram[0:4].mean()
    assert histogram[morning] > 2.5 * midday and histogram[evening] > 2.5 * midday
    assert histogram[morning] > 2.5 * night and histogram[evening] > 2.5 * night


def test_night_pictures_are_when_the_sun_is_down(demo) -> None:
    for im in demo.images[::25]:
        loc = demo.locations[im.location]
        sunrise, sunset = sun_times(im.captured_at.date(), loc.latitude, loc.longitude)
        hour = im.captured_at.hour + im.captured_at.minute / 60
        if sunrise + 1 < hour < sunset - 1:
            assert not im.dark
        if hour < sunrise - 1 or hour > sunset + 1:
            assert im.dark


def test_boxes_labels_and_confidences(demo) -> None:
    for det in demo.detections:
        image = demo.images[det.image]
        x, y, w, h = det.bbox
        assert x >= 0 and y >= 0 and w >= 16 and h >= 16
        assert x + w <= image.width == IMAGE_WIDTH
        assert y + h <= image.height - INFO_BAR and image.height == IMAGE_HEIGHT
        assert 0.5 <= det.confidence <= 0.99
        assert det.classification in ("buck", "doe", "fawn", "unknown")
    right = sum(d.classification == demo.individuals[d.individual].sex for d in demo.detections)
    unknown = sum(d.classification == "unknown" for d in demo.detections)
    assert right / 4546 > 0.85
    assert 0 < unknown / 4546 < 0.1


def test_groups_share_pictures_and_bursts_are_seconds_apart(demo) -> None:
    per_image = Counter(len(dets) for dets in demo.detections_by_image)
    assert set(per_image) <= {1, 2, 3} and per_image[2] > 100 and per_image[3] > 10
    mothers_with_fawns = 0
    for dets in demo.detections_by_image:
        members = {demo.individuals[d.individual] for d in dets}
        mothers_with_fawns += any(m.mother is not None and demo.individuals[m.mother] in members for m in members)
        assert len({d.individual for d in dets}) == len(dets)  # nobody twice in one picture
    assert mothers_with_fawns > 100

    bursts = defaultdict(list)
    for im in demo.images:
        bursts[im.sighting].append(im)
    assert sum(len(frames) >= 3 for frames in bursts.values()) > 200
    for frames in bursts.values():
        assert len({f.location for f in frames}) == 1
        assert (frames[-1].captured_at - frames[0].captured_at).total_seconds() <= 10
    # separate sightings at one camera are never within a burst's reach of each other
    last: dict[int, datetime] = {}
    for frames in sorted(bursts.values(), key=lambda f: f[0].captured_at):
        loc = frames[0].location
        if loc in last:
            assert (frames[0].captured_at - last[loc]).total_seconds() > 60
        last[loc] = frames[-1].captured_at
    # a burst group is one individual within one burst
    groups = defaultdict(set)
    for det in demo.detections:
        groups[det.burst_group].add((det.individual, demo.images[det.image].sighting))
    assert all(len(members) == 1 for members in groups.values())


def test_home_ranges(demo) -> None:
    cameras = defaultdict(Counter)
    for det in demo.detections:
        cameras[det.individual][demo.images[det.image].location] += 1
    for ind in demo.individuals:
        assert 1 <= len(ind.home) <= 3
        if ind.sex != "buck":  # bucks roam in the rut; does and fawns keep to their cameras
            assert set(cameras[ind.index]) <= set(ind.home)
        assert cameras[ind.index].most_common(1)[0][0] in ind.home


def test_keys_and_truth(demo) -> None:
    keys = [im.s3_key for im in demo.images]
    assert len(set(keys)) == len(keys)
    pattern = re.compile(r"demo/CAM-0[1-6]/(\d{4})/(\d{2})/(\d{2})/IMG_\d{6}\.jpg")
    for im in demo.images:
        match = pattern.fullmatch(im.s3_key)
        assert match and tuple(map(int, match.groups())) == (
            im.captured_at.year, im.captured_at.month, im.captured_at.day)
        assert im.s3_key.split("/")[1] == demo.locations[im.location].code
    truth = demo.truth()
    assert len(truth) == 4546
    assert len({t.individual_key for t in truth}) == 53
    assert len({(t.s3_key, t.bbox) for t in truth}) == 4546  # a detection is addressable by key and box
    assert {t.individual_key for t in truth} == {i.key for i in demo.individuals}
    assert len({i.name for i in demo.individuals}) == 53
