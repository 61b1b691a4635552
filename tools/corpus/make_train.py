"""Compose the triage training corpus: services/triage/data/corpus/train.jsonl.

    .venv/bin/python tools/corpus/make_train.py            # writes the file (deterministic, seed below)
    .venv/bin/python tools/corpus/make_train.py --stats    # also prints the label counts

Every label comes from what was composed — the type whose conduct pool gave the sentence, the trigger
whose narrative was used, the persona who speaks (企业 or not) — never from words found in the text.
Hand-written items (tools/corpus/handwritten_train.txt) are appended as they are.
"""

from __future__ import annotations

import json
import random
import re
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import pools_more
import pools_tags
from pools_conduct import CONDUCT
from pools_other import NON_CONDUCT, TOPIC_FRAMES, TOPICS, TYPOS
from pools_projects import (
    GOV_FUNDING,
    GOV_WORKS,
    INVEST_AMOUNTS,
    INVEST_APPROVALS,
    LANDING_SLOW,
    OTHER_PLACES,
    OVER_CAUSE,
    PROJECT_CAUSE,
    PROJECTS,
    WITHDRAWAL,
    ZONES,
)
from pools_world import (
    BACKGROUND_TOPICS,
    CITIES,
    CLOSINGS_DEMAND,
    COMMUNITIES,
    PERSONAS_CITIZEN,
    PERSONAS_ENTERPRISE,
    RHETORICAL_TAILS,
    SURNAMES,
    UNITS,
    VILLAGES,
    WHENS,
    WINDOWS,
)

# second-pass pools join the first-pass ones
for _code, _more in pools_more.CONDUCT_MORE.items():
    CONDUCT[_code] = CONDUCT[_code] + _more
for _code, _more in pools_tags.CONDUCT_TAGGED.items():
    CONDUCT[_code] = CONDUCT[_code] + _more
PROJECTS = PROJECTS + pools_more.PROJECTS_MORE
LANDING_SLOW = LANDING_SLOW + pools_more.LANDING_SLOW_MORE
WITHDRAWAL = WITHDRAWAL + pools_more.WITHDRAWAL_MORE
PROJECT_CAUSE = {k: v + pools_more.PROJECT_CAUSE_MORE.get(k, []) for k, v in PROJECT_CAUSE.items()}
INVEST_APPROVALS = INVEST_APPROVALS + pools_more.INVEST_APPROVALS_MORE
APPROVAL_CAUSE = pools_more.APPROVAL_CAUSE
OVER_CAUSE = {k: v + pools_more.OVER_CAUSE_MORE.get(k, []) for k, v in OVER_CAUSE.items()}
NON_CONDUCT = NON_CONDUCT + pools_more.NON_CONDUCT_MORE + pools_more.NON_CONDUCT_TOPICS

ROOT = HERE.parents[1]
OUT = ROOT / "services" / "triage" / "data" / "corpus" / "train.jsonl"
HANDWRITTEN = HERE / "handwritten_train.txt"
SEED = 20261201

FAMILY = {
    "self_willed": "inaction", "lax_untruthful": "inaction", "idle": "inaction", "timid": "inaction",
    "clean_but_idle": "inaction", "inefficient": "slow_action", "indifferent_to_public": "slow_action",
    "uncoordinated": "slow_action", "buck_passing": "slow_action", "no_procedure": "misconduct",
    "no_principle": "misconduct", "no_rules": "misconduct", "lawless": "misconduct",
}
# types whose conduct happens while a citizen's own matter is being handled
SERVICE_TYPES = {"self_willed", "idle", "timid", "inefficient", "indifferent_to_public", "buck_passing", "no_rules", "lawless"}
# words in a conduct template that show the complainant runs a business (used only on my own templates)
BUSINESS_VOICE = ("我们企业", "我们厂", "小作坊", "小商户", "我店里", "我们店", "我们的门店")
PLAIN_DEMANDS = ["希望尽快答复", "请帮忙解答", "希望协调解决", "请告知办理方式", "请有关部门处理", "谢谢"]
CHANNELS = ["12345"] * 10 + ["12388"] * 5 + ["12380"] * 2 + ["qr"] * 4 + ["petition"] * 3 + ["online", "mayor_line", "walk_in", "media"]


