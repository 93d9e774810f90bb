#!/usr/bin/env python3
"""A scriptable SMTP server for fault tests (stdlib asyncio only).

usage: fault_smtp.py PORT_FILE LOG_FILE CONTROL_FILE [PORT]

CONTROL_FILE is JSON, re-read for every connection and every command, so a test can change
the behaviour while nurture runs:
  {"greeting": 220,                 # code of the greeting
   "ehlo": 250, "mail": 250, "rcpt": 250, "data": 354, "end": 250,   # codes per stage
   "text": "...",                   # text of a non-2xx/3xx reply
   "stall": "greeting|ehlo|mail|rcpt|data|end",   # never answer at that stage
   "delay_end": 0.0,                # seconds before the reply after the data (each message
                                    # that waits is noted in LOG_FILE.arrived first)
   "drop_after_data": false,        # close the connection instead of the final reply
   "refuse": false,                 # close every new connection at once
   "no_8bitmime": false,            # EHLO does not offer 8BITMIME
   "pipelining": false,             # EHLO offers PIPELINING (RFC 2920); commands are read one
                                    # line at a time either way
   "down": false}                   # relay gone: close new connections and any connection at
                                    # its next MAIL FROM, without a reply
A MAIL that arrived together with its RCPT (pipelined) adds a line to LOG_FILE.pipelined.
Every message whose final reply was 250 is appended to LOG_FILE as one JSON line
{"rcpt": [...], "mail": "...", "bytes": N}; so is every message received whatever the
reply, with "accepted": true|false and "stage": "end".
"""
import asyncio, json, sys

port_file, log_file, control_file = sys.argv[1], sys.argv[2], sys.argv[3]
fixed_port = int(sys.argv[4]) if len(sys.argv) > 4 else 0


def control():
    try:
        with open(control_file) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def log(entry):
    with open(log_file, "a") as f:
        f.write(json.dumps(entry) + "\n")


async def reply(writer, code, text):
    writer.write(f"{code} {text}\r\n".encode())
    await writer.drain()


async def stage(writer, name, default, ok_text):
    c = control()
    if c.get("stall") == name:
        await asyncio.sleep(3600)
    code = int(c.get(name, default))
    text = ok_text if code < 400 else c.get("text", "refused by policy")
    await reply(writer, code, text)
    return code < 400


async def session(reader, writer):
    if control().get("refuse") or control().get("down"):
        writer.close()
        return
    try:
        if not await stage(writer, "greeting", 220, "fault-smtp ready"):
            return
        mail, rcpt = None, []
        while True:
            line = await reader.readline()
            if not line:
                return
            cmd = line.decode(errors="replace").strip()
            verb = cmd.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                c = control()
                if c.get("stall") == "ehlo":
                    await asyncio.sleep(3600)
                code = int(c.get("ehlo", 250))
                if code >= 400:
                    await reply(writer, code, c.get("text", "no"))
                else:
                    eight = b"" if c.get("no_8bitmime") else b"250-8BITMIME\r\n"
                    pipe = b"250-PIPELINING\r\n" if c.get("pipelining") else b""
                    writer.write(b"250-fault-smtp\r\n" + eight + pipe + b"250 SIZE 100000000\r\n")
                    await writer.drain()
            elif verb == "MAIL":
                if control().get("down"):
                    writer.close()
                    return
                mail = cmd[10:].strip()
                rcpt = []
                # RCPT already read with MAIL: the client pipelined them (LOG_FILE.pipelined).
                if b"RCPT" in bytes(getattr(reader, "_buffer", b"")):
                    with open(log_file + ".pipelined", "a") as f:
                        f.write("1\n")
                await stage(writer, "mail", 250, "ok")
            elif verb == "RCPT":
                if await stage(writer, "rcpt", 250, "ok"):
                    rcpt.append(cmd[8:].strip().strip("<>"))
            elif verb == "DATA":
                if not await stage(writer, "data", 354, "go ahead"):
                    continue
                body = bytearray()
                while True:
                    chunk = await reader.readline()
                    if not chunk:
                        return
                    if chunk == b".\r\n":
                        break
                    body.extend(chunk)
                c = control()
                if c.get("drop_after_data"):
                    log({"rcpt": rcpt, "mail": mail, "bytes": len(body), "accepted": False, "dropped": True})
                    writer.close()
                    return
                if c.get("stall") == "end":
                    log({"rcpt": rcpt, "mail": mail, "bytes": len(body), "accepted": False, "stalled": True})
                    await asyncio.sleep(3600)
                if float(c.get("delay_end", 0)) > 0:
                    # The data is here, the reply not yet sent: tests act in this window.
                    with open(log_file + ".arrived", "a") as f:
                        f.write(json.dumps({"rcpt": rcpt}) + "\n")
                await asyncio.sleep(float(c.get("delay_end", 0)))
                code = int(c.get("end", 250))
                log({"rcpt": rcpt, "mail": mail, "bytes": len(body), "accepted": code == 250})
                await reply(writer, code, "queued" if code == 250 else c.get("text", "content rejected"))
            elif verb == "RSET":
                mail, rcpt = None, []
                await reply(writer, 250, "ok")
            elif verb == "NOOP":
                await reply(writer, 250, "ok")
            elif verb == "QUIT":
                await reply(writer, 221, "bye")
                writer.close()
                return
            else:
                await reply(writer, 502, "unknown command")
    except (ConnectionError, asyncio.IncompleteReadError):
        pass


async def main():
    server = await asyncio.start_server(session, "127.0.0.1", fixed_port, reuse_address=True)
    port = server.sockets[0].getsockname()[1]
    with open(port_file + ".tmp", "w") as f:
        f.write(str(port))
    import os
    os.replace(port_file + ".tmp", port_file)
    async with server:
        await server.serve_forever()


asyncio.run(main())
