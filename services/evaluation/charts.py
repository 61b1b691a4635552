"""Rankings as a picture (SVG, one horizontal bar chart per category) and as a spreadsheet (CSV)."""

from __future__ import annotations

import io
import math
from xml.sax.saxutils import escape, quoteattr

from services.common import csvsafe

from . import domain

GRADE_COLOURS = {
    "excellent": "#2e7d32",
    "qualified": "#1565c0",
    "basically_qualified": "#ef8f00",
    "unqualified": "#c62828",
}
FONT = "'Noto Sans CJK SC','Source Han Sans SC','WenQuanYi Zen Hei','PingFang SC','Microsoft YaHei',sans-serif"
WIDTH = 960
ROW = 22
NAME_X = 56  # after the rank column
BAR_X = 300
BAR_W = 500
PANEL_HEAD = 78
PANEL_GAP = 28


def _axis_floor(results: dict) -> float:
    """Start the axis a little below the lowest score so differences show; say so on the axis."""
    scores = [u["score"] for c in results["categories"] for u in c["ranking"]]
    low = min(scores, default=0.0)
    return max(0.0, math.floor((low - 5) / 10) * 10)


def rankings_svg(results: dict) -> str:
    floor = _axis_floor(results)

    def x(score: float) -> float:
        return BAR_X + (max(score, floor) - floor) / (100 - floor) * BAR_W

    parts: list[str] = []
    y = 0
    title = f"{results['name']} · {results['period']}"
    status = "已发布" if results.get("state") == "published" else "预览(未发布)"
    parts.append(f'<text x="24" y="38" font-size="24" font-weight="700" fill="#1a1a1a">{escape(title)}</text>')
    parts.append(f'<text x="24" y="62" font-size="13" fill="#555">{status} · 综合得分 (0–100),'
                 f' 按类别排名 · 并列时: 综合得分 → 市民评议得分 → 有效评价数 → 单位编号</text>')
    # Legend
    lx = 24
    for grade, colour in GRADE_COLOURS.items():
        parts.append(f'<rect x="{lx}" y="76" width="14" height="14" rx="2" fill="{colour}"/>'
                     f'<text x="{lx + 20}" y="88" font-size="13" fill="#333">{domain.GRADES[grade]}</text>')
        lx += 92
    parts.append(f'<rect x="{lx}" y="76" width="14" height="14" fill="#e8f5e9" stroke="#a5d6a7"/>'
                 f'<text x="{lx + 20}" y="88" font-size="13" fill="#333">十优满意单位</text>')
    lx += 118
    parts.append(f'<rect x="{lx}" y="76" width="14" height="14" fill="#ffebee" stroke="#ef9a9a"/>'
                 f'<text x="{lx + 20}" y="88" font-size="13" fill="#333">十差不满意单位</text>')
    lx += 130
    parts.append(f'<text x="{lx}" y="88" font-size="13" fill="#c62828" font-weight="700">否</text>'
                 f'<text x="{lx + 18}" y="88" font-size="13" fill="#333">一票否决</text>')
    y = 110
    thresholds = results.get("thresholds") or domain.DEFAULT_THRESHOLDS
    for cat in results["categories"]:
        ranking = cat["ranking"]
        top, bottom = set(cat["top_ten"]), set(cat["bottom_ten"])
        height = PANEL_HEAD + ROW * len(ranking) + 30
        parts.append(f'<g transform="translate(0,{y})">')
        parts.append(f'<rect x="12" y="0" width="{WIDTH - 24}" height="{height}" rx="8" fill="#fff" '
                     f'stroke="#ddd"/>')
        parts.append(f'<text x="28" y="32" font-size="19" font-weight="700" fill="#1a1a1a">'
                     f'{escape(cat["category"])}</text>'
                     f'<text x="28" y="54" font-size="12" fill="#666">{len(ranking)} 个单位 · '
                     f'十优 {len(top)} · 十差 {len(bottom)}</text>')
        body_top = PANEL_HEAD
        body_bottom = PANEL_HEAD + ROW * len(ranking)
        # Bands for 十优 and 十差 first, then the grid and thresholds, then the bars on top.
        for i, unit in enumerate(ranking):
            band = "#e8f5e9" if unit["unit_id"] in top else "#ffebee" if unit["unit_id"] in bottom else None
            if band:
                parts.append(f'<rect x="20" y="{body_top + i * ROW}" width="{WIDTH - 40}" height="{ROW}" '
                             f'fill="{band}"/>')
        if top:
            parts.append(f'<text x="{WIDTH - 28}" y="{body_top + 15}" font-size="12" font-weight="700" '
                         f'fill="#2e7d32" text-anchor="end">十优满意单位</text>')
        if bottom:
            first_bottom = len(ranking) - len(bottom)
            parts.append(f'<text x="{WIDTH - 28}" y="{body_top + first_bottom * ROW + 15}" font-size="12" '
                         f'font-weight="700" fill="#c62828" text-anchor="end">十差不满意单位</text>')
        # Axis ticks and grade thresholds behind the bars.
        for tick in range(int(floor), 101, 10):
            tx = x(tick)
            parts.append(f'<line x1="{tx:.1f}" y1="{body_top - 6}" x2="{tx:.1f}" y2="{body_bottom}" '
                         f'stroke="#eee"/><text x="{tx:.1f}" y="{body_top - 10}" font-size="11" fill="#888" '
                         f'text-anchor="middle">{tick}</text>')
        for grade in ("excellent", "qualified", "basically_qualified"):
            tx = x(thresholds[grade])
            parts.append(f'<line x1="{tx:.1f}" y1="{body_top - 4}" x2="{tx:.1f}" y2="{body_bottom}" '
                         f'stroke="{GRADE_COLOURS[grade]}" stroke-dasharray="4 3" stroke-opacity="0.6"/>')
        for i, unit in enumerate(ranking):
            ry = body_top + i * ROW
            colour = GRADE_COLOURS[unit["grade"]]
            end = x(unit["score"])
            name = unit["unit_name"] if len(unit["unit_name"]) <= 16 else unit["unit_name"][:15] + "…"
            label = f'{unit["unit_name"]}: {unit["score"]:.2f} {domain.GRADES[unit["grade"]]}'
            parts.append(
                f'<g><title>{escape(label)}</title>'
                f'<text x="{NAME_X - 8}" y="{ry + 15}" font-size="12" fill="#666" text-anchor="end">'
                f'{unit["rank"]}</text>'
                f'<text x="{NAME_X}" y="{ry + 15}" font-size="13" fill="#222">{escape(name)}</text>'
                f'<rect x="{BAR_X}" y="{ry + 4}" width="{max(end - BAR_X, 1):.1f}" height="{ROW - 8}" rx="3" '
                f'fill="{colour}"/>'
                f'<text x="{end + 6:.1f}" y="{ry + 15}" font-size="12" fill="#222">{unit["score"]:.2f}</text>')
            if unit["vetoed"]:
                parts.append(f'<text x="{BAR_X - 8}" y="{ry + 15}" font-size="12" font-weight="700" '
                             f'fill="#c62828" text-anchor="end">否</text>')
            parts.append("</g>")
        parts.append(f'<text x="{BAR_X + BAR_W}" y="{body_bottom + 20}" font-size="11" fill="#888" '
                     f'text-anchor="end">坐标自 {floor:g} 分起 · 虚线: 优秀 {thresholds["excellent"]:g} / 合格 '
                     f'{thresholds["qualified"]:g} / 基本合格 {thresholds["basically_qualified"]:g}</text>')
        parts.append("</g>")
        y += height + PANEL_GAP
    total = y + 10
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{total}" '
            f'viewBox="0 0 {WIDTH} {total}" font-family={quoteattr(FONT)} role="img" '
            f'aria-label={quoteattr(title + " 排名")}>'
            f'<rect width="100%" height="100%" fill="#f6f7f9"/>' + "".join(parts) + "</svg>")


