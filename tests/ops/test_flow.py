"""Where the flow is trusted: the forward–backward test and the one-flow match against the pictures both trust a
still background and a square moving over it; each distrusts what it is made to see: the forward–backward test
motion that does not come back (behind the square), the match a patch nothing in the previous frame looks like."""

import threading
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
import pytest

from stylegram.ops.flow import MATCH_TOLERANCE, TemporalBlender, motion


def texture(rng, shape, sigma, low, high):
    noise = cv2.GaussianBlur(rng.integers(0, 256, shape).astype(np.uint8), (0, 0), sigma)
    return cv2.normalize(noise, None, low, high, cv2.NORM_MINMAX)


@pytest.fixture
def frames():
    rng = np.random.default_rng(3)
    background = texture(rng, (96, 128), 3, 60, 190)
    square = texture(rng, (32, 32), 2, 0, 255)
    previous, current = background.copy(), background.copy()
    previous[32:64, 40:72] = square
    current[32:64, 46:78] = square  # moved 6 px right
    current[8:28, 96:116] = 255  # a light came on
    return current, previous


@pytest.mark.parametrize("tolerance", [None, MATCH_TOLERANCE])
def test_both_checks_trust_what_moved_and_each_distrusts_what_it_sees(frames, tolerance):
    current, previous = frames
    flow, trusted = motion(current, previous, tolerance=tolerance)
    assert trusted[70:92, 8:120].mean() > 0.95  # the still background
    assert round(float(np.median(flow[38:58, 56:72, 0]))) == -6  # the square came from 6 px left
    assert trusted[38:58, 56:72].mean() > 0.9
    if tolerance is None:
        assert trusted[36:60, 41:45].mean() < 0.3  # uncovered: the flow there and back does not come home
    else:
        assert trusted[10:26, 98:114].mean() < 0.05  # nothing in the previous frame looks like the light


def test_a_motion_started_on_a_thread_blends_the_frames_the_call_would(frames):
    current, previous = frames
    sources = [np.repeat(frame[..., None], 3, axis=2) for frame in (previous, current, current)]
    paintings = [np.full_like(sources[0], level) for level in (40, 200, 120)]
    threads_seen = []

    class Recording(ThreadPoolExecutor):
        def submit(self, function, *arguments):
            return super().submit(
                lambda: (threads_seen.append(threading.current_thread().name), function(*arguments))[1]
            )

    inline = TemporalBlender(0.8)
    with Recording(1, thread_name_prefix="flow") as executor:
        ahead = TemporalBlender(0.8, executor=executor)
        shown = []
        for source, painting in zip(sources, paintings, strict=True):
            ahead.start(source)
            shown.append((inline(source, painting), ahead(source, painting)))
        # A frame the motion was not started for (a stream that skipped one) is found in the call.
        shown.append((inline(sources[0], paintings[0]), ahead(sources[0], paintings[0])))
    assert all(np.array_equal(one, other) for one, other in shown)
    assert len(threads_seen) == 2 and all(name.startswith("flow") for name in threads_seen)  # none for the first
    assert not np.array_equal(shown[1][0], paintings[1])  # the history was blended in


def test_the_blend_is_held_down_where_the_source_itself_changes_along_the_flow():
    texture = cv2.GaussianBlur(np.random.default_rng(3).integers(50, 200, (64, 96), dtype=np.uint8), (0, 0), 2)
    still = np.repeat(texture[..., None], 3, axis=2)
    paintings = [np.full_like(still, 100), np.full_like(still, 140)]

    def second_frame(sources: list[np.ndarray]) -> np.ndarray:
        blender = TemporalBlender(0.8)
        return [blender(source, painting) for source, painting in zip(sources, paintings, strict=True)][1]

    # The source does not change along the flow: the whole strength, 0.8 × 100 + 0.2 × 140.
    assert abs(int(np.median(second_frame([still, still]))) - 108) <= 1
    # It brightens by 20 where the painting changes by 40: the history's weight is held down to 1 - 20/40.
    assert abs(int(np.median(second_frame([still, still + 20]))) - 120) <= 1


def test_a_still_pixel_the_blend_would_hardly_change_keeps_its_value_exactly():
    texture = cv2.GaussianBlur(np.random.default_rng(4).integers(50, 200, (64, 96), dtype=np.uint8), (0, 0), 2)
    still = np.repeat(texture[..., None], 3, axis=2)
    blender = TemporalBlender(0.5)
    first = blender(still, np.full_like(still, 100))
    # Half of a 3-level change would move the picture by a level or two: it is kept as it was, bit for bit.
    assert np.array_equal(blender(still, np.full_like(still, 103)), first)
    # Half of a 20-level change goes through.
    assert abs(int(np.median(blender(still, np.full_like(still, 120)))) - 110) <= 1
