"""QR posters end to end: registry, QR images, the mobile page, a real form submit with attachments,
the receipt code and its status page, and the bad inputs that must store nothing."""

from __future__ import annotations

import io
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlparse

from PIL import Image
from sqlalchemy import func, select

from services.common.auth import Principal
from services.intake.models import attachments, clues, posters, receipts

from ..media import jpeg_with_gps, tiny_wav


class FormReader(HTMLParser):
    """The first form of a page: its action, method, enctype and named inputs, as a browser sees them."""

    def __init__(self) -> None:
        super().__init__()
        self.form: dict | None = None
        self.fields: list[dict] = []
        self.in_form = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and self.form is None:
            self.form, self.in_form = attrs, True
        elif self.in_form and tag in ("input", "textarea") and attrs.get("name"):
            self.fields.append({"tag": tag, **attrs})

    def handle_endtag(self, tag):
        if tag == "form":
            self.in_form = False


async def a_poster(suite, ids, unit="U-WINDOW") -> dict:
    response = await suite.gateway.post("/api/v1/intake/posters", headers=ids.bearer("triage_officer"), json={
        "unit_id": unit, "place": "市民中心三楼不动产登记窗口", "title": "作风问题随手拍"})
    assert response.status_code == 201, response.text
    return response.json()


async def counts(suite) -> tuple[int, int, int]:
    async with suite.apps["intake"].state.sessions() as session:
        return (await session.scalar(select(func.count()).select_from(clues)),
                await session.scalar(select(func.count()).select_from(attachments)),
                await session.scalar(select(func.count()).select_from(receipts)))


def public(client: str) -> Principal:
    return Principal(kind="public", subject="anonymous", client=client)


async def test_poster_qr_images_point_at_its_page(suite, ids):
    poster = await a_poster(suite, ids)
    assert poster["page_url"].endswith(f"/qr/{poster['code']}")
    svg = await suite.gateway.get(f"/api/v1/intake/posters/{poster['code']}/qr.svg",
                                  headers=ids.bearer("triage_officer"))
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert "<svg" in svg.text and "<path" in svg.text
    png = await suite.gateway.get(f"/api/v1/intake/posters/{poster['code']}/qr.png",
                                  headers=ids.bearer("triage_officer"))
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    image = Image.open(io.BytesIO(png.content))
    assert image.size[0] == image.size[1] > 200
    public_call = await suite.gateway.get(f"/api/v1/intake/posters/{poster['code']}/qr.png")
    assert public_call.status_code == 401  # poster images are for staff to print; anonymous callers sign in
    other_unit = await suite.gateway.get(f"/api/v1/intake/posters/{poster['code']}",
                                         headers=ids.bearer("unit_handler", unit="U-OTHER"))
    assert other_unit.status_code == 404


