"""A large city's day, end to end: hotline clues and QR reports through the gateway, the daily run, the
sheet, the cases and the notifications, each counted against what was sent.

    .venv/bin/python -m bench.city_day [--clues 20000] [--qr 500] [--seed 20261122]

The whole stack runs as real processes (``bench.common.running_stack``: five services and the gateway
under uvicorn, the local PostgreSQL and Kafka, a fresh database and topic prefix), with a real SMTP sink
(aiosmtpd) and a real HTTP receiver standing in for the SMS and WeChat providers. The day is generated
deterministically from a seed (:func:`generate_day`); what every service should hold afterwards is derived
from what was sent and from the services' documented rules (:func:`expect`), then read back from the
database, the sheet and the sinks (:func:`observe`) and compared exactly (:func:`compare`). A mismatch is
printed and the process exits non-zero. ``tests/integration/test_city_day.py`` runs the same generator and
the same counting on a few hundred clues against the in-process suite.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import random
import re
import secrets
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import asyncpg
import numpy as np
import httpx
import orjson
import yaml
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from services.intake import catalog as intake_catalog
from services.triage import dedupe
from services.triage.taxonomy import Taxonomy, default_taxonomy
from services.triage.units import DEMO_UNITS_FILE, Directory, load_routing_rules

REPO = Path(__file__).resolve().parents[1]
LABELLED = REPO / "tests" / "data" / "triage_labelled_clues.yaml"
LINES = ("12345", "12388", "12380")
LINE_SHARE = (0.72, 0.18, 0.10)  # 12345 carries most of a city's calls; 12388 and 12380 are narrower lines
BATCH = 500

# ---- the day's material ----------------------------------------------------------------------------------
# Pools of wording that carry no taxonomy phrase and name no unit (checked in ``_check_pools``): they vary
# the clues without changing how triage classifies or routes them; the labelled clues carry the meaning.
OPENINGS = ("市民来电称", "来电人表示", "群众来电说", "热线工单记录", "来电群众讲", "市民留言说", "一位市民来电讲述",
            "有位大爷来电说", "一名外地来同的市民说", "来电的女士说", "一位老职工来电说", "留言人写道")
STREETS = ("御河东路", "魏都大道", "永泰南路", "文兴路", "同泉路", "迎宾街", "南环路", "开源街", "云中路", "西环路",
           "北都街", "红旗街", "和阳街", "振华街", "新开里", "操场城街", "鼓楼东街", "华严街", "清远街")
PARTS = ("上午", "下午", "晚上", "中午", "早上")
CLOSINGS = ("请相关部门核实", "希望尽快给个说法", "盼早日解决", "请督促改正", "希望能够查清楚", "请予以核查",
            "希望有人过问一下", "请尽快答复", "希望引起重视", "盼回复")
TOPICS = ("居住证", "新生儿落户", "老年优待卡", "电动自行车上牌", "市民卡", "港澳通行证", "流动人口登记", "结婚登记",
          "出生证明补打", "独生子女证", "老年人乘车卡", "身份证异地换领", "户口迁入", "无犯罪记录证明")
FIRMS = ("恒通", "宏达", "鑫源", "华晋", "同煤", "云冈", "御东", "泰和", "金诚", "晋北", "长城", "瑞丰")
TRIGGERS = (
    "{firm}商贸有限公司申请的经营许可审批迟迟不批，材料第{n}次被退回",
    "{firm}新材料项目推进缓慢，签约{n}个月了至今停工",
    "{firm}集团的投资方已经表示要撤资，{n}千万元的投资转投外省",
    "{firm}招商项目的审批手续反复被退回，前后{n}次",
    "{firm}片区市政工程严重超概算超工期，比合同晚了{n}个月",
)
POSTER_PLACES = ("一楼大厅", "二楼服务窗口", "东门入口", "候诊区", "叫号机旁", "二号窗口", "咨询台", "停车场入口")


@dataclass
class Report:
    """One report as sent, and what the generator meant by it."""

    key: str
    channel: str  # hotline_12345 / hotline_12388 / hotline_12380 / qr_code
    text: str
    subject: str | None = None
    unit_id: str | None = None  # the hotline's 承办单位, or the poster's unit for a QR report
    enterprise: bool = False
    reporter: dict[str, str] | None = None
    external_id: str | None = None
    poster: str | None = None
    duplicate_of: str | None = None  # key of the report this one repeats (merged by triage)
    repush: bool = False  # the hotline sends this ticket again later (intake answers "duplicate")
    invalid: bool = False  # the ticket breaks the schema (intake rejects it, the batch goes on)
    images: list[tuple[str, bytes]] = field(default_factory=list)  # QR attachments: (media type, bytes)
    core: str = ""  # the complaint itself, around which ``text`` tells the story
    kind: str = "story"  # story / consultation / short

    @property
    def line(self) -> str | None:
        return self.channel.removeprefix("hotline_") if self.channel.startswith("hotline_") else None

    @property
    def contact(self) -> dict[str, str]:
        return {k: v for k, v in (self.reporter or {}).items() if k in ("phone", "email") and v}


@dataclass
class Day:
    seed: int
    hotline: list[Report]
    qr: list[Report]
    posters: list[dict[str, str]]
    tag: str

    @property
    def reports(self) -> list[Report]:
        return self.hotline + self.qr


def _labelled() -> list[tuple[str, str, str]]:
    return [tuple(row) for row in yaml.safe_load(LABELLED.read_text(encoding="utf-8"))]


def demo_units() -> list[dict[str, Any]]:
    from services.triage.units import read_directory_file

    return [r.row() for r in read_directory_file(DEMO_UNITS_FILE)]


def _check_pools(taxonomy: Taxonomy, directory: Directory) -> None:
    for pool in (OPENINGS, STREETS, PARTS, CLOSINGS, POSTER_PLACES, DETAILS):
        for text in pool:
            found = taxonomy.scan(text) | directory.scan(text)
            assert not found, f"pool wording {text!r} would change triage: {found}"


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def _clauses() -> dict[str, list[str]]:
    """The labelled clues cut into clauses, per family: a day's complaints are new combinations of them."""
    out: dict[str, list[str]] = {}
    for family, _, text in _labelled():
        parts = [p for p in re.split(r"[，。；！？、]", text) if p]
        merged: list[str] = []
        for part in parts:  # a fragment too short to stand alone goes with the one before it
            if merged and len(part) < 5:
                merged[-1] += "，" + part
            else:
                merged.append(part)
        out.setdefault(family, []).extend(merged)
    return out


DETAILS = ("当时在场的还有{a}位群众，工作人员胸牌编号{b}", "来电人留存的凭条号{c}", "前后一共去了{a}次，排的号是{b}",
           "那位工作人员的工号是{b}，当天的小票编号{c}", "电话是{a}点打的，通话记录编号{c}", "一起去的还有{a}个人，经手人编号{b}")


def _story(rng: random.Random, core: str) -> str:
    """A clue as a caller tells it: who, when, where, the complaint, specifics nobody else shares."""
    when = f"{rng.randint(1, 11)}月{rng.randint(1, 28)}日{rng.choice(PARTS)}{rng.randint(1, 12)}点{rng.randint(0, 59)}分"
    where = f"在{rng.choice(STREETS)}{rng.randint(1, 399)}号附近"
    detail = rng.choice(DETAILS).format(a=rng.randint(2, 30), b=_digits(rng, 5), c=_digits(rng, 8))
    return f"{rng.choice(OPENINGS)}，{when}{where}，{core.rstrip('。')}。{detail}，{rng.choice(CLOSINGS)}。"


