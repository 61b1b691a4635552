"""Re-clean attachments stored before audio and video were remuxed (issue 13): ``python -m services.intake.reclean``.

Until the remux, audio and video were kept as sent, so a blob may still carry a location, a device or the
owner's name, and would be served as such to a unit handler. This runs every stored audio/video blob
through the same cleaning as a new upload, points its attachment rows at the clean blob, and deletes the
old one. A blob that is already clean remuxes to itself and is left alone, so a second run changes
nothing. One FFmpeg cannot read is reported (by attachment id) for an operator to look at, never
served any differently.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.common.db import create_engine, create_session_factory, session_scope
from services.common.errors import Problem

from .attachments import ALLOWED_MEDIA_TYPES, BlobStore, blob_store, stage_upload, staging_dir
from .models import attachments
from .settings import IntakeSettings, get_settings

_TIMED = tuple(t for t, kind in ALLOWED_MEDIA_TYPES.items() if kind in ("audio", "video"))


@dataclass
class RecleanReport:
    cleaned: int = 0
    already_clean: int = 0
    unreadable: list[str] = field(default_factory=list)  # attachment ids


def _clean(data: bytes, settings: IntakeSettings):
    """The cleaned staging file for ``data`` (blocking)."""
    staging = staging_dir(settings)
    staging.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=staging, prefix="old-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        with open(name, "rb") as source:
            return stage_upload(source, staging_dir=staging, max_bytes=max(len(data), 1),
                                max_pixels=settings.image_max_pixels, concurrency=settings.media_concurrency)
    finally:
        Path(name).unlink(missing_ok=True)


async def reclean(sessions: async_sessionmaker[AsyncSession], blobs: BlobStore, settings: IntakeSettings
                  ) -> RecleanReport:
    report = RecleanReport()
    async with session_scope(sessions) as session:
        rows = (await session.execute(
            select(attachments.c.id, attachments.c.sha256).where(attachments.c.media_type.in_(_TIMED)))).all()
    by_blob: dict[str, list[str]] = {}
    for row in rows:
        by_blob.setdefault(row.sha256, []).append(str(row.id))
    for old, ids in by_blob.items():
        try:
            staged = await asyncio.to_thread(_clean, await blobs.get(old), settings)
        except Problem:
            report.unreadable.extend(ids)
            continue
        if staged.sha256 == old:
            staged.path.unlink(missing_ok=True)
            report.already_clean += len(ids)
            continue
        await blobs.put(staged)
        async with session_scope(sessions) as session:
            await session.execute(update(attachments).where(attachments.c.sha256 == old)
                                  .values(sha256=staged.sha256, size=staged.size))
        # Only after the rows point at the clean blob: a failure in between leaves a harmless orphan.
        await blobs.delete(old)
        report.cleaned += len(ids)
    return report


async def _main() -> int:
    settings = get_settings()
    engine = create_engine(settings, pool_size=1)
    try:
        report = await reclean(create_session_factory(engine), blob_store(settings), settings)
    finally:
        await engine.dispose()
    print(f"cleaned {report.cleaned}, already clean {report.already_clean}, unreadable {len(report.unreadable)}")
    for attachment_id in report.unreadable:
        print(f"unreadable attachment {attachment_id}")
    return 1 if report.unreadable else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(_main()))
