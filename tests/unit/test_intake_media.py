"""Attachment cleaning on real files made by the libraries that read them: no metadata survives, and an
image is judged by the size it declares before a pixel of it is decoded."""

from __future__ import annotations

import io
import struct
import zlib

import av
import pytest

from services.common.errors import Problem
from services.intake.attachments import ALLOWED_MEDIA_TYPES, stage_upload

from ..media import LEAKS, RECORDINGS, mp3_with_id3, png_declaring, recording_with_tags, tiny_wav, video_with_location


@pytest.mark.parametrize(("make", "media_type"), [
    (lambda: video_with_location("mp4"), "video/mp4"),
    (lambda: video_with_location("mov"), "video/quicktime"),
    (mp3_with_id3, "audio/mpeg"),
])
def test_audio_and_video_are_remuxed_without_location_device_or_names(tmp_path, make, media_type):
    original = make()
    assert any(leak in original for leak in LEAKS)
    staged = stage_upload(io.BytesIO(original), staging_dir=tmp_path, max_bytes=1 << 20)
    cleaned = staged.path.read_bytes()
    assert staged.media_type == media_type and staged.size == len(cleaned)
    assert [leak for leak in LEAKS if leak in cleaned] == []
    with av.open(io.BytesIO(cleaned)) as container:  # still plays: the same streams, the packets copied
        assert not {k: v for k, v in container.metadata.items() if k not in ("major_brand", "minor_version",
                                                                            "compatible_brands", "encoder")}
        stream = container.streams[0]
        assert stream.type == ("video" if media_type.startswith("video") else "audio")
        assert sum(1 for p in container.demux(stream) if p.size) > 0
    assert list(tmp_path.iterdir()) == [staged.path]  # no remux leftovers


def test_every_allowed_audio_and_video_type_has_a_cleaner():
    assert set(RECORDINGS) == {t for t, kind in ALLOWED_MEDIA_TYPES.items() if kind in ("audio", "video")}


@pytest.mark.parametrize("media_type", sorted(RECORDINGS))
def test_every_allowed_audio_and_video_type_is_stored_without_its_tags(tmp_path, media_type):
    original = recording_with_tags(media_type)
    tagged = media_type not in ("audio/aac", "audio/amr")  # ADTS and AMR have nowhere to put a tag
    assert any(leak in original for leak in LEAKS) is tagged
    staged = stage_upload(io.BytesIO(original), staging_dir=tmp_path, max_bytes=1 << 20)
    assert staged.media_type == ("video/mp4" if media_type == "video/3gpp" else media_type)  # 3GP sniffs as MP4
    cleaned = staged.path.read_bytes()
    assert [leak for leak in LEAKS if leak in cleaned] == []
    with av.open(io.BytesIO(cleaned)) as container:
        assert {s.type for s in container.streams} == ({"audio", "video"} if media_type.startswith("video")
                                                       else {"audio"})


def test_audio_that_cannot_be_demuxed_is_refused_and_leaves_nothing(tmp_path):
    broken = video_with_location("mp4")[:40]  # the type is recognised, the file is cut off
    with pytest.raises(Problem) as refused:
        stage_upload(io.BytesIO(broken), staging_dir=tmp_path, max_bytes=1 << 20)
    assert refused.value.status == 422 and refused.value.slug == "attachment-unreadable"
    assert "无法读取" in refused.value.detail
    assert list(tmp_path.iterdir()) == []
    assert stage_upload(io.BytesIO(tiny_wav()), staging_dir=tmp_path, max_bytes=1 << 20).media_type == "audio/x-wav"


def test_an_image_declaring_too_many_pixels_is_refused_before_decoding(tmp_path):
    # A header and one row: 100000×100000 would be 30 GB decoded. Refused for its size, not as unreadable.
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    bomb = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 300_001))
    with pytest.raises(Problem) as refused:
        stage_upload(io.BytesIO(bomb + chunk(b"IEND", b"")), staging_dir=tmp_path, max_bytes=1 << 20)
    assert refused.value.status == 422 and refused.value.slug == "image-too-large"
    assert "4000 万像素" in refused.value.detail
    assert list(tmp_path.iterdir()) == []


def test_the_pixel_cap_is_configurable(tmp_path):
    image = png_declaring(200, 100)
    with pytest.raises(Problem) as refused:
        stage_upload(io.BytesIO(image), staging_dir=tmp_path, max_bytes=1 << 20, max_pixels=19_999)
    assert refused.value.extra["max_pixels"] == 19_999 and "200×100" in refused.value.detail
    assert stage_upload(io.BytesIO(image), staging_dir=tmp_path, max_bytes=1 << 20, max_pixels=20_000).size > 0