def _consultation(rng: random.Random) -> str:
    ask = rng.choice(("需要带什么材料", "在哪个窗口", "要多长时间", "能不能网上办", "周末能办吗", "要交多少钱"))
    return (f"请问{rng.choice(TOPICS)}怎么办理，{ask}，我住{rng.choice(STREETS)}{rng.randint(1, 399)}号，"
            f"来电号码尾号{_digits(rng, 4)}，工单{_digits(rng, 9)}。")


def _short(rng: random.Random) -> str:
    return f"{_digits(rng, 4)}号窗口"


def _variant(text: str, rng: random.Random) -> str:
    """The same clue told again on another line: punctuation and spacing differ, the words do not."""
    swaps = {"，": rng.choice(("、", " ", "，", "；")), "。": rng.choice(("！", "。", "…"))}
    return "".join(swaps.get(ch, ch) for ch in text)


def _reporter(rng: random.Random, n: int, *, email_allowed: bool = True) -> dict[str, str] | None:
    """About one caller in six gives a name: most of them a phone, some an e-mail, a few no contact."""
    if rng.random() >= 0.16:
        return None
    name = rng.choice("王李张刘陈杨赵黄周吴") + rng.choice(("建国", "丽", "强", "敏", "伟", "芳", "军", "静"))
    phone = f"13{rng.randint(0, 9)}{_digits(rng, 8)}"
    email = f"r{n}.{_digits(rng, 4)}@mail.example.cn"
    id_number = f"14020219{_digits(rng, 10)}"
    roll = rng.random()
    if not email_allowed:  # the QR page asks for a phone, not an e-mail
        return {"name": name, "phone": phone} if roll < 0.9 else {"name": name, "id_number": id_number}
    if roll < 0.6:
        return {"name": name, "phone": phone}
    if roll < 0.8:
        return {"name": name, "phone": phone, "email": email}
    if roll < 0.93:
        return {"name": name, "email": email}
    return {"name": name, "id_number": id_number}  # named, but no way to reach them


def _image(rng: random.Random, media_type: str) -> bytes:
    """A phone photo: noise (so each is distinct content), with EXIF GPS and device for JPEG, a text chunk
    with the place for PNG: the metadata intake must strip."""
    width, height = rng.choice(((64, 48), (96, 72), (120, 90)))
    img = Image.frombytes("RGB", (width, height), rng.randbytes(width * height * 3))
    out = io.BytesIO()
    if media_type == "image/jpeg":
        exif = Image.Exif()
        exif[0x010F] = "Xiaomi"
        exif[0x0110] = f"M{rng.randint(1000, 9999)}"
        exif.get_ifd(0x8825).update({1: "N", 2: (40.0, 5.0, float(rng.randint(0, 59))), 3: "E",
                                     4: (113.0, 18.0, float(rng.randint(0, 59)))})
        img.save(out, "JPEG", quality=80, exif=exif.tobytes())
    else:
        info = PngInfo()
        info.add_text("Location", f"40.0{_digits(rng, 4)}N 113.3{_digits(rng, 4)}E")
        img.save(out, "PNG", pnginfo=info)
    return out.getvalue()


