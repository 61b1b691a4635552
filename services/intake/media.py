"""Cleaning attachments before they are stored: nothing that identifies the reporter survives.

Photos are re-encoded by Pillow without EXIF/XMP/text chunks. Audio and video are remuxed by PyAV (FFmpeg's
libraries) into a fresh container of the same type carrying only the audio and video streams: container
and stream tags (``©xyz`` location, ``©mak``/``©mod`` device, ID3 artist, RIFF INFO, Vorbis/Opus comments),
cover pictures, and data/subtitle/timed-metadata tracks (a phone's GPS track) are all left behind. Nothing is
decoded or re-encoded, so a remux costs about one copy of the file.

Decoding an image is where an upload can cost far more memory than its size (a 171 KiB PNG that declares
7750×7750 decodes to 180 MB), so the declared dimensions are checked before any pixel is decoded, and
decodes run behind a process-wide semaphore: peak memory is bounded by about
``media_concurrency × 2 × image_max_pixels × 4`` bytes whatever the number of requests.
"""

from __future__ import annotations

import io
import os
import tempfile
import threading
from typing import Any
from pathlib import Path

import av
from PIL import Image, ImageOps, UnidentifiedImageError

from services.common.errors import Problem

PILLOW_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}
# The demuxer is forced from the sniffed type, never probed: FFmpeg's probe could otherwise pick a
# playlist or concat demuxer that opens other files or URLs.
DEMUXERS = {
    "audio/mpeg": "mp3", "audio/mp4": "mov", "audio/aac": "aac", "audio/amr": "amr", "audio/ogg": "ogg",
    "audio/x-wav": "wav", "video/mp4": "mov", "video/quicktime": "mov", "video/3gpp": "mov",
    "video/webm": "matroska",
}
MUXERS = {
    "audio/mpeg": "mp3", "audio/mp4": "ipod", "audio/aac": "adts", "audio/amr": "amr", "audio/ogg": "ogg",
    "audio/x-wav": "wav", "video/mp4": "mp4", "video/quicktime": "mov", "video/3gpp": "3gp", "video/webm": "webm",
}
DEFAULT_MAX_PIXELS = 40_000_000

_slots_lock = threading.Lock()
_slots: dict[int, threading.BoundedSemaphore] = {}


def _slot(concurrency: int) -> threading.BoundedSemaphore:
    with _slots_lock:
        return _slots.setdefault(concurrency, threading.BoundedSemaphore(concurrency))


def _unreadable(kind: str) -> Problem:
    return Problem(422, f"无法读取附件中的{kind}，请换一个文件重试。", slug="attachment-unreadable")


def _too_large(max_pixels: int, size: tuple[int, int] | None = None) -> Problem:
    shown = f"（{size[0]}×{size[1]} 像素）" if size else ""
    extra: dict[str, Any] = {"width": size[0], "height": size[1]} if size else {}
    return Problem(422, f"图片尺寸过大{shown}；每张图片最多 {max_pixels / 10_000:g} 万像素，请缩小后再上传。",
                   slug="image-too-large", max_pixels=max_pixels, **extra)


def strip_image_metadata(data: bytes, media_type: str, *, max_pixels: int = DEFAULT_MAX_PIXELS,
                         concurrency: int = 2) -> bytes:
    """Re-encode without EXIF (GPS, device serial), XMP or text chunks; keep the photo upright.

    Blocking: call through ``asyncio.to_thread``."""
    fmt = PILLOW_FORMATS[media_type]
    try:
        # Opening reads only the header; the size it declares is checked before any pixel is decoded.
        with Image.open(io.BytesIO(data), formats=[fmt]) as img:
            if img.size[0] * img.size[1] > max_pixels:
                raise _too_large(max_pixels, img.size)
            with _slot(concurrency):
                img.load()
                # In place: no second copy of the pixels unless the photo must be turned.
                upright: Image.Image = ImageOps.exif_transpose(img, in_place=True) or img
                upright.info.clear()
                out = io.BytesIO()
                if fmt == "JPEG":
                    if upright.mode not in ("RGB", "L", "CMYK"):
                        upright = upright.convert("RGB")
                    upright.save(out, "JPEG", quality=90, exif=b"")
                elif fmt == "WEBP":
                    upright.save(out, "WEBP", quality=90, exif=b"")
                else:
                    upright.save(out, "PNG")
                return out.getvalue()
    except Image.DecompressionBombError as exc:  # Pillow's own, far higher cap, checked as it opens
        raise _too_large(max_pixels) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise _unreadable("图片") from exc


def remux_without_metadata(source: Path, media_type: str, *, concurrency: int = 2) -> Path:
    """A new file next to ``source`` with the same audio/video packets and no tags; the caller owns it.

    Blocking: call through ``asyncio.to_thread``."""
    fd, name = tempfile.mkstemp(dir=source.parent, prefix="clean-")
    os.close(fd)
    target = Path(name)
    try:
        with _slot(concurrency), av.open(str(source), "r", format=DEMUXERS[media_type]) as inp:
            wanted = [s for s in inp.streams if s.type in ("audio", "video")
                      and not s.disposition & av.stream.Disposition.attached_pic]
            if not wanted:
                raise _unreadable("音视频")
            with av.open(str(target), "w", format=MUXERS[media_type],
                         options={"fflags": "+bitexact"}) as out:
                # Templates copy codec parameters only: no stream tags, no creation time, no handler names.
                streams = {s.index: out.add_stream_from_template(s) for s in wanted}
                for packet in inp.demux(*wanted):
                    if packet.dts is None:  # the demuxer's end-of-stream flush packet
                        continue
                    packet.stream = streams[packet.stream.index]
                    out.mux(packet)
        if target.stat().st_size == 0:
            raise _unreadable("音视频")
        return target
    except (av.FFmpegError, ValueError, OSError) as exc:
        target.unlink(missing_ok=True)
        raise _unreadable("音视频") from exc
    except BaseException:
        target.unlink(missing_ok=True)
        raise
