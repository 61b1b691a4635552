"""Benchmark: 10,000 cases (with persons, findings and measures) imported through the gateway, as JSON in
one request and as one xlsx file built from the import template's columns.

    .venv/bin/python -m bench.accountability_import [--cases 10000]

The real accountability service and gateway (``zuofeng serve``, uvicorn) against a fresh database with
every service's migrations; only the bodies are built before timing. Target (issue 16): under 60 s.
Entering Datong's bulletin (483 cases) call by call took 2,527 requests and about 70 s.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import sys
import time

import httpx
import orjson
from openpyxl import Workbook

from services.accountability.service.xlsx import COLUMNS, SHEET

from .common import running_stack, write

API = "/api/v1/accountability"
DISCIPLINE = ["party_warning", "gov_demerit", "party_serious_warning", "gov_warning"]
ORGANIZATIONAL = ["post_adjustment", "demotion", "suspension_for_review", "yellow_card"]
LIGHT = ["reminder_talk", "inquiry_letter", "interview", "admonishment"]
RANKS = ["general", "township", "county", "village", "enterprise_staff"]


def cases(n: int, prefix: str) -> list[dict]:
    """Datong's proportions: 704 persons per 483 cases; 95 disciplined, 189 organizationally handled."""
    out = []
    for c in range(n):
        persons = []
        for p in range(2 if c % 483 < 221 else 1):
            i = c * 2 + p
            measures = []
            if i % 7 == 0:
                measures.append({"code": DISCIPLINE[i % 4]})
            if i % 4 == 1:
                measures.append({"code": ORGANIZATIONAL[i % 4]})
            if i % 3 == 2:
                measures.append({"code": LIGHT[i % 4]})
            persons.append({"name": f"干部{i:06d}", "post": "科员", "rank": RANKS[i % 5], "party_member": True,
                            "responsibility": "direct", "management": "county_committee", "measures": measures})
        out.append({"ref": f"{prefix}-{c:06d}", "title": f"问题{c}", "region": f"县{c % 12}", "campaign": "作风集中整治",
                    "tags": ["formalism"] if c % 5 == 0 else [], "finding": "substantiated",
                    "opened_on": "2017-09-01", "concluded_on": "2017-11-15", "finding_summary": "经查属实",
                    "persons": persons})
    return out


LABELS = {"substantiated": "属实", "general": "一般干部", "township": "乡科级", "county": "县处级",
          "village": "村(社区)干部", "enterprise_staff": "国有企业管理人员", "direct": "直接责任",
          "county_committee": "县(区)委管理干部", "party_warning": "党纪警告", "gov_demerit": "记过",
          "party_serious_warning": "严重警告", "gov_warning": "政务警告", "post_adjustment": "调整岗位",
          "demotion": "降职", "suspension_for_review": "停职检查", "yellow_card": "黄牌警告",
          "reminder_talk": "提醒谈话", "inquiry_letter": "函询", "interview": "约谈", "admonishment": "诫勉"}


def workbook(rows_of: list[dict]) -> bytes:
    book = Workbook(write_only=True)
    sheet = book.create_sheet(SHEET)
    fields = [f for f, _h, _c, _n in COLUMNS]
    sheet.append([h for _f, h, _c, _n in COLUMNS])
    for case in rows_of:
        base = {k: case.get(k) for k in ("ref", "title", "region", "campaign", "opened_on", "concluded_on",
                                          "finding_summary")}
        base.update(tags="形式主义" if case["tags"] else "", finding="属实", must_investigate="否", serious="否")
        for person in case["persons"]:
            row = {**base, "name": person["name"], "post": person["post"], "rank": LABELS[person["rank"]],
                   "party_member": "是", "responsibility": "直接责任", "management": LABELS["county_committee"]}
            for measure in person["measures"] or [None]:
                sheet.append([{**row, "measure": LABELS[measure["code"]] if measure else ""}.get(f, "")
                              for f in fields])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def run(n: int) -> dict:
    json_body = orjson.dumps({"cases": cases(n, "J")})
    sheet = workbook(cases(n, "X"))
    async with running_stack("acc_import", services=("accountability",)) as stack:
        headers = stack.staff_bearer("investigator")
        base = stack.bases["gateway"]
        async with httpx.AsyncClient(timeout=600) as client:
            started = time.perf_counter()
            response = await client.post(base + API + "/imports", content=json_body,
                                         headers={**headers, "content-type": "application/json"})
            json_seconds = time.perf_counter() - started
            assert response.status_code == 201, response.text[:500]
            json_result = response.json()
            started = time.perf_counter()
            response = await client.post(base + API + "/imports/xlsx", headers=headers,
                                         files={"file": ("bench.xlsx", sheet, "application/octet-stream")})
            xlsx_seconds = time.perf_counter() - started
            assert response.status_code == 201, response.text[:500]
            xlsx_result = response.json()
            stats = (await client.get(base + API + "/stats", headers=headers, params={"origin": "import"})).json()
    return {
        "cases": n,
        "json": {"seconds": round(json_seconds, 2), "bytes": len(json_body),
                 "imported": json_result["cases_imported"], "refused": json_result["cases_refused"],
                 "cases_per_second": round(n / json_seconds)},
        "xlsx": {"seconds": round(xlsx_seconds, 2), "bytes": len(sheet),
                 "imported": xlsx_result["cases_imported"], "refused": xlsx_result["cases_refused"],
                 "cases_per_second": round(n / xlsx_seconds)},
        "stats_after": {k: stats[k] for k in ("problems", "persons", "disciplined", "organizational_handling",
                                              "education")},
        "target_seconds": 60,
        "load_average_after": [round(x, 1) for x in os.getloadavg()],  # the machine is shared
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=10_000)
    args = parser.parse_args()
    results = asyncio.run(run(args.cases))
    ok = results["json"]["seconds"] < 60 and results["xlsx"]["seconds"] < 60 and \
        results["json"]["imported"] == results["xlsx"]["imported"] == args.cases
    markdown = f"""# Accountability import (issue 16)

{args.cases:,} cases with persons, findings and measures (Datong's proportions), through the gateway into the
real accountability service, fresh database. Target: under 60 s each.

| format | body | seconds | cases/s | imported | refused |
|---|---|---|---|---|---|
| JSON, one request | {results['json']['bytes'] / 1e6:.1f} MB | {results['json']['seconds']} | {results['json']['cases_per_second']} | {results['json']['imported']} | {results['json']['refused']} |
| xlsx, one file | {results['xlsx']['bytes'] / 1e6:.1f} MB | {results['xlsx']['seconds']} | {results['xlsx']['cases_per_second']} | {results['xlsx']['imported']} | {results['xlsx']['refused']} |

Statistics over both imports afterwards (the same generated names in both count once as persons): {results['stats_after']}.
Load average after the run (shared 2-core machine): {results['load_average_after']}.
For comparison: Datong's 483 cases entered call by call took 2,527 requests and about 70 s.
{'Within the target.' if ok else 'NOT within the target.'}
"""
    write("accountability_import", results, markdown)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