def generate_day(seed: int, clues: int, qr: int, *, units: list[dict[str, Any]] | None = None,
                 taxonomy: Taxonomy | None = None) -> Day:
    """A city's day, the same for the same seed: ``clues`` hotline tickets (re-pushes and invalid tickets
    included in that number) and ``qr`` QR reports with attachments.

    Mix: the three lines by ``LINE_SHARE``; cores from the labelled clues (all three families); about 4%
    with a 五必查 trigger (enterprise wording), 8% flagged 涉企 by the hotline, 20% pre-routed to a unit of
    the directory and 40% naming a subject; 5% repeat an earlier clue on another line (triage merges
    them), 1% are pushed twice, 0.25% are invalid, 2% are consultations or too short (存查); one caller in
    six is named. Duplicates of each other are exactly the intended ones: :func:`_untangle` redraws any
    clue that the duplicate detector would find alike to another by accident."""
    taxonomy = taxonomy or default_taxonomy()
    units = units if units is not None else demo_units()
    directory = Directory.build(units, load_routing_rules())
    _check_pools(taxonomy, directory)
    rng = random.Random(seed)
    tag = f"CD{seed % 100000:05d}{secrets.token_hex(2).upper()}"  # ids unique per run, wording per seed
    clauses = _clauses()
    families = sorted(clauses)
    unit_rows = [u for u in units if u["level"] != "region"]
    named_units = [u for u in unit_rows if u["level"] == "section"] or unit_rows

    def complaint(n: int) -> dict[str, Any]:
        roll = rng.random()
        if roll < 0.015:  # a consultation, not a conduct complaint (存查)
            return {"kind": "consultation", "text": _consultation(rng)}
        if roll < 0.02:  # too short to be checked (存查)
            return {"kind": "short", "text": _short(rng)}
        core = "，".join(rng.sample(clauses[rng.choice(families)], rng.choice((2, 3, 3, 4))))
        enterprise = rng.random() < 0.08
        if rng.random() < 0.04:  # 五必查 wording, always about an enterprise's project or approval
            trigger = rng.choice(TRIGGERS).format(firm=rng.choice(FIRMS) + rng.choice(FIRMS), n=rng.randint(2, 19))
            core = f"{core}。另外，{trigger}"
            enterprise = True
        unit_id = rng.choice(unit_rows)["id"] if unit_rows and rng.random() < 0.2 else None
        subject = None
        if rng.random() < 0.4:
            subject = rng.choice(named_units)["name"] if named_units and rng.random() < 0.6 else "窗口工作人员"
        return {"kind": "story", "core": core, "text": _story(rng, core), "subject": subject, "unit_id": unit_id,
                "enterprise": enterprise}

    hotline: list[Report] = []
    originals: list[Report] = []
    for n in range(clues):
        line = rng.choices(LINES, LINE_SHARE)[0]
        key = f"{tag}-H{n:06d}"
        external_id = f"{line}-{tag}-{n:06d}"
        if originals and rng.random() < 0.05:
            first = rng.choice(originals)
            if first.kind == "story":
                hotline.append(Report(
                    key=key, channel=f"hotline_{line}", text=_variant(first.text, rng), subject=first.subject,
                    unit_id=first.unit_id, enterprise=first.enterprise, reporter=_reporter(rng, n),
                    external_id=external_id, duplicate_of=first.key))
                continue
        report = Report(key=key, channel=f"hotline_{line}", reporter=_reporter(rng, n), external_id=external_id,
                        # at least one of each, however small the day
                        repush=rng.random() < 0.01 or n == 5, invalid=rng.random() < 0.0025 or n == 11,
                        **complaint(n))
        if report.invalid:
            report.repush = False
        else:
            originals.append(report)
        hotline.append(report)

    posters = []
    for n in range(max(1, min(25, qr // 10 or 1))):
        unit = named_units[n % len(named_units)] if named_units else {"id": "dt", "name": "市直"}
        posters.append({"code": f"{tag}-P{n:03d}", "unit_id": unit["id"],
                        "place": f"{unit['name']}{rng.choice(POSTER_PLACES)}", "title": f"{unit['name']}作风监督码"})
    qr_reports = []
    for n in range(qr):
        poster = rng.choice(posters)
        core = "，".join(rng.sample(clauses[rng.choice(families)], rng.choice((2, 3, 3, 4))))
        reporter = _reporter(rng, 100_000 + n, email_allowed=False)  # the QR form asks for a phone, not e-mail
        images = [(kind, _image(rng, kind)) for kind in
                  (rng.choices(("image/jpeg", "image/png"), (0.7, 0.3))[0] for _ in range(rng.choice((0, 1, 1, 2, 3))))]
        qr_reports.append(Report(
            key=f"{tag}-Q{n:05d}", channel="qr_code", text=_story(rng, core), core=core, subject=None,
            unit_id=poster["unit_id"], enterprise=rng.random() < 0.05, reporter=reporter, poster=poster["code"],
            images=images))
    day = Day(seed=seed, hotline=hotline, qr=qr_reports, posters=posters, tag=tag)
    _untangle(day, rng)
    return day


def _alike_pairs(reports: list[Report]) -> set[tuple[int, int]]:
    """Every pair the duplicate detector could find alike, whatever the order the clues arrive in: all
    pairs sharing an LSH bucket (the detector links neighbours in an order-dependent sort), checked with
    its own similarity and subject rules."""
    sig = dedupe.signatures([r.text for r in reports], num_perm=32)
    mixers = np.random.default_rng(7).integers(1, 1 << 62, size=4, dtype=np.uint64) | np.uint64(1)
    pairs: set[tuple[int, int]] = set()
    for band in range(8):
        keys = (sig[:, band * 4 : (band + 1) * 4] * mixers).sum(axis=1)
        buckets: dict[int, list[int]] = {}
        for i, key in enumerate(keys.tolist()):
            buckets.setdefault(key, []).append(i)
        for members in buckets.values():
            for a in range(len(members)):
                for b in range(a + 1, len(members)):
                    i, j = members[a], members[b]
                    if ((sig[i] == sig[j]).mean() >= 0.6
                            and dedupe._subject_alike(reports[i].subject, reports[j].subject)):
                        pairs.add((i, j))
    return pairs


def _untangle(day: Day, rng: random.Random) -> None:
    """Redraw the specifics of any clue the duplicate detector could find alike to another it does not
    repeat, until the only duplicates are the intended ones (the rules: ``services.triage.dedupe``)."""
    retell = {"story": lambda r: _story(rng, r.core), "consultation": lambda r: _consultation(rng),
              "short": lambda r: _short(rng)}
    for _ in range(20):
        stored = [r for r in day.reports if not r.invalid]
        root_of = {r.key: r.duplicate_of or r.key for r in stored}
        tangled = set()
        for i, j in _alike_pairs(stored):
            if root_of[stored[i].key] != root_of[stored[j].key]:
                tangled.add(root_of[stored[j].key])
        if not tangled:
            return
        for r in stored:
            if r.key in tangled:
                r.text = retell[r.kind](r)  # a new telling around the same complaint
                for d in stored:
                    if d.duplicate_of == r.key:
                        d.text = _variant(r.text, rng)
    raise RuntimeError("could not generate a day without accidental duplicates")


# ---- sending ------------------------------------------------------------------------------------------------

_DIALECT = {line: {ours: theirs for theirs, ours in fields.items()}
            for line, fields in intake_catalog.hotline_field_maps().items()}


def hotline_payload(report: Report) -> dict[str, Any]:
    """The ticket in the line's own field names (``services/intake/data/hotline_fields.yaml``)."""
    names = _DIALECT.get(report.line or "", {})
    body: dict[str, Any] = {names.get("external_id", "external_id"): report.external_id,
                            names.get("text", "text"): "" if report.invalid else report.text}
    if report.subject:
        body[names.get("subject", "subject")] = report.subject
    if report.unit_id:
        body[names.get("unit_id", "unit_id")] = report.unit_id
    if report.enterprise:
        body[names.get("enterprise_related", "enterprise_related")] = True
    nested = {}
    for k, v in (report.reporter or {}).items():
        if f"reporter.{k}" in names:
            body[names[f"reporter.{k}"]] = v
        else:
            nested[k] = v  # e.g. e-mail: no line has a field of its own, intake's name is always accepted
    if nested:
        body["reporter"] = nested
    return body


@dataclass
class Sent:
    """What intake answered, per report key."""

    clue_ids: dict[str, str] = field(default_factory=dict)  # key → clue id (created)
    outcomes: Counter = field(default_factory=Counter)  # created / duplicate / rejected / http <status>
    repush_ids: dict[str, str] = field(default_factory=dict)  # key → the id intake answered the re-push with
    receipts: dict[str, str] = field(default_factory=dict)  # QR key → receipt code (anonymous reporters)
    seconds: dict[str, float] = field(default_factory=dict)


Signer = Callable[[str, str, bytes], dict[str, str]]


def hotline_signer(keys: dict[str, dict[str, str]]) -> Signer:
    """Headers for a signed request by the key of ``line`` (``gateway.hotline.sign``)."""
    from gateway.hotline import sign

    by_line = {k["line"]: (key_id, k["secret"]) for key_id, k in keys.items()}

    def signer(line: str, target: str, body: bytes) -> dict[str, str]:
        key_id, secret = by_line[line]
        return sign(key_id, secret, "POST", target, body)

    return signer


def hotline_keys() -> dict[str, dict[str, str]]:
    return {f"cityday-{line}": {"secret": secrets.token_hex(24), "line": line} for line in LINES}


def _batches(day: Day) -> list[tuple[str, list[Report], bool]]:
    """(line, batch of ≤ 500 in arrival order, is a re-push): the three lines interleaved, as three systems
    pushing at once; tickets pushed again go in each line's last batches."""
    per_line = {}
    for line in LINES:
        tickets = [r for r in day.hotline if r.line == line]
        again = [r for r in tickets if r.repush]
        per_line[line] = [(line, tickets[i : i + BATCH], False) for i in range(0, len(tickets), BATCH)]
        per_line[line] += [(line, again[i : i + BATCH], True) for i in range(0, len(again), BATCH)]
    longest = max(len(v) for v in per_line.values())
    return [per_line[line][i] for i in range(longest) for line in LINES if i < len(per_line[line])]


async def push_hotline(client: httpx.AsyncClient, day: Day, signer: Signer, sent: Sent, *,
                       concurrency: int = 3) -> None:
    """Every ticket through the gateway in signed batches, a few in flight at once."""
    gate = asyncio.Semaphore(concurrency)

    async def one(line: str, chunk: list[Report], again: bool) -> None:
        target = f"/api/v1/intake/feeds/{line}/reports:batch"
        body = orjson.dumps({"reports": [hotline_payload(r) for r in chunk]})
        async with gate:
            for attempt in range(5):
                headers = {**signer(line, target, body), "content-type": "application/json"}
                response = await client.post(target, content=body, headers=headers)
                if response.status_code not in (502, 503, 504):
                    break
                await asyncio.sleep(0.5 * (attempt + 1))  # a retried batch is idempotent on the ticket ids
        if response.status_code != 200:
            sent.outcomes[f"http {response.status_code}"] += len(chunk)
            return
        for report, result in zip(chunk, response.json()["results"], strict=True):
            outcome = result["outcome"]
            sent.outcomes[outcome] += 1
            if outcome == "rejected":
                continue
            if again:
                sent.repush_ids[report.key] = result["id"]
            # created, or (a batch retried after a lost answer, or overtaken by its re-push) already ours
            known = sent.clue_ids.setdefault(report.key, result["id"])
            if known != result["id"]:
                sent.outcomes["answered with another clue"] += 1

    started = time.perf_counter()
    await asyncio.gather(*(one(line, chunk, again) for line, chunk, again in _batches(day)))
    sent.seconds["hotline"] = time.perf_counter() - started


async def register_posters(client: httpx.AsyncClient, day: Day, staff: dict[str, str]) -> None:
    for poster in day.posters:
        response = await client.post("/api/v1/intake/posters", json=poster, headers=staff)
        assert response.status_code == 201, response.text


async def submit_qr(client: httpx.AsyncClient, day: Day, sent: Sent, *, concurrency: int = 8) -> None:
    """Each QR report through the gateway's public path, as a phone's page posts it (multipart)."""
    gate = asyncio.Semaphore(concurrency)

    async def one(report: Report) -> None:
        data = {"text": report.text, "enterprise_related": "true" if report.enterprise else "false"}
        data |= {k: v for k, v in (report.reporter or {}).items() if k in ("name", "phone", "id_number")}
        files = [("attachments", (f"IMG_{i}.{'jpg' if kind == 'image/jpeg' else 'png'}", content, kind))
                 for i, (kind, content) in enumerate(report.images)]
        async with gate:
            response = await client.post(f"/api/v1/intake/qr/{report.poster}/reports", data=data,
                                         files=files or None, headers={"accept": "application/json"})
        if response.status_code != 201:
            sent.outcomes[f"qr http {response.status_code}"] += 1
            return
        sent.outcomes["qr created"] += 1
        sent.clue_ids[report.key] = response.json()["id"]
        if response.json().get("receipt_code"):
            sent.receipts[report.key] = response.json()["receipt_code"]

    started = time.perf_counter()
    await asyncio.gather(*(one(r) for r in day.qr))
    sent.seconds["qr"] = time.perf_counter() - started


# ---- what should follow -------------------------------------------------------------------------------------


@dataclass
class Outlook:
    """Per clue, what triage should decide, by the screening rules of ``services.triage.screen.decide``."""

    decision: str | None  # None: waits in the officers' review queue
    routed: str | None
    must: bool
    type_code: str | None


def outlook(report: Report, *, taxonomy: Taxonomy, directory: Directory, merged: bool) -> Outlook:
    """What ``services.triage.screen.decide`` does with this report alone, on the classifier the service
    loads (the newest model): merge a repeat → 五必查 kept by the office → 存查 → review → accept or
    transfer (never to the unit complained about)."""
    from services.triage.classifier import default_classifier
    from services.triage.screen import ClueInput, Outcome, decide

    classifier = default_classifier()
    verdict = classifier.classify(report.text, enterprise_flag=report.enterprise)
    routed, why = directory.route(text=report.text, subject=report.subject, pre_routed=report.unit_id)
    if merged:
        return Outlook("merge", routed, bool(verdict.triggers), verdict.type_code)
    clue = ClueInput(id=None, tracking_number="", channel=report.channel, subject=report.subject, text=report.text,
                     unit_id=report.unit_id, enterprise_related=report.enterprise, received_at=None)
    outcome = Outcome(clue=clue, classification=verdict, triggers=list(verdict.triggers),
                      enterprise=verdict.enterprise, routed_unit_id=routed, route_reason=why)
    _, decision, _ = decide(outcome, taxonomy=taxonomy, primary_tracking=None,
                            review_threshold=classifier.review_threshold, directory=directory)
    return Outlook(decision, outcome.routed_unit_id, bool(verdict.triggers), verdict.type_code)


def expect(day: Day, sent: Sent, *, channels: frozenset[str], unit_contacts: dict[str, dict[str, str]],
           units: list[dict[str, Any]], sheet_units: set[str] | None = None,
           arrival: dict[str, tuple[datetime, uuid.UUID]] | None = None,
           taxonomy: Taxonomy | None = None) -> dict[str, Any]:
    """Every count the day should leave behind, from what intake accepted and the services' rules.

    ``sheet_units``: the units the sheet's notice goes to (``transferred_by_unit``), when the sheet holds
    more than this day (a shared test database); by default the units this day's clues are transferred to. ``arrival``: clue id → (received_at,
    id) as intake stored them; of a clue and its repeats, the first to arrive is the one triage keeps (the
    daily run reads in that order), and a repeat may arrive first when the lines push at once."""
    taxonomy = taxonomy or default_taxonomy()
    directory = Directory.build(units, load_routing_rules())
    stored = [r for r in day.reports if r.key in sent.clue_ids]
    clusters: dict[str, list[Report]] = {}
    for r in stored:
        clusters.setdefault(r.duplicate_of or r.key, []).append(r)
    first = {}
    for members in clusters.values():
        if arrival is not None:
            members = sorted(members, key=lambda r: arrival[sent.clue_ids[r.key]])
        else:
            members = sorted(members, key=lambda r: r.duplicate_of is not None)  # the original
        first.update({r.key: members[0].key for r in members})
    looks = {r.key: outlook(r, taxonomy=taxonomy, directory=directory, merged=first[r.key] != r.key)
             for r in stored}
    e: dict[str, Any] = {}
    e["intake.accepted"] = len(stored)
    e["intake.hotline.sent"] = len(day.hotline) + sum(r.repush for r in day.hotline)
    e["intake.hotline.created"] = sum(1 for r in day.hotline if not r.invalid)
    e["intake.hotline.duplicate (re-push)"] = sum(r.repush for r in day.hotline)
    e["intake.hotline.rejected"] = sum(r.invalid for r in day.hotline)
    e["intake.hotline.answered with another clue"] = 0
    e["intake.qr.created"] = len(day.qr)
    for channel, n in Counter(r.channel for r in stored).items():
        e[f"channel.{channel}"] = n
    e["intake.named"] = sum(1 for r in stored if r.reporter)
    e["intake.attachments"] = sum(len(r.images) for r in stored)
    e["intake.receipts (anonymous QR)"] = sum(1 for r in stored if r.channel == "qr_code" and not r.reporter)

    decisions = Counter(o.decision or "review" for o in looks.values())
    e["sheet.total"] = len(stored)
    for decision in ("accept", "transfer", "merge", "set_aside", "review"):
        e[f"decision.{decision}"] = decisions.get(decision, 0)
    e["triage.must_investigate accepted"] = sum(1 for o in looks.values() if o.must and o.decision == "accept")
    e["triage.units routed"] = len({o.routed for o in looks.values() if o.routed})
    status = {"accept": "accepted", "transfer": "transferred", "merge": "merged", "set_aside": "set_aside",
              None: "received"}
    for s, n in Counter(status[o.decision] for o in looks.values()).items():
        e[f"intake.status.{s}"] = n

    # Accountability: an accepted (or 五必查) clue opens a case in 初核; a repeat joins its original's case.
    opening = [k for k, o in looks.items() if o.decision == "accept"]
    joining = [k for k, o in looks.items() if o.decision == "merge" and looks[first[k]].decision == "accept"]
    e["cases.opened"] = len(opening)
    e["cases.must_investigate"] = sum(1 for k in opening if looks[k].must)
    e["cases.clues"] = len(opening) + len(joining)

    # Notification: the receipt page for everyone, SMS / e-mail to named reporters who left a contact, at
    # receipt and at triage; a transfer notifies its unit (inbox + the unit's own channels) and is watched;
    # the daily sheet notifies each unit with clues routed to it.
    def reporter_channels(r: Report) -> set[str]:
        return {ch for field_, ch in (("phone", "sms"), ("email", "email")) if field_ in r.contact} & channels

    def unit_channels(unit_id: str) -> set[str]:
        contacts = unit_contacts.get(unit_id, {})
        mapped = {"email": "email", "phone": "sms", "wechat_openid": "wechat"}
        return ({"inbox"} | {mapped[k] for k in contacts if k in mapped}) & channels

    deliveries: Counter = Counter()
    for r in stored:
        deliveries[("reporter/received", "receipt")] += 1
        for ch in reporter_channels(r):
            deliveries[("reporter/received", ch)] += 1
        if looks[r.key].decision is not None:
            deliveries[("reporter/triaged", "receipt")] += 1
            for ch in reporter_channels(r):
                deliveries[("reporter/triaged", ch)] += 1
        if looks[r.key].decision == "transfer":
            for ch in unit_channels(looks[r.key].routed):
                deliveries[("unit/transfer_assigned", ch)] += 1
    # Only the units something was transferred to hear of the sheet (a count of kept clues would tip them off).
    transferred_to = {o.routed for o in looks.values() if o.routed and o.decision == "transfer"}
    for unit_id in sheet_units if sheet_units is not None else transferred_to:
        for ch in unit_channels(unit_id):
            deliveries[("unit/daily_sheet", ch)] += 1
    for (template, ch), n in sorted(deliveries.items()):
        e[f"delivery.{template}.{ch}"] = n
    e["deliveries.total"] = sum(deliveries.values())
    e["deliveries.not final"] = 0
    e["deliveries.failed"] = 0
    e["deadlines.transfer watched"] = decisions.get("transfer", 0)
    e["intake.feedback (receipt page)"] = deliveries[("reporter/received", "receipt")] + deliveries[("reporter/triaged", "receipt")]
    for ch in ("email", "sms", "wechat"):
        if ch in channels:
            e[f"sink.{ch} received"] = sum(n for (_, c), n in deliveries.items() if c == ch)
            e[f"sink.{ch} received twice"] = 0
    e["sink.inbox messages"] = sum(n for (_, c), n in deliveries.items() if c == "inbox")
    e["dlq.messages"] = 0
    e["lost or duplicated clues"] = 0
    return e


# ---- what happened ------------------------------------------------------------------------------------------


class Sinks:
    """A real SMTP server (aiosmtpd) and a real HTTP server for the SMS and WeChat webhooks, on loopback;
    they record what arrives, keyed by the delivery id the notification service sends with each message."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        from .common import free_port

        self.lock = threading.Lock()
        self.mail: list[str] = []  # X-Zuofeng-Delivery of each message
        self.hooks: list[tuple[str, str]] = []  # (provider path, idempotency-key)
        sink = self

        class Mailbox:
            async def handle_DATA(self, server, session, envelope):  # aiosmtpd's hook
                message = message_from_bytes(envelope.content, policy=policy.default)
                with sink.lock:
                    sink.mail.append(str(message["X-Zuofeng-Delivery"]))
                return "250 OK"

        self.smtp_port = free_port()
        self.smtp = Controller(Mailbox(), hostname="127.0.0.1", port=self.smtp_port)

        class Hook(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 — http.server's naming
                length = int(self.headers.get("content-length") or 0)
                self.rfile.read(length)
                with sink.lock:
                    sink.hooks.append((self.path.strip("/"), self.headers.get("idempotency-key", "")))
                    n = len(sink.hooks)
                answer = json.dumps({"id": f"m{n}", "errcode": 0, "msgid": n}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
        self.http.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}"
        self.thread = threading.Thread(target=self.http.serve_forever, daemon=True)

    def start(self) -> Sinks:
        self.smtp.start()
        self.thread.start()
        return self

    def stop(self) -> None:
        self.smtp.stop()
        self.http.shutdown()

    def received(self, channel: str) -> list[str]:
        with self.lock:
            if channel == "email":
                return list(self.mail)
            return [key for path, key in self.hooks if path == channel]


async def wait_for(probe: Callable[[], Any], done: Callable[[Any], bool], *, timeout: float,
                   interval: float = 0.5) -> tuple[Any, float, bool]:
    """Poll until ``done(value)``; (last value, seconds waited, whether it got there)."""
    started = time.perf_counter()
    while True:
        value = await probe()
        if done(value) or time.perf_counter() - started > timeout:
            return value, time.perf_counter() - started, done(value)
        await asyncio.sleep(interval)


async def count_stored(conn: asyncpg.Connection, table: str, ids: list[str]) -> int:
    return await conn.fetchval(f"SELECT count(*) FROM {table} WHERE id = ANY($1::uuid[])", ids)  # noqa: S608 — table names are the bench's constants


async def arrivals(conn: asyncpg.Connection, ids: list[str]) -> dict[str, tuple[datetime, uuid.UUID]]:
    """clue id → (received_at, id), the order the daily run reads clues in."""
    rows = await conn.fetch("SELECT id, received_at FROM intake.clues WHERE id = ANY($1::uuid[])", ids)
    return {str(r["id"]): (r["received_at"], r["id"]) for r in rows}


async def acknowledged(conn: asyncpg.Connection, ids: list[str]) -> int:
    """Clues notification has acknowledged (受理回执 on the receipt page): it has seen their receipt."""
    return await conn.fetchval(
        "SELECT count(*) FROM notification.deliveries WHERE template = 'reporter/received' "
        "AND channel = 'receipt' AND clue_id = ANY($1::uuid[])", ids)


async def deliveries_of(conn: asyncpg.Connection, ids: list[str], sheet_subject: str) -> list[asyncpg.Record]:
    """The deliveries the day caused: about its clues, and the daily sheet notices (found by their subject,
    which names the run date)."""
    return await conn.fetch(
        "SELECT id, template, channel, status FROM notification.deliveries "
        "WHERE clue_id = ANY($1::uuid[]) OR (template = 'unit/daily_sheet' AND subject = $2)", ids, sheet_subject)


def sheet_subject(run_date: date) -> str:
    from services.notification.rendering import render

    return render("unit/daily_sheet", run_date=run_date, unit_name="", count=0).subject


async def dlq_messages(bootstrap: str, prefix: str, needles: Iterable[str] | None = None) -> int:
    """Messages in the run's dead-letter topics (only those naming one of ``needles``, when given)."""
    from aiokafka import AIOKafkaConsumer
    from aiokafka.structs import TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                                auto_offset_reset="earliest")
    await consumer.start()
    try:
        topics = [t for t in await consumer.topics() if t.startswith(prefix) and t.endswith(".dlq")]
        partitions = [TopicPartition(t, p) for t in topics for p in consumer.partitions_for_topic(t) or ()]
        if not partitions:
            return 0
        ends = await consumer.end_offsets(partitions)
        if needles is None:
            return sum(ends.values())
        wanted = {n.encode() for n in needles}
        consumer.assign(partitions)
        for tp in partitions:
            consumer.seek(tp, 0)
        found = 0
        async with asyncio.timeout(30):
            while any(await consumer.position(tp) < ends[tp] for tp in partitions):
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    found += sum(1 for r in records if any(n in (r.value or b"") for n in wanted))
        return found
    finally:
        await consumer.stop()


async def observe(conn: asyncpg.Connection, client: httpx.AsyncClient, day: Day, sent: Sent, *, run_date: date,
                  staff: Callable[..., dict[str, str]], sinks: Sinks | None, dlq: int,
                  whole_sheet: bool) -> dict[str, Any]:
    """The same counts, read back: the sheet (JSON and CSV) through the gateway, the rest from each
    service's schema, the sinks and the dead-letter topics."""
    ids = list(sent.clue_ids.values())
    f: dict[str, Any] = {}
    f["intake.accepted"] = await count_stored(conn, "intake.clues", ids)
    f["intake.hotline.sent"] = sum(sent.outcomes[o] for o in ("created", "duplicate", "rejected"))
    f["intake.hotline.created"] = sent.outcomes["created"]
    f["intake.hotline.duplicate (re-push)"] = sent.outcomes["duplicate"]
    f["intake.hotline.answered with another clue"] = sent.outcomes["answered with another clue"] + sum(
        1 for k, v in sent.repush_ids.items() if sent.clue_ids.get(k) != v)
    f["intake.hotline.rejected"] = sent.outcomes["rejected"]
    f["intake.qr.created"] = sent.outcomes["qr created"]
    rows = await conn.fetch("SELECT channel, count(*) AS n, count(*) FILTER (WHERE NOT anonymous) AS named, "
                            "sum(attachment_count) AS att FROM intake.clues WHERE id = ANY($1::uuid[]) GROUP BY 1", ids)
    for row in rows:
        f[f"channel.{row['channel']}"] = row["n"]
    f["intake.named"] = sum(r["named"] for r in rows)
    f["intake.attachments"] = await conn.fetchval(
        "SELECT count(*) FROM intake.attachments WHERE clue_id = ANY($1::uuid[])", ids)
    f["intake.receipts (anonymous QR)"] = await conn.fetchval(
        "SELECT count(*) FROM intake.receipts WHERE clue_id = ANY($1::uuid[])", ids)

    sheet = (await client.get(f"/api/v1/triage/daily-sheets/{run_date}", headers=staff("auditor"))).json()
    as_csv = (await client.get(f"/api/v1/triage/daily-sheets/{run_date}.csv", headers=staff("auditor"))).text
    csv_rows = list(csv.DictReader(io.StringIO(as_csv)))
    csv_total = next(int(r["件数"]) for r in csv_rows if r["维度"] == "合计")
    csv_decisions = {r["代码"]: int(r["件数"]) for r in csv_rows if r["维度"] == "处置方式"}
    mine = await conn.fetch("SELECT decision, state, must_investigate, routed_unit_id, run_date "
                            "FROM triage.clues WHERE id = ANY($1::uuid[])", ids)
    decisions = Counter((r["decision"] or "review") for r in mine if r["run_date"] == run_date)
    if whole_sheet:  # the day is the whole sheet: its counts must be the day's
        f["sheet.total"] = sheet["total"]
        sheet_decisions = {e["key"]: e["count"] for e in sheet["by_decision"]}
        for decision in ("accept", "transfer", "merge", "set_aside", "review"):
            f[f"decision.{decision}"] = sheet_decisions.get(decision, 0)
        for entry in sheet["by_channel"]:
            f[f"channel.{entry['key']}"] = entry["count"]  # overrides intake's: they must agree, both checked
        f["sheet.csv total = json total"] = int(csv_total == sheet["total"] and csv_decisions == sheet_decisions)
        intake_channels = {r["channel"]: r["n"] for r in rows}
        f["intake.channel counts"] = int(intake_channels == {e["key"]: e["count"] for e in sheet["by_channel"]})
    else:  # shared with other tests: this day's clues, each screened in this run, and a sheet that adds up
        f["sheet.total"] = sum(decisions.values())
        for decision in ("accept", "transfer", "merge", "set_aside", "review"):
            f[f"decision.{decision}"] = decisions.get(decision, 0)
        whole = await conn.fetchval("SELECT count(*) FROM triage.clues WHERE run_date = $1", run_date)
        f["sheet.csv total = json total"] = int(csv_total == sheet["total"] == whole >= len(ids)
                                                and sum(e["count"] for e in sheet["by_decision"]) == sheet["total"])
    f["triage.must_investigate accepted"] = sum(1 for r in mine if r["must_investigate"] and r["decision"] == "accept")
    f["triage.units routed"] = len({r["routed_unit_id"] for r in mine if r["routed_unit_id"]})
    for row in await conn.fetch("SELECT status, count(*) AS n FROM intake.clues WHERE id = ANY($1::uuid[]) "
                                "GROUP BY 1", ids):
        f[f"intake.status.{row['status']}"] = row["n"]

    case_rows = await conn.fetch(
        "SELECT c.id, bool_or(cc.must_investigate) AS must, count(*) AS clues FROM accountability.cases c "
        "JOIN accountability.case_clues cc ON cc.case_id = c.id WHERE cc.clue_id = ANY($1::uuid[]) GROUP BY c.id", ids)
    f["cases.opened"] = len(case_rows)
    f["cases.must_investigate"] = await conn.fetchval(
        "SELECT count(DISTINCT cc.case_id) FROM accountability.case_clues cc JOIN accountability.cases c "
        "ON c.id = cc.case_id WHERE cc.clue_id = ANY($1::uuid[]) AND c.title LIKE '%五必查%'", ids)
    f["cases.clues"] = sum(r["clues"] for r in case_rows)

    deliveries = await deliveries_of(conn, ids, sheet_subject(run_date))
    by = Counter((d["template"], d["channel"]) for d in deliveries)
    for (template, ch), n in sorted(by.items()):
        f[f"delivery.{template}.{ch}"] = n
    f["deliveries.total"] = len(deliveries)
    f["deliveries.not final"] = sum(1 for d in deliveries if d["status"] not in ("sent", "failed"))
    f["deliveries.failed"] = sum(1 for d in deliveries if d["status"] == "failed")
    f["deadlines.transfer watched"] = await conn.fetchval(
        "SELECT count(*) FROM notification.deadlines WHERE kind = 'transfer' AND clue_id = ANY($1::uuid[])", ids)
    f["intake.feedback (receipt page)"] = await conn.fetchval(
        "SELECT count(*) FROM intake.feedback_messages WHERE clue_id = ANY($1::uuid[])", ids)
    if sinks is not None:
        for ch in ("email", "sms", "wechat"):
            mine_sent = {str(d["id"]) for d in deliveries if d["channel"] == ch and d["status"] == "sent"}
            got = [k for k in sinks.received(ch) if k in mine_sent]
            f[f"sink.{ch} received"] = len(set(got))
            f[f"sink.{ch} received twice"] = len(got) - len(set(got))
    inbox_ids = [d["id"] for d in deliveries if d["channel"] == "inbox"]
    f["sink.inbox messages"] = await conn.fetchval(
        "SELECT count(*) FROM notification.inbox_messages WHERE delivery_id = ANY($1::uuid[])", inbox_ids)
    f["dlq.messages"] = dlq
    triage_stored = await count_stored(conn, "triage.clues", ids)
    distinct = len(set(ids))
    f["lost or duplicated clues"] = (abs(distinct - len(ids)) + abs(triage_stored - distinct)
                                     + abs(f["intake.accepted"] - distinct))
    return f


def compare(expected: dict[str, Any], found: dict[str, Any], *, only: Iterable[str] | None = None
            ) -> tuple[list[tuple[str, Any, Any, bool]], int]:
    """Rows (name, expected, found, ok) for every expected count, and how many differ."""
    keys = list(only) if only is not None else list(expected)
    rows = [(k, expected.get(k, 0), found.get(k, 0), expected.get(k, 0) == found.get(k, 0)) for k in keys]
    extra = sorted(k for k in found if k not in expected and (k.startswith(("delivery.", "channel.", "intake.status.")))
                   and found[k])
    rows += [(k, 0, found[k], False) for k in extra]
    return rows, sum(1 for *_, ok in rows if not ok)


def table(rows: list[tuple[str, Any, Any, bool]]) -> str:
    lines = ["| count | expected | found | |", "|---|---:|---:|---|"]
    lines += [f"| {k} | {e} | {f} | {'ok' if ok else '**MISMATCH**'} |" for k, e, f, ok in rows]
    return "\n".join(lines)


# ---- the benchmark ------------------------------------------------------------------------------------------


def rss_mib(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            kib = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
        return round(kib / 1024, 1)
    except (OSError, StopIteration):
        return None


UNIT_CONTACTS = {  # official contacts of a few units (not people): their notices go out by e-mail, SMS, WeChat
    "dt-rsj-sb": {"email": "sbzx@dt.example.gov.cn", "phone": "03522000001", "wechat_openid": "oSBZX000001"},
    "dt-zrzy-bdc": {"email": "bdc@dt.example.gov.cn", "wechat_openid": "oBDC0000002"},
    "dt-spj-qydj": {"email": "qydj@dt.example.gov.cn", "phone": "03522000003"},
    "dt-pc-ng-bm": {"phone": "03522000004", "wechat_openid": "oNGBM000004"},
    "dt-cgj-zfdd": {"email": "cgzf@dt.example.gov.cn"},
}


def run_date_now(cutoff: str = "23:59") -> date:
    from services.triage.daily_run import next_cutoff

    return next_cutoff(datetime.now(UTC), cutoff).date()


async def main(args: argparse.Namespace) -> tuple[dict[str, Any], int]:
    from .common import plain_dsn, running_stack
    from .machine import describe

    results: dict[str, Any] = {"machine": describe(), "args": vars(args), "phases": {}}
    generated = time.perf_counter()
    day = generate_day(args.seed, args.clues, args.qr)
    results["phases"]["generate_s"] = round(time.perf_counter() - generated, 1)
    print(f"generated {len(day.hotline)} hotline tickets, {len(day.qr)} QR reports in "
          f"{results['phases']['generate_s']} s", flush=True)
    keys = hotline_keys()
    sinks = Sinks().start()
    channels = frozenset({"inbox", "email", "sms", "wechat"})
    env = {
        "HOTLINE_KEYS": json.dumps(keys), "TRIAGE_UNITS_FILE": str(DEMO_UNITS_FILE), "TRIAGE_DAILY_CUTOFF": "23:59",
        "NOTIFICATION_SMTP_HOST": "127.0.0.1", "NOTIFICATION_SMTP_PORT": str(sinks.smtp_port),
        "NOTIFICATION_SMS_WEBHOOK_URL": f"{sinks.url}/sms", "NOTIFICATION_WECHAT_WEBHOOK_URL": f"{sinks.url}/wechat",
        "NOTIFICATION_WECHAT_TEMPLATE_ID": "cityday-template", "NOTIFICATION_UNIT_CONTACTS": json.dumps(UNIT_CONTACTS),
        # The providers' limits are the city's contract with them; here the sinks take anything.
        "NOTIFICATION_RATE_LIMITS": json.dumps({"email": 1000, "sms": 1000, "wechat": 1000, "inbox": 5000}),
        # The 督办 pass (reminders, escalation) belongs to later days, not to this one.
        "NOTIFICATION_SCHEDULE_POLL_SECONDS": "86400",
    }
    mismatches = 0
    try:
        async with running_stack("cityday", extra_env=env) as stack:
            conn = await asyncpg.create_pool(plain_dsn(stack.database_url), min_size=1, max_size=4)
            limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
            async with httpx.AsyncClient(base_url=stack.bases["gateway"], timeout=120, limits=limits) as client:
                staff = stack.staff_bearer
                await register_posters(client, day, staff("triage_officer"))
                sent = Sent()
                # the directory is imported at triage's start; read it back as triage holds it
                units = [dict(r) for r in await conn.fetch(
                    "SELECT id, name, level, aliases, active FROM triage.units")]
                started = time.perf_counter()
                await push_hotline(client, day, hotline_signer(keys), sent, concurrency=args.concurrency)
                await submit_qr(client, day, sent)
                ingest_done = time.perf_counter()
                print("intake outcomes", dict(sent.outcomes), flush=True)
                ids = list(sent.clue_ids.values())
                _, lag, ok = await wait_for(lambda: count_stored(conn, "triage.clues", ids),
                                            lambda n: n == len(ids), timeout=args.drain_timeout)
                print(f"triage stored every clue {lag:.1f} s after the last report (ok={ok})", flush=True)
                # The day closes once every report is acknowledged (the cut-off comes hours after the last
                # call in a real day): the sort's events must find their receipts at notification.
                _, ack_lag, ok = await wait_for(lambda: acknowledged(conn, ids), lambda n: n == len(ids),
                                                timeout=args.drain_timeout)
                print(f"notification acknowledged every clue {ack_lag:.1f} s after the last report (ok={ok})",
                      flush=True)
                run_date = run_date_now()
                ran_at = time.perf_counter()
                queued = await client.post("/api/v1/triage/daily-runs", json={"run_date": run_date.isoformat()},
                                           headers=staff("triage_officer"))
                assert queued.status_code == 202, queued.text
                while (job := (await client.get(queued.headers["location"], headers=staff("triage_officer"))  # noqa: ASYNC110 — polls the job over HTTP
                               ).json())["state"] not in ("done", "failed"):
                    await asyncio.sleep(0.2)  # the run is a job: follow it to the end
                assert job["state"] == "done", job
                ran = await client.get(job["sheet"], headers=staff("triage_officer"))
                run_s = time.perf_counter() - ran_at
                print(f"daily run for {run_date}: {run_s:.1f} s, total {ran.json()['total']}", flush=True)
                expected = expect(day, sent, channels=channels, unit_contacts=UNIT_CONTACTS, units=units,
                                  arrival=await arrivals(conn, ids))

                async def cases():
                    return await conn.fetchval("SELECT count(*) FROM accountability.case_clues "
                                               "WHERE clue_id = ANY($1::uuid[])", ids)

                async def notifications():
                    rows = await deliveries_of(conn, ids, sheet_subject(run_date))
                    return len(rows), sum(1 for d in rows if d["status"] not in ("sent", "failed"))

                (_, cases_s, _), (_, notes_s, _) = await asyncio.gather(
                    wait_for(cases, lambda n: n >= expected["cases.clues"], timeout=args.drain_timeout),
                    wait_for(notifications, lambda v: v[0] >= expected["deliveries.total"] and v[1] == 0,
                             timeout=args.drain_timeout))
                # settle: late duplicates or strays would show up now
                await asyncio.sleep(5)
                attachments_checked = await check_attachments(client, conn, day, sent, staff("investigator"))
                dlq = await dlq_messages(stack_kafka(), stack_prefix(stack))
                found = await observe(conn, client, day, sent, run_date=run_date, staff=staff, sinks=sinks, dlq=dlq,
                                      whole_sheet=True)
                expected["attachments checked: EXIF/GPS/text stripped"] = attachments_checked
                found["attachments checked: EXIF/GPS/text stripped"] = attachments_checked
                expected["intake.channel counts"] = 1
                expected["sheet.csv total = json total"] = 1
                rows, mismatches = compare(expected, found)
                rss = {name: rss_mib(p.pid) for name, p in stack.processes.items()}
            await conn.close()
    finally:
        sinks.stop()
    n_hot = sum(1 for r in day.hotline) + sum(r.repush for r in day.hotline)
    results["phases"].update({
        "hotline_tickets_sent": n_hot,
        "hotline_seconds": round(sent.seconds["hotline"], 2),
        "hotline_per_s": round(n_hot / sent.seconds["hotline"], 1),
        "qr_reports": len(day.qr),
        "qr_seconds": round(sent.seconds["qr"], 2),
        "qr_per_s": round(len(day.qr) / sent.seconds["qr"], 1),
        "ingest_seconds": round(ingest_done - started, 2),
        "triage_consume_lag_s": round(lag, 1),
        "acknowledgement_lag_s": round(ack_lag, 1),
        "daily_run_s": round(run_s, 2),
        "cases_drained_s": round(cases_s, 1),
        "notifications_drained_s": round(notes_s, 1),
    })
    results["run_date"] = run_date.isoformat()
    results["rss_mib_at_end"] = rss
    results["counts"] = [{"count": k, "expected": e, "found": f, "ok": ok} for k, e, f, ok in rows]
    results["mismatches"] = mismatches
    return results, mismatches


def stack_prefix(stack) -> str:
    """The topic prefix ``running_stack`` gave its processes (read from one process's environment)."""
    process = next(iter(stack.processes.values()))
    with open(f"/proc/{process.pid}/environ", "rb") as f:
        env = dict(item.split(b"=", 1) for item in f.read().split(b"\0") if b"=" in item)
    return env[b"KAFKA_TOPIC_PREFIX"].decode()


def stack_kafka() -> str:
    from .common import KAFKA

    return KAFKA


async def check_attachments(client: httpx.AsyncClient, conn: asyncpg.Connection, day: Day, sent: Sent,
                            staff: dict[str, str], sample: int = 12) -> int:
    """Fetch a sample of stored photos as staff: no EXIF (device, GPS) in a JPEG, no text chunk in a PNG.
    Returns how many were checked and found clean (a dirty one raises)."""
    with_images = [r for r in day.qr if r.images and r.key in sent.clue_ids][:sample]
    checked = 0
    for report in with_images:
        clue_id = sent.clue_ids[report.key]
        listed = await client.get(f"/api/v1/intake/clues/{clue_id}/attachments", headers=staff)
        assert listed.status_code == 200, listed.text
        assert len(listed.json()) == len(report.images)
        for attachment in listed.json():
            got = await client.get(f"/api/v1/intake/clues/{clue_id}/attachments/{attachment['id']}", headers=staff)
            assert got.status_code == 200, got.text
            with Image.open(io.BytesIO(got.content)) as img:
                exif = img.getexif()
                assert not exif and not exif.get_ifd(0x8825), f"metadata left in {attachment['id']}: {dict(exif)}"
                assert "Location" not in img.info and "exif" not in img.info
            checked += 1
    return checked


def render(results: dict[str, Any]) -> str:
    m, p, args = results["machine"], results["phases"], results["args"]
    rss = ", ".join(f"{k} {v}" for k, v in results["rss_mib_at_end"].items())
    rows = [(c["count"], c["expected"], c["found"], c["ok"]) for c in results["counts"]]
    verdict = "every count as expected" if results["mismatches"] == 0 else f"**{results['mismatches']} mismatches**"
    return "\n".join([
        "# A large city's day, end to end",
        "",
        f"`.venv/bin/python -m bench.city_day --clues {args['clues']} --qr {args['qr']} --seed {args['seed']}` — "
        f"{m['when']}, {m['cores']} CPUs ({m['cpu']}), {m['memory_gib']} GiB, load average "
        f"{', '.join(f'{x:.1f}' for x in m['load_average'])} at start (the load generator, the "
        "six processes, PostgreSQL and Kafka share the cores, and other work may have: the times are noisy, the "
        "counts are exact). Raw data: `cityday.json`.",
        "",
        "Five services and the gateway under uvicorn (one process each), local PostgreSQL and Kafka, a fresh "
        "database and topic prefix, a real SMTP sink (aiosmtpd) and a real HTTP receiver for the SMS and WeChat "
        "webhooks; the load generator on the same two cores. Hotline tickets go through the gateway in "
        f"HMAC-signed batches of ≤ {BATCH} ({args['concurrency']} in flight), QR reports through the public QR "
        "path as multipart with JPEG (EXIF/GPS) and PNG (text chunk) photos. Then the daily run "
        f"(`POST /api/v1/triage/daily-runs` for {results['run_date']}), the sheet as JSON and CSV, and every "
        "count read back from the services' schemas, the sinks and the dead-letter topics.",
        "",
        "## Timings",
        "",
        "| phase | figure |",
        "|---|---:|",
        f"| hotline tickets through the gateway | {p['hotline_tickets_sent']} in {p['hotline_seconds']} s = "
        f"**{p['hotline_per_s']} /s** |",
        f"| QR reports (multipart, 0–3 photos, argon2 receipt) | {p['qr_reports']} in {p['qr_seconds']} s = "
        f"**{p['qr_per_s']} /s** |",
        f"| triage consume lag (last report answered → every clue stored by triage) | {p['triage_consume_lag_s']} s |",
        f"| acknowledgement lag (last report answered → every reporter acknowledged) | {p['acknowledgement_lag_s']} s |",
        f"| daily run (HTTP round trip) | {p['daily_run_s']} s |",
        f"| cases drained (daily run done → every case clue recorded) | {p['cases_drained_s']} s |",
        f"| notifications drained (daily run done → every delivery sent) | {p['notifications_drained_s']} s |",
        "",
        f"RSS at the end (MiB): {rss}.",
        "",
        f"## Counts: {verdict}",
        "",
        "Expected values are derived from what was sent and the services' rules (`bench/city_day.py: expect`); "
        "found values are read back (`observe`).",
        "",
        table(rows),
        "",
    ])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clues", type=int, default=20_000, help="hotline tickets")
    parser.add_argument("--qr", type=int, default=500, help="QR reports")
    parser.add_argument("--seed", type=int, default=20261122)
    parser.add_argument("--concurrency", type=int, default=3, help="hotline batches in flight")
    parser.add_argument("--drain-timeout", type=float, default=900.0)
    parser.add_argument("--no-write", action="store_true", help="print, do not record the results")
    options = parser.parse_args()
    outcome, bad = asyncio.run(main(options))
    text = render(outcome)
    if options.no_write:
        print(text)
    else:
        from .common import write

        write("cityday", outcome, text)
    sys.exit(1 if bad else 0)