class Composer:
    def __init__(self, seed: int = SEED):
        self.r = random.Random(seed)

    # ---- small pieces -------------------------------------------------------------------------
    def pick(self, seq):
        return self.r.choice(seq)

    def place(self):
        city = self.pick(list(CITIES))
        districts, towns = CITIES[city]
        return city, self.pick(districts), self.pick(towns)

    def unit(self, d, t):
        u = self.pick(UNITS)
        name = self.pick(u["names"]).format(d=d, t=t, v=self.pick(VILLAGES), c=self.pick(COMMUNITIES))
        matter = self.pick(u["matters"])
        return name, self.pick(u["staff"]), matter

    def slots(self, d, t):
        name, staff, (matter, approval, ent) = self.unit(d, t)
        n = self.r.randint(2, 9)
        ctx = {
            "U": name, "P": staff, "M": matter, "S": self.pick(SURNAMES), "N": str(self.r.randint(2, 8)),
            "K": self.pick(["三", "四", "五", "六", "七", "好几", "十几", "3", "5"]),
            "W": self.pick(WINDOWS).format(n=n), "A": self.pick(["200元", "五百块", "1500元", "两千", "3000块", "八百元", "一万元", "五万"]),
            "WH": self.pick(WHENS).format(n=self.r.randint(1, 28), mo=self.r.randint(1, 12)),
            "PL": f"{d}{t}", "C2": self.pick(OTHER_PLACES),
        }
        return ctx, approval, ent

    def persona(self, enterprise: bool) -> str:
        return self.pick(PERSONAS_ENTERPRISE if enterprise else PERSONAS_CITIZEN)

    def noise(self, text: str) -> str:
        r = self.r.random()
        if r < 0.18:
            a, b = self.pick(TYPOS)
            text = text.replace(a, b, 1)
        elif r < 0.26:
            text = text.replace("，", " ", self.r.randint(1, 3))
        elif r < 0.31:
            text = text.rstrip("。") + self.pick(["！！", "。。。", "!!", "…"])
        elif r < 0.35:
            text = text.replace("，", ",")
        return text

    def frame(self, channel: str, body: str, city: str, d: str, third_person: bool) -> str:
        demand = self.pick(CLOSINGS_DEMAND)
        if channel == "12345":
            if third_person:
                body = body.replace("我们", "其").replace("我", "其")
            return self.pick([
                "来电人反映：{b}。诉求：{x}。", "市民来电称，{b}，{x}。", "【12345工单】来电人称{b}。来电人诉求：{x}。",
                "来电人（{c}{d}）反映：{b}，{x}。", "工单摘要：{b}。来电诉求：{x}。", "{c}市民来电：{b}。",
                "来电人反映{d}相关问题：{b}。来电人诉求：{x}。",
            ]).format(b=body, x=demand, c=city, d=d)
        if channel == "12388":
            return self.pick(["举报：{b}。{x}。", "实名举报，{b}，{x}。", "匿名反映{c}{d}的问题：{b}。",
                              "12388来信：{b}，{x}。", "我要举报{d}的干部作风问题，{b}。"]).format(b=body, x=demand, c=city, d=d)
        if channel == "12380":
            return self.pick(["反映干部作风问题：{b}。", "向组织部反映：{b}，{x}。", "12380举报：{b}。"]).format(b=body, x=demand)
        if channel == "qr":
            return self.pick(["随手拍：{b}", "扫码反映：{b}。", "{b}（附图片{n}张）", "{b}，{x}", "二维码举报：{b}"]).format(
                b=body, x=demand, n=self.r.randint(1, 4))
        if channel == "petition":
            if third_person:
                body = body.replace("我们", "信访人等").replace("我", "信访人")
            return self.pick(["信访人反映：{b}。信访人诉求：{x}。", "来信反映，{b}。{x}。", "来访人称{b}，{x}。"]).format(b=body, x=demand)
        if channel == "mayor_line":
            return f"市长您好，{body}，{demand}，谢谢！"
        if channel == "media":
            return f"{city}本地论坛网友发帖称：{body}。"
        if channel == "walk_in":
            return f"现场投诉台登记：{body}。"
        return f"网友留言：{body}，{demand}。"

    def frame_plain(self, channel: str, body: str, city: str, d: str) -> str:
        """Framing for a text that is not a conduct complaint: no call for discipline."""
        if channel == "12345":
            return self.pick(["来电人反映：{b}。", "市民来电咨询：{b}。", "【12345工单】来电人称{b}。", "来电人（{c}{d}）：{b}。",
                              "工单摘要：{b}。来电诉求：{x}。"]).format(b=body.replace("我", "其") if self.r.random() < 0.4 else body,
                                                                   c=city, d=d, x=self.pick(PLAIN_DEMANDS))
        if channel == "mayor_line":
            return f"市长您好，{body}，谢谢！"
        if channel == "qr":
            return f"扫码留言：{body}"
        if channel == "12388":
            return f"12388来电：{body}。"
        return f"网友留言：{body}。"

    # ---- items ---------------------------------------------------------------------------------
    def item(self, text, conduct, type_=None, triggers=(), enterprise=False, tags=(), channel="12345", source=""):
        # composing can put a place or a greeting twice in a row ("三台县三台县…", "您好，您好，")
        text = re.sub(r"(\w{2,5}(?:县|区|市|所的))\1", r"\1", text).replace("您好，您好，", "您好，").replace("您好,您好,", "您好,")
        return {"text": text, "conduct": conduct, "family": FAMILY[type_] if type_ else None, "type": type_,
                "triggers": sorted(set(triggers)), "enterprise": enterprise, "tags": sorted(set(tags)),
                "channel": channel, "source": source}

    def conduct_body(self, type_, ctx):
        entry = self.pick(CONDUCT[type_])
        tpl, tags = (entry, []) if isinstance(entry, str) else entry
        return tpl, tpl.format(**ctx), list(tags)

    def conduct(self, type_: str) -> dict:
        city, d, t = self.place()
        ctx, approval, matter_ent = self.slots(d, t)
        tpl, body, tags = self.conduct_body(type_, ctx)
        enterprise = any(w in tpl for w in BUSINESS_VOICE)
        uses_matter = "{M}" in tpl
        parts = []
        about_office = any(s in tpl for s in ("{U}", "{P}", "{M}"))
        if type_ in SERVICE_TYPES and about_office and self.r.random() < 0.6:
            # framed as the citizen's own errand at that office
            enterprise = enterprise or matter_ent or self.r.random() < 0.05
            who = self.persona(enterprise)
            parts.append(self.pick(["{wh}{who}去{u}办{m}，", "{who}在{u}申请{m}，", "{who}{wh}到{u}办理{m}，",
                                    "关于{who}的{m}：", "{who}为了{m}的事找{u}，"]).format(
                wh=ctx["WH"], who=who, u=ctx["U"], m=ctx["M"]))
            uses_matter = True
        else:
            # the matter itself tells who applies: a 施工许可证 or 营业执照 is a business's errand
            enterprise = enterprise or (uses_matter and matter_ent)
        if not parts and self.r.random() < 0.5:
            parts.append(self.pick(["{c}{d}{t}，", "{d}{t}的", "在{d}，", "{c}{d}", ""]).format(c=city, d=d, t=t))
        if self.r.random() < 0.12:
            # the citizen's own issue comes first; the conduct complaint follows
            parts.insert(0, self.pick(["我本来是反映{x}的问题，", "{x}，我打过几次电话，", "起因是{x}，"]).format(x=self.pick(BACKGROUND_TOPICS)))
        elif self.r.random() < 0.08:
            parts.insert(0, self.pick(TOPIC_FRAMES).format(TOPIC=self.pick(TOPICS)))
        parts.append(body)
        if self.r.random() < 0.2:
            _, more, more_tags = self.conduct_body(type_, ctx)
            parts.append("；另外，" + more)
            tags += more_tags
        text = "".join(parts)
        if self.r.random() < 0.1:
            text += "。" + self.pick(RHETORICAL_TAILS)
        channel = self.pick(CHANNELS)
        text = self.frame(channel, text, city, d, third_person=self.r.random() < 0.6)
        triggers = ["approval_complaint"] if (approval and uses_matter) else []
        return self.item(self.noise(text), True, type_, triggers, enterprise, tags, channel, f"generated:conduct:{type_}")

    def project(self, kind: str) -> dict:
        """A 五必查 project item: project_slow / investor_withdrawal / investment_approval_service."""
        city, d, t = self.place()
        ctx, _, _ = self.slots(d, t)
        if kind == "investment_approval_service":
            type_ = self.pick(list(APPROVAL_CAUSE))
            cause = self.pick(APPROVAL_CAUSE[type_])
        else:
            type_ = self.pick(list(PROJECT_CAUSE))
            cause = self.pick(PROJECT_CAUSE[type_])
        prj, zone = self.pick(PROJECTS), self.pick(ZONES)
        who = self.pick(["我们公司", "我们企业", "我们集团", "我们几个股东", "我们这家外地企业", "我们投资方"])
        year = self.r.choice(["2021", "2022", "前年", "去年初", "三年前"])
        intro = self.pick([
            "{who}{y}在{d}{z}投了{a}建{p}，", "{who}的{p}是{y}招商引资进来的，落在{d}{z}，",
            "{c}{d}{z}的{p}，{who}是投资方，", "{who}在{z}的{p}（总投资{a}），", "{who}{y}来{d}投资的{p}，",
            "{d}{z}招引的{p}，我们是投资企业，", "说一下{who}在{c}{d}的{p}：",
        ]).format(who=who, y=year, d=d, z=zone, a=self.pick(INVEST_AMOUNTS), p=prj, c=city)
        triggers: list[str] = []
        if kind == "project_slow":
            if self.r.random() < 0.5:
                body = intro + self.pick(LANDING_SLOW) + "。" + cause
            else:  # the cause first, the stalled project as its result
                body = intro + cause + self.pick(["，结果", "，弄得", "，到头来", "。现在", "，所以"]) + self.pick(LANDING_SLOW)
            triggers = ["project_slow"]
            if self.r.random() < 0.25:
                body += "，" + self.pick(WITHDRAWAL).format(**ctx)
                triggers.append("investor_withdrawal")
        elif kind == "investor_withdrawal":
            body = intro + cause + "。" + self.pick(["现在", "没办法，", "考虑再三，", "说实话，"]) + self.pick(WITHDRAWAL).format(**ctx)
            triggers = ["investor_withdrawal"]
            if self.r.random() < 0.3:
                body = body.replace(intro, intro + self.pick(LANDING_SLOW) + "，", 1)
                triggers.append("project_slow")
        else:
            apr = self.pick(INVEST_APPROVALS)
            if self.r.random() < 0.5:
                body = intro + self.pick(["办{a}的时候", "{a}报上去以后", "为了{a}", "在{a}这一环"]).format(a=apr) + "，" + cause
            else:
                type_ = self.pick(list(pools_more.APPROVAL_STORY))
                short = self.pick(pools_more.INVEST_INTROS_SHORT).format(d=d, p=prj)
                body = (intro if self.r.random() < 0.4 else short) + self.pick(pools_more.APPROVAL_STORY[type_]).format(a=apr)
            triggers = ["investment_approval_service", "approval_complaint"]
        if self.r.random() < 0.4:
            body += "，" + self.pick(CLOSINGS_DEMAND)
        channel = self.pick(["12345", "12345", "12388", "mayor_line", "online", "petition", "walk_in"])
        text = self.frame(channel, body, city, d, third_person=False)
        return self.item(self.noise(text), True, type_, triggers, True, [], channel, f"generated:trigger:{kind}")

    def over_budget(self) -> dict:
        city, d, _ = self.place()
        type_ = self.pick(list(OVER_CAUSE))
        work = f"{d}{self.pick(GOV_WORKS)}"
        base = self.pick([1800, 2500, 3000, 4200, 5000, 8000, 12000, 20000, 36000])
        ratio = self.pick([1.5, 1.8, 2.0, 2.27, 2.6, 3.1])
        new = int(round(base * ratio, -2))
        yrs = self.pick([(2, 4), (1, 3), (3, 6), (2, 5), (1.5, 4)])

        def cn(v):  # 3000 -> 三千万, 12000 -> 一亿二千万
            digits = "零一二三四五六七八九"
            def small(n):
                out = ""
                for unit, size in (("千", 1000), ("百", 100), ("十", 10)):
                    if n >= size:
                        out += digits[n // size] + unit
                        n %= size
                return out + (digits[n] if n else "")
            yi, wan = divmod(v, 10000)
            return (small(yi) + "亿" if yi else "") + (small(wan) + "万" if wan else "")

        def money(v):
            return f"{v / 10000:g}亿" if v >= 10000 and self.r.random() < 0.6 else f"{v}万"

        budget = self.pick([
            "概算{a}元，现在结算已经到了{b}元", "预算从{a}涨到{b}", "当初批的是{a}，追加来追加去变成了{b}",
            "总投资原来报的{a}，现在花了{b}还没完", "预算{a}→实际{b}", "批复概算{a}，目前累计支付{b}，严重超支",
            "投资由{a}增加到{b}", "前后追加了{d}，总造价到了{b}", "超出批复概算{p}%", "预算是{a}，审计核定的却是{b}",
            "概算{ac}，决算{bc}",
        ]).format(a=money(base), b=money(new), d=money(new - base), p=round((new / base - 1) * 100), ac=cn(base), bc=cn(new))
        sched = self.pick([
            "原计划{p}年完工，现在{q}年了还没竣工", "合同工期{p}年，实际干了{q}年", "计划工期{p}年→现在已经{q}年",
            "说是{p}年建成，拖到第{q}年还在施工", "计划{y0}年底完工，现在都{y1}年了还在干", "工期原定{m0}个月，已经过去{m1}个月",
            "比合同工期晚了{q2}年多还没验收",
        ]).format(p=f"{yrs[0]:g}", q=f"{yrs[1]:g}", y0=2019 + int(yrs[0]), y1=2019 + int(yrs[1]) + 1, m0=int(yrs[0] * 12),
                  m1=int(yrs[1] * 12), q2=f"{yrs[1] - yrs[0]:g}")
        which = self.r.random()
        facts = budget if which < 0.4 else sched if which < 0.7 else budget + "，" + sched
        body = self.pick([
            "{w}{f}是{g}，{x}，{c}", "{w}，{g}，{x}。{c}", "反映{w}的问题：{g}，{x}，{c}",
        ]).format(w=work, f="", g=self.pick(GOV_FUNDING), x=facts, c=self.pick(OVER_CAUSE[type_]))
        enterprise = self.r.random() < 0.15
        if enterprise:
            body = self.pick(["我们是这个工程的分包单位，", "我们公司参与了这个项目，"]) + body
        channel = self.pick(["12388", "12388", "12345", "petition", "online", "media"])
        text = self.frame(channel, body, city, d, third_person=False)
        return self.item(self.noise(text), True, type_, ["over_budget_schedule"], enterprise, [], channel, "generated:trigger:over_budget_schedule")

    def non_conduct(self) -> dict:
        city, d, t = self.place()
        ctx, _, _ = self.slots(d, t)
        kind, enterprise, tpl = self.pick(NON_CONDUCT)
        body = tpl.format(**ctx)
        if kind == "consult" and not body.startswith("请问") and self.r.random() < 0.45:
            body = self.pick(pools_more.CONSULT_OPENERS) + body
        if self.r.random() < 0.3:
            body = self.pick(["{c}{d}的市民，", "我住在{d}{t}，", "您好，", "你好，我是{t}的居民，"]).format(c=city, d=d, t=t) + body
        channel = self.pick(["12345"] * 6 + ["qr", "online", "mayor_line", "12388"])
        text = self.frame_plain(channel, body, city, d) if self.r.random() < 0.7 else body
        return self.item(self.noise(text), False, None, [], enterprise, [], channel, f"generated:non_conduct:{kind}")


def load_handwritten(path: Path = HANDWRITTEN) -> list[dict]:
    """Lines `type|triggers|E or -|channel|text`; type `-` = not a conduct complaint."""
    items = []
    if not path.exists():
        return items
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        type_, trig, ent, channel, text = line.split("|", 4)
        type_ = None if type_ == "-" else type_
        items.append({"text": text.strip(), "conduct": type_ is not None, "family": FAMILY[type_] if type_ else None,
                      "type": type_, "triggers": sorted(t for t in trig.split(",") if t and t != "-"),
                      "enterprise": ent == "E", "tags": [], "channel": channel, "source": "handwritten"})
    return items


def build(seed: int = SEED) -> list[dict]:
    c = Composer(seed)
    items = []
    for type_ in FAMILY:
        items += [c.conduct(type_) for _ in range(240)]
    for kind in ("project_slow", "investor_withdrawal", "investment_approval_service"):
        items += [c.project(kind) for _ in range(150)]
    items += [c.over_budget() for _ in range(150)]
    items += [c.non_conduct() for _ in range(800)]
    items += load_handwritten()
    seen, unique = set(), []
    for it in items:  # composing can repeat itself; keep each text once
        if it["text"] not in seen:
            seen.add(it["text"])
            unique.append(it)
    random.Random(seed).shuffle(unique)
    return unique


def stats(items: list[dict]) -> str:
    types = Counter(i["type"] for i in items if i["conduct"])
    trig = Counter(t for i in items for t in i["triggers"])
    conduct = sum(i["conduct"] for i in items)
    lines = [f"items {len(items)}; conduct {conduct}; non-conduct {len(items) - conduct}; "
             + f"enterprise {sum(i['enterprise'] for i in items)}"]
    lines += [f"  {k}: {v}" for k, v in sorted(types.items())]
    lines += [f"  trigger {k}: {v}" for k, v in sorted(trig.items())]
    return "\n".join(lines)


def main() -> None:
    items = build()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w", encoding="utf-8") as f:
        for it in items:
            f.write(json.dumps(it, ensure_ascii=False) + "\n")
    if "--stats" in sys.argv:
        print(stats(items))
    print(f"wrote {len(items)} items to {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
