"""Evidence files a unit attaches to its result (佐证材料): type by content, size limit, stored by digest.

Only staff ever read them back (the officer reviewing, the unit that filed), never the public.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from pathlib import Path
from typing import BinaryIO

import filetype

from services.common.errors import Problem

# What a unit scans or photographs: documents and pictures, identified by magic bytes, never by name.
EVIDENCE_TYPES: dict[str, str] = {
    "application/pdf": "PDF 文档",
    "image/jpeg": "JPEG 图片",
    "image/png": "PNG 图片",
    "image/webp": "WebP 图片",
}
CHUNK = 64 * 1024


def evidence_root(data_dir: Path) -> Path:
    return Path(data_dir) / "evidence"


def path_of(root: Path, sha256: str) -> Path:
    return root / sha256[:2] / sha256[2:4] / sha256


def _store(source: BinaryIO, *, root: Path, max_bytes: int, name: str) -> dict:
    staging = root / "staging"
    staging.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=staging, prefix="ev-")
    path = Path(tmp)
    try:
        digest, size, head = hashlib.sha256(), 0, b""
        with os.fdopen(fd, "wb") as out:
            while chunk := source.read(CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise Problem(413, f"佐证材料“{name}”超过 {max_bytes // (1024 * 1024)} MB。",
                                  slug="evidence-too-large", max_bytes=max_bytes)
                if len(head) < 512:
                    head += chunk[: 512 - len(head)]
                digest.update(chunk)
                out.write(chunk)
        if size == 0:
            raise Problem(422, f"佐证材料“{name}”是空文件。", slug="evidence-empty")
        kind = filetype.guess(head)
        media_type = kind.mime if kind else None
        if media_type not in EVIDENCE_TYPES:
            raise Problem(415, f"佐证材料“{name}”的格式不受支持：只收 PDF、JPEG、PNG、WebP。",
                          slug="evidence-type", allowed=sorted(EVIDENCE_TYPES))
        sha = digest.hexdigest()
        target = path_of(root, sha)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(path, 0o600)
        os.replace(path, target)  # same filesystem: atomic; the same content twice is stored once
        return {"sha256": sha, "media_type": media_type, "size": size, "name": name[:200]}
    finally:
        path.unlink(missing_ok=True)


async def store_evidence(source: BinaryIO, *, root: Path, max_bytes: int, name: str) -> dict:
    return await asyncio.to_thread(_store, source, root=root, max_bytes=max_bytes, name=name)


async def read_evidence(root: Path, sha256: str) -> bytes:
    return await asyncio.to_thread(path_of(root, sha256).read_bytes)