async def test_qr_page_form_submits_text_photo_and_audio_to_the_posters_unit(suite, ids):
    poster = await a_poster(suite, ids, unit="U-QR-1")
    page = await suite.gateway.get(f"/qr/{poster['code']}", headers={"accept": "text/html"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "作风问题随手拍" in page.text and "<script" not in page.text
    reader = FormReader()
    reader.feed(page.text)
    assert reader.form["method"] == "post" and reader.form["enctype"] == "multipart/form-data"
    names = {f["name"] for f in reader.fields}
    assert {"text", "subject", "attachments", "name", "phone", "email", "id_number", "enterprise_related",
            "form_token"} <= names
    assert "直接转交该地点的责任单位" not in page.text and "纪委监委作风建设监督平台" in page.text

    # Fill the form as a user would: text only, anonymous, one photo (with GPS) and one recording.
    data = {"text": "窗口工作人员上班时间玩手机，群众排长队无人办理。", "subject": "不动产登记窗口",
            "name": "", "phone": "", "id_number": ""}
    files = [("attachments", ("IMG_0001.jpg", jpeg_with_gps(), "image/jpeg")),
             ("attachments", ("voice.wav", tiny_wav(noise=True), "audio/wav"))]
    action = urlparse(reader.form["action"]).path
    done = await suite.gateway.post(action, data=data, files=files, headers={"accept": "text/html"})
    assert done.status_code == 201, done.text
    assert "提交成功" in done.text and 'id="receipt-code"' in done.text
    code = done.text.split('id="receipt-code">')[1].split("<")[0].strip()
    tracking = done.text.split('id="tracking-number">')[1].split("<")[0]

    async with suite.apps["intake"].state.sessions() as session:
        clue = (await session.execute(select(clues).where(clues.c.tracking_number == tracking))).one()
        stored = (await session.execute(select(attachments).where(attachments.c.clue_id == clue.id))).all()
        receipt = (await session.execute(select(receipts).where(receipts.c.clue_id == clue.id))).one()
    assert (clue.channel, clue.unit_id, clue.poster_code, clue.anonymous, clue.attachment_count) == (
        "qr_code", "U-QR-1", poster["code"], True, 2)
    assert sorted(a.media_type for a in stored) == ["audio/x-wav", "image/jpeg"]
    assert code.replace("-", "") not in receipt.code_hash and receipt.code_hash.startswith("$argon2id$")
    blobs = Path(suite.apps["intake"].state.settings.data_dir) / "attachments"
    photo = next(a for a in stored if a.media_type == "image/jpeg")
    kept = (blobs / photo.sha256[:2] / photo.sha256[2:4] / photo.sha256).read_bytes()
    assert not Image.open(io.BytesIO(kept)).getexif() and b"ReporterPhone" not in kept

    listed = await suite.gateway.get(f"/api/v1/intake/clues/{clue.id}/attachments",
                                     headers=ids.bearer("investigator"))
    assert listed.status_code == 200 and len(listed.json()) == 2
    # the poster's unit sees nothing of a report until it is transferred to it (it may be about the unit)
    unscreened = await suite.gateway.get(f"/api/v1/intake/clues/{clue.id}/attachments",
                                         headers=ids.bearer("unit_handler", unit="U-QR-1"))
    assert unscreened.status_code == 404
    download = await suite.gateway.get(f"/api/v1/intake/clues/{clue.id}/attachments/{photo.id}",
                                       headers=ids.bearer("investigator"))
    assert download.status_code == 200 and download.content == kept
    assert download.headers["content-type"] == "image/jpeg"
    anonymous = await suite.gateway.get(f"/api/v1/intake/clues/{clue.id}/attachments/{photo.id}")
    assert anonymous.status_code == 401  # attachments are never served to the public
    other_unit = await suite.gateway.get(f"/api/v1/intake/clues/{clue.id}/attachments/{photo.id}",
                                         headers=ids.bearer("unit_handler", unit="U-OTHER"))
    assert other_unit.status_code == 404

    status = await suite.gateway.get(f"/api/v1/intake/receipts/{code}")
    assert status.status_code == 200, status.text
    assert status.json()["tracking_number"] == tracking and status.json()["status"] == "received"
    assert status.json()["status_label"] == "已登记"


async def test_qr_submit_as_json_client_gets_the_receipt_once(suite, ids):
    poster = await a_poster(suite, ids)
    response = await suite.intake.post(f"/api/v1/intake/qr/{poster['code']}/reports",
                                       headers=ids.internal(public("10.0.0.1")),
                                       data={"text": "工作人员索要好处费", "enterprise_related": "true"},
                                       files=[("attachments", ("", b"", "application/octet-stream"))])
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["receipt_code"] and body["channel"] == "qr_code"
    again = await suite.intake.get(f"/api/v1/intake/clues/{body['id']}", headers=ids.as_staff("triage_officer"))
    assert again.status_code == 200
    assert "receipt_code" not in again.json() and again.json()["enterprise_related"] is True


async def test_named_qr_report_gets_a_code_too_and_seals_identity(suite, ids):
    poster = await a_poster(suite, ids)
    response = await suite.intake.post(f"/api/v1/intake/qr/{poster['code']}/reports",
                                       headers=ids.internal(public("10.0.0.2")),
                                       data={"text": "窗口推诿", "name": "王五", "phone": "13700000000"})
    assert response.status_code == 201, response.text
    code = response.json()["receipt_code"]  # to read feedback without SMS
    assert code
    status = await suite.intake.get(f"/api/v1/intake/receipts/{code}", headers=ids.internal(public("10.0.0.2")))
    assert status.status_code == 200 and "王五" not in status.text
    detail = await suite.intake.get(f"/api/v1/intake/clues/{response.json()['id']}",
                                    headers=ids.as_staff("triage_officer"))
    assert detail.json()["anonymous"] is False
    assert "王五" not in detail.text and "13700000000" not in detail.text


async def test_bad_qr_submissions_are_problems_and_store_nothing(suite, ids):
    poster = await a_poster(suite, ids)
    url = f"/api/v1/intake/qr/{poster['code']}/reports"
    headers = ids.internal(public("10.0.0.3"))
    settings = suite.apps["intake"].state.settings
    staging = Path(settings.data_dir) / "staging"
    before = await counts(suite)

    unknown = await suite.intake.post("/api/v1/intake/qr/NO-SUCH-POSTER/reports", headers=headers,
                                      data={"text": "x"})
    assert unknown.status_code == 404 and unknown.json()["type"].endswith("/unknown-poster")
    missing_text = await suite.intake.post(url, headers=headers, data={"subject": "x"},
                                           files=[("attachments", ("a.jpg", jpeg_with_gps(), "image/jpeg"))])
    assert missing_text.status_code == 422 and missing_text.json()["errors"][0]["loc"] == ["body", "text"]
    wrong_type = await suite.intake.post(url, headers=headers, data={"text": "x"}, files=[
        ("attachments", ("photo.jpg", b"%PDF-1.7\n" + b"0" * 200, "image/jpeg"))])
    assert wrong_type.status_code == 415 and wrong_type.headers["content-type"] == "application/problem+json"
    too_big = await suite.intake.post(url, headers=headers, data={"text": "x"}, files=[
        ("attachments", ("ok.jpg", jpeg_with_gps(), "image/jpeg")),
        ("attachments", ("big.wav", b"RIFF" + b"\0" * (settings.attachment_max_bytes + 10), "audio/wav"))])
    assert too_big.status_code == 413
    too_many = await suite.intake.post(url, headers=headers, data={"text": "x"}, files=[
        ("attachments", (f"{n}.wav", tiny_wav(noise=True), "audio/wav")) for n in range(settings.attachment_max_count + 1)])
    assert too_many.status_code == 413
    json_body = await suite.intake.post(url, headers=headers, json={"text": "x"})
    assert json_body.status_code == 415
    assert await counts(suite) == before
    assert list(staging.iterdir()) == []


async def test_unknown_or_withdrawn_poster_page_is_a_chinese_404(suite, ids):
    page = await suite.gateway.get("/qr/nope-nope", headers={"accept": "text/html"})
    assert page.status_code == 404 and "二维码无效" in page.text
    poster = await a_poster(suite, ids)
    moved = await suite.gateway.patch(f"/api/v1/intake/posters/{poster['code']}", json={"unit_id": "U-NEW"},
                                      headers=ids.bearer("triage_officer"))
    assert moved.status_code == 200 and moved.json()["unit_id"] == "U-NEW" and moved.json()["active"]
    withdrawn = await suite.gateway.patch(f"/api/v1/intake/posters/{poster['code']}", json={"active": False},
                                          headers=ids.bearer("triage_officer"))
    assert withdrawn.json()["active"] is False
    page = await suite.gateway.get(f"/qr/{poster['code']}", headers={"accept": "text/html"})
    assert page.status_code == 404 and "二维码无效" in page.text
    submit = await suite.gateway.post(f"/api/v1/intake/qr/{poster['code']}/reports", data={"text": "x"})
    assert submit.status_code == 404


async def test_receipt_lookups_are_rate_limited_per_client(suite, ids):
    headers = ids.internal(public("10.9.9.9"))
    limit = suite.apps["intake"].state.settings.receipt_lookups_per_minute
    answers = [(await suite.intake.get("/api/v1/intake/receipts/AAAA-BBBB-CCCC-DDDD-EEEE", headers=headers)).status_code
               for _ in range(limit + 1)]
    assert answers == [404] * limit + [429]
    elsewhere = await suite.intake.get("/api/v1/intake/receipts/AAAA-BBBB-CCCC-DDDD-EEEE",
                                       headers=ids.internal(public("10.9.9.10")))
    assert elsewhere.status_code == 404


async def test_posters_are_listed_with_a_cursor(suite, ids):
    for _ in range(3):
        await a_poster(suite, ids, unit="U-LIST")
    first = await suite.gateway.get("/api/v1/intake/posters", params={"limit": 2},
                                    headers=ids.bearer("triage_officer"))
    assert first.status_code == 200 and len(first.json()["items"]) == 2
    cursor = first.json()["next_cursor"]
    second = await suite.gateway.get("/api/v1/intake/posters", params={"limit": 2, "cursor": cursor},
                                     headers=ids.bearer("triage_officer"))
    assert {p["code"] for p in second.json()["items"]}.isdisjoint({p["code"] for p in first.json()["items"]})
    scoped = await suite.gateway.get("/api/v1/intake/posters", headers=ids.bearer("unit_handler", unit="U-LIST"))
    assert {p["unit_id"] for p in scoped.json()["items"]} == {"U-LIST"}
    async with suite.apps["intake"].state.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(posters).where(posters.c.unit_id == "U-LIST")) >= 3
