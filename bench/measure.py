#!/usr/bin/env python3
"""Times one command for the benchmark scripts: prints `SECONDS PEAK_RSS_MIB CPU_SECONDS` (wall
time, and the child's peak RSS and user + system CPU from getrusage). The command's stdout goes
to stderr, so a caller can keep it (`2>out.json`); exit codes 0 and 2 (nurture's "done, with
rows or messages left out") count as success.

  measure.py [--stdin FILE] COMMAND [ARG...]
"""
import resource
import subprocess
import sys
import time

args = sys.argv[1:]
stdin = None
if args[:1] == ["--stdin"]:
    stdin = open(args[1], "rb")
    args = args[2:]
start = time.monotonic()
done = subprocess.run(args, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
secs = time.monotonic() - start
if done.returncode not in (0, 2):
    sys.exit(f"failed ({done.returncode}): {args}")
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(f"{secs:.2f} {usage.ru_maxrss // 1024} {usage.ru_utime + usage.ru_stime:.2f}")
print(done.stdout.strip().replace("\n", " "), file=sys.stderr)
