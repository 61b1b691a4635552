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
