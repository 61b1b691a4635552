"""Attachments through the QR form on the real suite: what a unit handler downloads carries no location,
device or name, and an image bomb is refused before it is decoded (issue 13, items 1 and 2)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from services.common.auth import Principal
from services.intake.models import attachments, clues

from ..media import LEAKS, mp3_with_id3, png_declaring, video_with_location
from .test_intake_qr import a_poster, counts


def public(client: str) -> dict:
    return Principal(kind="public", subject="anonymous", client=client)


async def test_videos_and_recordings_are_stored_and_served_without_metadata(suite, ids):
    poster = await a_poster(suite, ids, unit="U-MEDIA-1")
    files = [("attachments", ("VID_0001.mp4", video_with_location("mp4"), "video/mp4")),
             ("attachments", ("IMG_0002.MOV", video_with_location("mov"), "video/quicktime")),
             ("attachments", ("录音.mp3", mp3_with_id3(), "audio/mpeg"))]
    assert all(any(leak in f[1][1] for leak in LEAKS) for f in files)
    response = await suite.intake.post(f"/api/v1/intake/qr/{poster['code']}/reports",
                                       headers=ids.internal(public("10.0.7.1")),
                                       data={"text": "执法人员索要好处费，视频和录音为证。"}, files=files)
    assert response.status_code == 201, response.text
    clue_id = response.json()["id"]
    async with suite.apps["intake"].state.sessions() as session:
        stored = (await session.execute(select(attachments).where(attachments.c.clue_id == clue_id))).all()
    assert sorted(a.media_type for a in stored) == ["audio/mpeg", "video/mp4", "video/quicktime"]
    blobs = Path(suite.apps["intake"].state.settings.data_dir) / "attachments"
    for a in stored:
        kept = (blobs / a.sha256[:2] / a.sha256[2:4] / a.sha256).read_bytes()
        assert [leak for leak in LEAKS if leak in kept] == [], a.media_type
        assert len(kept) == a.size
        served = await suite.gateway.get(f"/api/v1/intake/clues/{clue_id}/attachments/{a.id}",
                                         headers=ids.bearer("investigator"))
        assert served.status_code == 200 and served.content == kept


async def test_an_image_bomb_is_refused_with_a_clear_problem_and_nothing_is_stored(suite, ids):
    poster = await a_poster(suite, ids)
    bomb = png_declaring(7750, 7750)  # ~57 KiB on the wire, 60 Mpx: under Pillow's own caps
    assert len(bomb) < 200 * 1024
    before = await counts(suite)
    async with suite.apps["intake"].state.sessions() as session:
        clues_before = await session.scalar(select(func.count()).select_from(clues))
    response = await suite.intake.post(f"/api/v1/intake/qr/{poster['code']}/reports",
                                       headers=ids.internal(public("10.0.7.2")),
                                       data={"text": "窗口推诿"}, files=[("attachments", ("a.png", bomb, "image/png"))])
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"].endswith("/image-too-large")
    assert "7750×7750" in problem["detail"] and "万像素" in problem["detail"]
    assert problem["max_pixels"] == suite.apps["intake"].state.settings.image_max_pixels == 40_000_000
    assert await counts(suite) == before and before[0] == clues_before
    assert list((Path(suite.apps["intake"].state.settings.data_dir) / "staging").iterdir()) == []


async def test_blobs_stored_before_the_remux_are_recleaned_once(suite, ids):
    """What the old code kept as sent (a tagged video) is cleaned in place; a second run changes nothing."""
    import hashlib

    from sqlalchemy import insert

    from services.common.ids import new_id
    from services.intake.reclean import reclean

    state = suite.apps["intake"].state
    poster = await a_poster(suite, ids, unit="U-MEDIA-OLD")
    response = await suite.intake.post(f"/api/v1/intake/qr/{poster['code']}/reports",
                                       headers=ids.internal(public("10.0.7.3")), data={"text": "旧视频"})
    clue_id = response.json()["id"]
    raw, broken = video_with_location("mp4", frames=7), video_with_location("mov")[:60]
    old_ids = {}
    async with state.sessions() as session, session.begin():
        for name, data, media_type in (("raw", raw, "video/mp4"), ("broken", broken, "video/quicktime")):
            digest = hashlib.sha256(data).hexdigest()
            path = state.blobs.path_of(digest)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)  # as the old code stored it: the upload itself
            old_ids[name] = new_id()
            await session.execute(insert(attachments).values(id=old_ids[name], clue_id=clue_id, sha256=digest,
                                                             media_type=media_type, size=len(data)))

    report = await reclean(state.sessions, state.blobs, state.settings)
    assert report.cleaned >= 1 and report.unreadable == [str(old_ids["broken"])]
    async with state.sessions() as session:
        row = (await session.execute(select(attachments).where(attachments.c.id == old_ids["raw"]))).one()
    assert row.sha256 != hashlib.sha256(raw).hexdigest()
    assert not state.blobs.path_of(hashlib.sha256(raw).hexdigest()).exists()
    served = await suite.gateway.get(f"/api/v1/intake/clues/{clue_id}/attachments/{row.id}",
                                     headers=ids.bearer("investigator"))
    assert served.status_code == 200 and len(served.content) == row.size
    assert [leak for leak in LEAKS if leak in served.content] == []

    again = await reclean(state.sessions, state.blobs, state.settings)
    assert again.cleaned == 0 and again.already_clean >= 1
