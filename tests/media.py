"""Small real media files for upload tests: made by the libraries that read them, not byte literals."""

from __future__ import annotations

import io
import secrets
import wave

from PIL import Image

GPS = {1: "N", 2: (31.0, 14.0, 5.0), 3: "E", 4: (121.0, 28.0, 9.0)}


def jpeg_with_gps(colour: str = "red", size: tuple[int, int] = (64, 48)) -> bytes:
    """A JPEG carrying what a phone camera leaks: its make and the GPS position."""
    exif = Image.Exif()
    exif[0x010F] = "ReporterPhone"  # Make
    exif[0x0112] = 1  # Orientation
    exif[0x8825] = GPS  # GPSInfo
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "JPEG", exif=exif)
    return buffer.getvalue()


def tiny_wav(*, noise: bool = False) -> bytes:
    """A tenth of a second of 8 kHz mono; with ``noise`` every call differs (a distinct upload)."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(secrets.token_bytes(1600) if noise else b"\x00\x00" * 800)
    return buffer.getvalue()


# What a phone's recorder leaves in a video or a recording: where, on what device, by whom.
LOCATION = "+31.2304+121.4737/"
DEVICE_MAKE, DEVICE_MODEL, OWNER = "ReporterPhone", "ZhangSan-Mate60", "张三"
LEAKS = (b"\xa9xyz", b"\xa9mak", b"\xa9mod", LOCATION.encode(), DEVICE_MAKE.encode(), DEVICE_MODEL.encode(),
         OWNER.encode())


def video_with_location(container: str = "mp4", frames: int = 5) -> bytes:
    """A short MPEG-4 video in a QuickTime file carrying ©xyz (location), ©mak, ©mod and the owner's name,
    written by FFmpeg's own muxer (PyAV). ``container="mp4"`` gives it an ``mp42`` brand, as Android phones
    write (their MP4 files carry the same ©xyz user-data box)."""
    import av
    import numpy as np

    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mov") as out:
        out.metadata.update({"location": LOCATION, "make": DEVICE_MAKE, "model": DEVICE_MODEL, "artist": OWNER})
        stream = out.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(np.full((32, 32, 3), i * 40, np.uint8), format="rgb24")
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    data = buffer.getvalue()
    if container == "mp4":
        at = data.index(b"ftyp") + 4
        data = data[:at] + b"mp42" + data[at + 4:]
    return data


def mp3_with_id3(seconds: float = 0.2) -> bytes:
    """An MP3 whose ID3v2 tag names the artist (the phone's owner), the title and a comment."""
    import av
    import numpy as np

    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp3") as out:
        out.metadata.update({"artist": OWNER, "title": DEVICE_MODEL, "comment": DEVICE_MAKE})
        stream = out.add_stream("libmp3lame", rate=44100, layout="mono")
        size = stream.codec_context.frame_size or 1152
        for i in range(int(44100 * seconds) // size + 1):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, size), np.int16), format="s16", layout="mono")
            frame.sample_rate, frame.pts = 44100, i * size
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return buffer.getvalue()


def png_declaring(width: int, height: int) -> bytes:
    """A valid greyscale PNG of ``width``×``height`` black pixels: tiny on the wire, ``width*height`` bytes
    once decoded (a decompression bomb)."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    squeeze = zlib.compressobj(9)
    row = b"\x00" * (width + 1)  # filter byte + one byte per pixel
    idat = b"".join(squeeze.compress(row) for _ in range(height)) + squeeze.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


# Every audio/video type intake accepts, as FFmpeg writes it: (muxer, video codec, audio codec, sample rate).
RECORDINGS = {
    "audio/mpeg": ("mp3", None, "libmp3lame", 44100),
    "audio/mp4": ("ipod", None, "aac", 8000),
    "audio/aac": ("adts", None, "aac", 8000),
    "audio/amr": ("amr", None, "libopencore_amrnb", 8000),
    "audio/ogg": ("ogg", None, "libopus", 48000),
    "audio/x-wav": ("wav", None, "pcm_s16le", 8000),
    "video/mp4": ("mp4", "mpeg4", "aac", 8000),
    "video/quicktime": ("mov", "mpeg4", "aac", 8000),
    "video/3gpp": ("3gp", "mpeg4", "aac", 8000),
    "video/webm": ("webm", "libvpx", "libopus", 48000),
}
_SAMPLES = {"s16": "int16", "s16p": "int16", "flt": "float32", "fltp": "float32", "s32": "int32", "s32p": "int32"}


def recording_with_tags(media_type: str, frames: int = 8) -> bytes:
    """A short recording of ``media_type`` whose container and stream tags name the owner, the device and
    the place, as far as the format can carry tags (ADTS and AMR carry none)."""
    import av
    import numpy as np

    muxer, video_codec, audio_codec, rate = RECORDINGS[media_type]
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=muxer) as out:
        out.metadata.update({"artist": OWNER, "title": DEVICE_MODEL, "comment": DEVICE_MAKE, "location": LOCATION})
        video = None
        if video_codec:
            video = out.add_stream(video_codec, rate=10)
            video.width, video.height, video.pix_fmt = 32, 32, "yuv420p"
        audio = out.add_stream(audio_codec, rate=rate, layout="mono")
        audio.metadata["title"] = DEVICE_MODEL
        size = audio.codec_context.frame_size or 1024
        sample_format = audio.codec_context.format.name
        for i in range(frames):
            samples = np.zeros((1, size), dtype=_SAMPLES[sample_format])
            frame = av.AudioFrame.from_ndarray(samples, format=sample_format, layout="mono")
            frame.sample_rate, frame.pts = rate, i * size
            out.mux(audio.encode(frame))
            if video is not None:
                picture = av.VideoFrame.from_ndarray(np.full((32, 32, 3), i * 30, np.uint8), format="rgb24")
                out.mux(video.encode(picture))
        out.mux(audio.encode())
        if video is not None:
            out.mux(video.encode())
    return buffer.getvalue()
