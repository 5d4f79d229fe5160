#!/usr/bin/python3
"""Collects the results that differnetpublish elements publish (many lines, many machines, one
broker) into a SQLite file and prints per-line counts: the consumer end of the scale-out recipe

    pipelines (differnetfilter ! differnetpublish) -> one MQTT broker -> this collector

Usage:
  collect_results.py [--host HOST] [--port PORT] [--topic 'differnet/#'] [--db results.sqlite]
                     [--count N] [--idle SECONDS] [--username USER --password-file FILE]
                     [--ca-file CA.crt]

Runs until Ctrl-C, until N messages arrived (--count), or until no message came for SECONDS
(--idle, after the first one), then prints one line per stream: results, anomalies, the share of
anomalies and the last frame number. Every message is one row of the table `results` (its fields
and the whole JSON text); attached frames (frame_jpeg) are kept in the JSON text.

Needs python3-paho-mqtt (Debian package; 1.6 API).
"""
import argparse
import json
import signal
import sqlite3
import sys
import time

import paho.mqtt.client as mqtt

SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
  received_at REAL, topic TEXT, stream TEXT, host TEXT, frame INTEGER, pts_ns INTEGER,
  score REAL, threshold REAL, anomaly INTEGER, reused INTEGER, model_id TEXT, payload TEXT)
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="localhost")
    ap.add_argument("--port", type=int, default=1883)
    ap.add_argument("--topic", default="differnet/#", help="topic filter to subscribe to (default differnet/#)")
    ap.add_argument("--db", default="results.sqlite", help="SQLite file (created, appended to)")
    ap.add_argument("--count", type=int, default=0, help="stop after this many messages")
    ap.add_argument("--idle", type=float, default=0, help="stop after this many seconds without a message")
    ap.add_argument("--username")
    ap.add_argument("--password-file", help="file whose first line is the password")
    ap.add_argument("--ca-file", help="CA certificate of the broker (turns TLS on)")
    args = ap.parse_args()

    db = sqlite3.connect(args.db)
    db.execute(SCHEMA)
    state = {"received": 0, "bad": 0, "last": None, "stop": False, "error": None}

    def on_connect(client, userdata, flags, rc):
        if rc != 0:
            state["error"] = "the broker refused the connection: " + mqtt.connack_string(rc)
            state["stop"] = True
            return
        client.subscribe(args.topic, qos=1)

    def on_message(client, userdata, msg):
        try:
            r = json.loads(msg.payload)
            db.execute("INSERT INTO results VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                       (time.time(), msg.topic, r.get("stream"), r.get("host"), r.get("frame"), r.get("pts_ns"),
                        r.get("score"), r.get("threshold"), int(bool(r.get("anomaly"))), int(bool(r.get("reused"))),
                        r.get("model_id"), msg.payload.decode("utf-8", "replace")))
        except (ValueError, AttributeError) as e:
            state["bad"] += 1
            print(f"collect_results: skipped a message on {msg.topic} that is not a result: {e}", file=sys.stderr)
            return
        state["received"] += 1
        state["last"] = time.monotonic()
        if args.count and state["received"] >= args.count:
            state["stop"] = True

    client = mqtt.Client()
    if args.username:
        password = None
        if args.password_file:
            with open(args.password_file, encoding="utf-8") as f:
                password = f.readline().rstrip("\r\n")
        client.username_pw_set(args.username, password)
    if args.ca_file:
        client.tls_set(ca_certs=args.ca_file)
    client.on_connect = on_connect
    client.on_message = on_message
    signal.signal(signal.SIGINT, lambda *_: state.update(stop=True))
    signal.signal(signal.SIGTERM, lambda *_: state.update(stop=True))
    try:
        client.connect(args.host, args.port, keepalive=30)
    except OSError as e:
        sys.exit(f"collect_results: cannot connect to {args.host}:{args.port}: {e}")
    print(f"collect_results: subscribed to {args.topic} on {args.host}:{args.port}, storing in {args.db}",
          flush=True)
    last_commit = time.monotonic()
    while not state["stop"]:
        client.loop(timeout=0.1)  # reconnects by itself after a broker restart
        if args.idle and state["last"] and time.monotonic() - state["last"] > args.idle:
            break
        if time.monotonic() - last_commit > 1:
            db.commit()
            last_commit = time.monotonic()
    client.disconnect()
    db.commit()
    if state["error"]:
        sys.exit("collect_results: " + state["error"])

    rows = db.execute("SELECT stream, COUNT(*), SUM(anomaly), MAX(frame) FROM results GROUP BY stream "
                      "ORDER BY stream").fetchall()
    print(f"{'stream':<20} {'results':>8} {'anomalies':>10} {'share':>7} {'last frame':>11}")
    for stream, n, anomalies, last in rows:
        print(f"{stream or '?':<20} {n:>8} {anomalies:>10} {100.0 * anomalies / n:>6.1f}% {last if last is not None else '-':>11}")
    total = sum(r[1] for r in rows)
    print(f"{state['received']} message(s) received now, {total} result(s) from {len(rows)} stream(s) in {args.db}"
          + (f", {state['bad']} skipped" if state["bad"] else ""))


if __name__ == "__main__":
    main()
