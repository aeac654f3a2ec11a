"""Video sampling, annotation and writing (maskface.video), on small synthetic videos."""

from __future__ import annotations

import av
import numpy as np
import pytest

from maskface.face import Face, Prediction
from maskface.video import VideoError, annotate_video, label_counts, sample_frames, write_video


def numbered_frames(count: int, height: int = 48, width: int = 64) -> list[np.ndarray]:
    """Frames whose brightness is 8 x their number, so a decoded frame tells which one it was."""
    return [np.full((height, width, 3), 8 * i, np.uint8) for i in range(count)]


def frame_number(pixels: np.ndarray) -> int:
    return round(float(pixels.mean()) / 8)


@pytest.fixture()
def clip(tmp_path):
    """3 s at 10 fps: frame i at time i / 10."""
    return write_video(numbered_frames(30), tmp_path / "clip.mp4", fps=10)


def test_written_video_is_h264_with_every_frame(clip):
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert (stream.width, stream.height) == (64, 48)
        assert sum(1 for _ in container.decode(stream)) == 30


def test_frames_are_sampled_at_the_interval(clip):
    sampled = list(sample_frames(clip, every=0.5))
    assert [info.time for info, _ in sampled] == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5]
    assert [frame_number(pixels) for _, pixels in sampled] == [0, 5, 10, 15, 20, 25]
    assert [info.sample for info, _ in sampled] == list(range(6))
    assert all(pixels.dtype == np.uint8 and pixels.shape == (48, 64, 3) for _, pixels in sampled)


def test_sampling_stops_at_max_frames(clip):
    assert [info.time for info, _ in sample_frames(clip, every=0.2, max_frames=3)] == [0.0, 0.2, 0.4]


def test_odd_sizes_are_padded_for_yuv420(tmp_path):
    path = write_video(numbered_frames(3, height=47, width=63), tmp_path / "odd.mp4", fps=5)
    (_, first), *_ = sample_frames(path)
    assert first.shape == (48, 64, 3)


def test_the_display_rotation_of_phone_videos_is_applied(tmp_path):
    path = tmp_path / "rotated.mp4"
    marked = np.zeros((32, 64, 3), np.uint8)
    marked[:8, :8] = 255  # top-left corner
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 32, "yuv420p"
        stream.set_display_rotation(90)  # shown turned a quarter counter-clockwise
        for _ in range(2):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(marked, format="rgb24")))
        container.mux(stream.encode(None))
    (_, upright), *_ = sample_frames(path)
    assert upright.shape == (64, 32, 3)
    assert upright[-4, 4].min() > 200 and upright[4, 4].max() < 50  # the corner went to the bottom left


def test_annotate_video_writes_each_annotated_sample_and_reports_progress(clip, tmp_path):
    calls = []

    def invert(pixels):
        return 255 - pixels, frame_number(pixels)

    results = annotate_video(clip, tmp_path / "out.mp4", invert, every=1.0, progress=lambda *a: calls.append(a))
    assert [(info.time, number) for info, number in results] == [(0.0, 0), (1.0, 10), (2.0, 20)]
    assert calls == [(1, 3), (2, 3), (3, 3)]
    written = [pixels for _, pixels in sample_frames(tmp_path / "out.mp4", every=1.0)]
    assert [round(255 - float(p.mean())) // 8 for p in written] == [0, 10, 20]


@pytest.mark.parametrize("content", [b"", b"not a video at all" * 50])
def test_a_file_that_is_not_a_video_is_a_clear_error(tmp_path, content):
    path = tmp_path / "clip.mp4"
    path.write_bytes(content)
    with pytest.raises(VideoError, match="clip.mp4"):
        list(sample_frames(path))


def test_a_failed_annotation_leaves_no_output(clip, tmp_path):
    def broken(pixels):
        raise RuntimeError("model crashed")

    with pytest.raises(RuntimeError):
        annotate_video(clip, tmp_path / "out.mp4", broken)
    assert not (tmp_path / "out.mp4").exists()


def test_label_counts_summarise_a_frame():
    faces = [
        Face((0, 0, 1, 1), 0.9, results={"mask": Prediction("with_mask", 0.9)}),
        Face((0, 0, 1, 1), 0.9, results={"mask": Prediction("with_mask", 0.8)}),
        Face((0, 0, 1, 1), 0.9, results={"mask": Prediction("without_mask", 0.7)}),
    ]
    assert label_counts(faces, "mask") == {"with_mask": 2, "without_mask": 1}
    assert label_counts(faces, "gender") == {}


# --- limits: what one video may cost --------------------------------------------------------


def test_the_header_decides_before_any_frame_is_decoded(tmp_path, clip):
    from maskface.video import VideoLimits, check_video, probe_video

    info = probe_video(clip)
    assert (round(info.duration, 1), round(info.fps), info.width, info.height) == (3.0, 10, 64, 48)
    assert check_video(clip, VideoLimits(max_seconds=3.5, max_fps=10)) == info
    with pytest.raises(VideoError, match=r"lasts 3 s, longer than the limit of 2 s \(set MASKFACE_VIDEO_MAX_SECONDS"):
        check_video(clip, VideoLimits(max_seconds=2))
    fast = write_video(numbered_frames(24), tmp_path / "fast.mp4", fps=240)
    with pytest.raises(VideoError, match=r"240 frames per second, more than the limit of 60 \(set MASKFACE_VIDEO_MAX_FPS"):
        check_video(fast, VideoLimits())
    with pytest.raises(VideoError, match="cannot be read as a video"):
        probe_video(tmp_path / "missing.mp4")


def test_frames_are_downscaled_as_they_are_decoded(tmp_path):
    large = write_video(numbered_frames(4, height=240, width=320), tmp_path / "large.mp4", fps=2)
    (_, first), *_ = sample_frames(large, every=0.5, max_side=80)
    assert first.shape == (60, 80, 3)


def test_sampling_stops_at_the_deadline_and_when_a_file_holds_more_frames_than_allowed(clip):
    import time

    assert len(list(sample_frames(clip, every=0.5, deadline=time.monotonic()))) == 1  # the budget is spent
    with pytest.raises(VideoError, match="holds more than 5 frames per second"):
        list(sample_frames(clip, every=0.5, max_fps=5))


def test_annotate_video_checks_the_limits_first(tmp_path, clip):
    from maskface.video import VideoLimits

    output = tmp_path / "out.mp4"
    with pytest.raises(VideoError, match="longer than the limit"):
        annotate_video(clip, output, lambda p: (p, None), limits=VideoLimits(max_seconds=1))
    assert not output.exists()
    results = annotate_video(clip, output, lambda p: (p, None), limits=VideoLimits(max_frames=2))
    assert [info.time for info, _ in results] == [0.0, 0.5]
