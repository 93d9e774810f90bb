#!/usr/bin/env python3
"""Writes N returning messages into a Maildir-free spool for bench/inbound.sh:
inbound_mail.py OUT_DIR N EML_DIR

Reads the Message-IDs and recipients of the messages nurture wrote to EML_DIR (its file
outbox), and makes N returning messages from the shapes of tests/fixtures/inbound/, mixed as a
practice's mailbox is: 40 % hard bounces (Postfix, Gmail, Microsoft 365), 15 % soft bounces,
20 % replies, 10 % auto-replies, 5 % complaints, 5 % mailed opt-outs, 5 % strangers' mail.
Each returning message gets its own Message-ID; each is written as OUT_DIR/NNNNNN.eml.
"""
import os
import re
import sys

out, n, eml_dir = sys.argv[1], int(sys.argv[2]), sys.argv[3]
here = os.path.dirname(os.path.abspath(__file__))
fixtures = os.path.join(here, "..", "tests", "fixtures", "inbound")
sent = []
for name in sorted(os.listdir(eml_dir)):
    if not name.endswith(".eml"):
        continue
    head = open(os.path.join(eml_dir, name), encoding="utf-8", errors="replace").read().split("\r\n\r\n", 1)[0]
    mid = re.search(r"^Message-ID: (<[^>]+>)", head, re.M | re.I).group(1)
    to = re.search(r"^To: (?:.*<)?([^<>\s]+@[^<>\s]+)>?", head, re.M).group(1)
    sent.append((mid, to.lower()))
assert sent, "no sent messages in " + eml_dir
mix = (["postfix-hard.eml"] * 16 + ["gmail-hard.eml"] * 12 + ["m365-hard.eml"] * 12
       + ["exim-soft.eml"] * 15 + ["reply-gmail.eml"] * 12 + ["reply-outlook-arabic.eml"] * 8
       + ["autoreply-exchange.eml"] * 6 + ["autoreply-arabic-subject.eml"] * 4
       + ["arf-complaint.eml"] * 5 + ["mailto-unsubscribe.eml"] * 5 + ["stranger-reply.eml"] * 5)
shapes = {name: open(os.path.join(fixtures, name), encoding="utf-8").read() for name in set(mix)}
os.makedirs(out, exist_ok=True)
own_id = re.compile(r"^(Message-I[dD]: ?)<[^>]+>", re.M)
for i in range(n):
    name = mix[i % len(mix)]
    mid, rcpt = sent[(i * 7919) % len(sent)]
    text = shapes[name]
    # The returning message's own id: the first Message-ID header line (the outer one).
    text = own_id.sub(lambda m: f"{m.group(1)}<bench-return-{i}@returns.example>", text, count=1)
    text = text.replace("{{MESSAGE_ID}}", mid).replace("{{RCPT}}", rcpt)
    with open(os.path.join(out, f"{i:06d}.eml"), "w", encoding="utf-8") as f:
        f.write(text.replace("\n", "\r\n"))
