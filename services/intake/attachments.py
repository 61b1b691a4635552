"""Attachments (附件): type by content, limits, metadata stripped, content-addressed storage.

An upload is staged to a private file; images are re-encoded and audio/video remuxed without metadata
(:mod:`.media`: the GPS position in a phone photo or video, the device and the owner's name identify the
reporter), and the SHA-256 is taken of what is stored. The blob store keeps each distinct content once
under its digest. Nothing here is ever served to the public.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

import filetype

from services.common.errors import Problem

from .media import DEFAULT_MAX_PIXELS, remux_without_metadata, strip_image_metadata
from .settings import IntakeSettings

# The allow-list: what a phone records, identified by magic bytes, never by name or declared type. Each
# type has a cleaner in .media (images re-encoded, audio/video remuxed); a type without one is not allowed.
ALLOWED_MEDIA_TYPES: dict[str, str] = {
    "image/jpeg": "image",
    "image/png": "image",
    "image/webp": "image",
    "audio/mpeg": "audio",
    "audio/mp4": "audio",
    "audio/aac": "audio",
    "audio/amr": "audio",
    "audio/ogg": "audio",
    "audio/x-wav": "audio",
    "video/mp4": "video",
    "video/quicktime": "video",
    "video/3gpp": "video",
    "video/webm": "video",
}
CHUNK = 64 * 1024


@dataclass(frozen=True)
class StagedFile:
    path: Path
    sha256: str
    size: int
    media_type: str


def sniff(head: bytes) -> str | None:
    kind = filetype.guess(head)
    return kind.mime if kind is not None else None


def stage_upload(source: BinaryIO, *, staging_dir: Path, max_bytes: int, max_pixels: int = DEFAULT_MAX_PIXELS,
                 concurrency: int = 2) -> StagedFile:
    """Copy an upload to a private staging file in chunks, enforcing the size limit as it goes, then
    replace it by its cleaned version.

    Blocking (file I/O, Pillow, FFmpeg): call through ``asyncio.to_thread``."""
    staging_dir.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=staging_dir, prefix="up-")
    path = Path(name)
    try:
        size = 0
        head = b""
        with os.fdopen(fd, "wb") as out:
            while chunk := source.read(CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise Problem(413, f"附件过大：每个附件最多 {max_bytes // (1024 * 1024)} MB。",
                                  slug="attachment-too-large", max_bytes=max_bytes)
                if len(head) < 512:
                    head += chunk[: 512 - len(head)]
                out.write(chunk)
        if size == 0:
            raise Problem(422, "附件是空文件。", slug="attachment-empty")
        media_type = sniff(head)
        if media_type not in ALLOWED_MEDIA_TYPES:
            raise Problem(415, "附件只能是照片、录音或视频。", slug="attachment-type",
                          allowed=sorted(ALLOWED_MEDIA_TYPES))
        if ALLOWED_MEDIA_TYPES[media_type] == "image":
            clean = strip_image_metadata(path.read_bytes(), media_type, max_pixels=max_pixels,
                                         concurrency=concurrency)
            path.write_bytes(clean)
            return StagedFile(path, hashlib.sha256(clean).hexdigest(), len(clean), media_type)
        cleaned = remux_without_metadata(path, media_type, concurrency=concurrency)
        os.replace(cleaned, path)
        return StagedFile(path, _sha256_of(path), path.stat().st_size, media_type)
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class BlobStore(Protocol):
    """Content-addressed storage: ``put`` moves a staged file under its digest (idempotent)."""

    async def put(self, staged: StagedFile) -> None: ...

    async def get(self, sha256: str) -> bytes: ...

    async def delete(self, sha256: str) -> None: ...


class FilesystemBlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path_of(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def _put(self, staged: StagedFile) -> None:
        target = self.path_of(staged.sha256)
        if target.exists():
            staged.path.unlink(missing_ok=True)
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(staged.path, 0o600)
        os.replace(staged.path, target)  # same filesystem as the staging dir: atomic

    async def put(self, staged: StagedFile) -> None:
        await asyncio.to_thread(self._put, staged)

    async def get(self, sha256: str) -> bytes:
        return await asyncio.to_thread(self.path_of(sha256).read_bytes)

    async def delete(self, sha256: str) -> None:
        await asyncio.to_thread(self.path_of(sha256).unlink, missing_ok=True)


class S3BlobStore:
    """Any S3-compatible store (MinIO, Ceph RGW, SeaweedFS, …), through boto3."""

    def __init__(self, settings: IntakeSettings) -> None:
        import boto3  # optional dependency, imported only when this store is chosen

        self.bucket = settings.s3_bucket
        self.prefix = settings.s3_prefix
        self.client = boto3.client("s3", endpoint_url=settings.s3_endpoint_url)

    def _put(self, staged: StagedFile) -> None:
        key = self.prefix + staged.sha256
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except self.client.exceptions.ClientError:
            self.client.upload_file(str(staged.path), self.bucket, key,
                                    ExtraArgs={"ContentType": staged.media_type})
        staged.path.unlink(missing_ok=True)

    async def put(self, staged: StagedFile) -> None:
        await asyncio.to_thread(self._put, staged)

    async def get(self, sha256: str) -> bytes:
        response = await asyncio.to_thread(self.client.get_object, Bucket=self.bucket, Key=self.prefix + sha256)
        return await asyncio.to_thread(response["Body"].read)

    async def delete(self, sha256: str) -> None:
        await asyncio.to_thread(self.client.delete_object, Bucket=self.bucket, Key=self.prefix + sha256)


def blob_store(settings: IntakeSettings) -> BlobStore:
    if settings.attachment_store == "s3":
        return S3BlobStore(settings)
    return FilesystemBlobStore(Path(settings.data_dir) / "attachments")


def staging_dir(settings: IntakeSettings) -> Path:
    return Path(settings.data_dir) / "staging"
