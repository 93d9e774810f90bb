#!/usr/bin/env python3
"""Writes N synthetic contacts as CSV: gen_contacts.py N OUT.csv MODE DATE [NAME]

MODE spread: enrollment dates spread over the 365 days before DATE, across the three plans
             (a realistic nightly: a few percent of contacts have a touch due).
MODE blast:  every contact on plan `blast` enrolled on DATE (one email each: delivery bench).
NAME:        the addresses' local part, numbered (default `bench`: bench0@example.com, ...);
             another name gives other people, to add to a file of the default.
"""
import csv
import datetime
import random
import sys

n, out, mode, date = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
name_part = sys.argv[5] if len(sys.argv) > 5 else "bench"
day = datetime.date.fromisoformat(date)
rng = random.Random(42)
plans = ["8x8", "33-touch", "12-direct"]
first = ["Olivia", "Marcus", "Grace", "Daniel", "Lena", "أحمد", "فاطمة", "Sara", "Omar", "Maya"]
with open(out, "w", newline="", encoding="utf-8") as f:
    w = csv.writer(f)
    w.writerow(["email", "phone", "first_name", "last_name", "locale", "plan", "enrolled_on", "source", "agent", "address"])
    for i in range(n):
        name = first[i % len(first)]
        locale = "ar" if name in ("أحمد", "فاطمة", "Omar") else "en"
        if mode == "blast":
            plan, enrolled = "blast", day
        else:
            plan, enrolled = plans[i % 3], day - datetime.timedelta(days=rng.randrange(0, 365))
        phone = "+1217%07d" % (2010000 + i % 7000000) if i % 4 == 0 else ""
        w.writerow([f"{name_part}{i}@example.com", phone, name, "Bench", locale, plan, enrolled.isoformat(), "bench", "sara", f"{i} Main St"])
