#!/usr/bin/env python3
"""Writes a year of report facts for N contacts as Redis protocol (for `redis-cli --pipe`).

    gen_facts.py N PREFIX LAST_DAY [DAYS]

The facts have the shape `nurture` records (src/facts.rs: kind, pseudonym, plan, touch,
source, agent, value, detail; tab-separated), one list per day `{PREFIX}:facts:DAY`, and the
deals list `{PREFIX}:facts:deals` that `report customers` reads. Per year: 12 % of the contacts
arrive as leads; every contact is sent 14 messages (33 Touch's mailings); 1 % of sends fail,
0.5 % are suppressed; 0.5 % of contacts opt out; 8 % respond (1.5 times each); 2 % buy (1.3
deals each, the first marked `first`); 15 % move along the pipeline. Deterministic (seeded).
"""
import datetime
import json
import random
import sys

n = int(sys.argv[1])
prefix = sys.argv[2]
last = datetime.date.fromisoformat(sys.argv[3])
days = int(sys.argv[4]) if len(sys.argv) > 4 else 365
rng = random.Random(7)
out = sys.stdout.buffer
PLANS = {"8x8": [f"w{i}" for i in range(1, 11)], "33-touch": [f"t{i:02}" for i in range(1, 34)], "12-direct": [f"m{i:02}" for i in range(1, 13)]}
PLAN_NAMES = list(PLANS)
SOURCES = ["zillow", "web", "open house", "referral", "facebook", "google", "sign call", "past client"]
AGENTS = [f"agent{i}" for i in range(10)]
STAGES = ["contacted", "interested", "proposal", "signed", "client", "lost"]


def who(i):
    return f"{(i * 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF:016x}"


def contact(i):
    r = random.Random(i)
    plan = PLAN_NAMES[r.randrange(3)]
    return plan, SOURCES[r.randrange(len(SOURCES))], AGENTS[r.randrange(len(AGENTS))]


per_day = [[] for _ in range(days)]


def fact(day, kind, i, touch="", value="", detail=""):
    plan, source, agent = contact(i)
    if not touch and kind not in ("lead",):
        touch = rng.choice(PLANS[plan])
    per_day[day].append(f"{kind}\t{who(i)}\t{plan}\t{touch}\t{source}\t{agent}\t{value}\t{detail}")


deals = []
for i in range(n):
    plan, _, _ = contact(i)
    if rng.random() < 0.12:
        fact(rng.randrange(days), "lead", i)
    touches = PLANS[plan]
    for k in range(14):
        day = (i + k * 26) % days
        touch = touches[k % len(touches)]
        roll = rng.random()
        kind = "failed" if roll < 0.01 else "suppressed" if roll < 0.015 else "sent"
        fact(day, kind, i, touch)
    if rng.random() < 0.005:
        fact(rng.randrange(days), "unsubscribed", i)
    if rng.random() < 0.08:
        for _ in range(1 + (rng.random() < 0.5)):
            fact(rng.randrange(days), "response", i)
    if rng.random() < 0.02:
        count = 1 + (rng.random() < 0.3)
        for d in sorted(rng.randrange(days) for _ in range(count)):
            value = round(rng.uniform(2_000, 60_000), 2)
            fact(d, "deal", i, value=f"{value}", detail="first" if not any(x[0] == i for x in deals[-2:]) else "")
            deals.append((i, d, value))
    if rng.random() < 0.15:
        fact(rng.randrange(days), "stage", i, detail=rng.choice(STAGES))


def command(*args):
    parts = [f"*{len(args)}\r\n".encode()]
    for a in args:
        b = a.encode() if isinstance(a, str) else a
        parts.append(b"$%d\r\n%s\r\n" % (len(b), b))
    out.write(b"".join(parts))


first = last - datetime.timedelta(days=days - 1)
total = 0
for d, lines in enumerate(per_day):
    key = f"{prefix}:facts:{first + datetime.timedelta(days=d)}"
    for start in range(0, len(lines), 1000):
        command("RPUSH", key, *lines[start:start + 1000])
    total += len(lines)
for start in range(0, len(deals), 1000):
    rows = [json.dumps({"contact_id": f"c{i}@example.com", "date": str(first + datetime.timedelta(days=d)), "value": v}) for i, d, v in deals[start:start + 1000]]
    command("RPUSH", f"{prefix}:facts:deals", *rows)
costs = [json.dumps({"source": s, "date": str(first + datetime.timedelta(days=d)), "amount": 500.0}) for s in SOURCES for d in range(0, days, 7)]
command("RPUSH", f"{prefix}:costs:log", *costs)
print(f"{total} facts, {len(deals)} deals over {days} days from {first}", file=sys.stderr)