CSV_SOURCES = list(domain.SOURCES)


# Chinese headers for the office; the unit and grade codes keep columns of their own.
RANKING_HEADERS = ("评议类别", "名次", "单位代码", "单位名称", "得分", "等次代码", "等次", "一票否决", "否决原因",
                   "十优", "十差", "评价票数", *(domain.SOURCES[s] for s in CSV_SOURCES))


def rankings_rows(results: dict) -> list[list]:
    """The rankings as rows under ``RANKING_HEADERS``, for the CSV and the workbook."""
    rows: list[list] = []
    for cat in results["categories"]:
        top, bottom = set(cat["top_ten"]), set(cat["bottom_ten"])
        for u in cat["ranking"]:
            rows.append([
                cat["category"], u["rank"], u["unit_id"], u["unit_name"], u.get("score_text", f'{u["score"]:.2f}'),
                u["grade"],
                u["grade_label"], int(u["vetoed"]), "; ".join(u["veto_reasons"]), int(u["unit_id"] in top),
                int(u["unit_id"] in bottom), u["ballots"],
                *[("" if s not in u["sources"] else f'{u["sources"][s]:.2f}') for s in CSV_SOURCES],
            ])
        # 数据不足: listed, with no rank, score or grade of their own.
        for u in cat.get("insufficient_data", []):
            rows.append([cat["category"], "", u["unit_id"], u["unit_name"], "", u["grade"], u["grade_label"],
                         0, "", 0, 0, u["ballots"], *[""] * len(CSV_SOURCES)])
    return rows


def rankings_csv(results: dict) -> str:
    out = io.StringIO()
    out.write("\ufeff")  # so spreadsheet programs in the office read the Chinese as UTF-8
    writer = csvsafe.writer(out)
    writer.writerow(RANKING_HEADERS)
    writer.writerows(rankings_rows(results))
    return out.getvalue()
