#!/usr/bin/python3
"""Publishing benchmark: starts a mosquitto broker of its own on a free loopback port and
prints, measured in one run on this machine:
  1. messages per second one pipeline publishes at QoS 0 and QoS 1: N results (differnetfilter with
     inference-interval so large that it scores once and every frame carries that result) from the
     first buffer until the broker acknowledged (QoS 1) or the client sent (QoS 0) the last one, and
     how many a subscriber (mosquitto_sub) received;
  2. the frame rate of a scoring pipeline (160x120 frames, the model given) without and with
     differnetpublish (QoS 1), alternated, and their ratio.

Usage: scripts/bench/bench_publish.py MODEL [--messages N] [--frames F] [--build BUILD_DIR]
Needs the build's plugin, mosquitto, mosquitto-clients is not needed (the subscriber is paho-mqtt).
"""
import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

ap = argparse.ArgumentParser()
ap.add_argument("model")
ap.add_argument("--messages", type=int, default=20000)
ap.add_argument("--frames", type=int, default=150)
ap.add_argument("--build", default="build")
args = ap.parse_args()
os.environ.setdefault("GST_PLUGIN_PATH", os.path.abspath(os.path.join(args.build, "plugin")))
os.environ.setdefault("GST_REGISTRY", os.path.join(tempfile.gettempdir(), "differnet-bench-publish-registry.bin"))

import gi  # noqa: E402

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402
import paho.mqtt.client as mqtt  # noqa: E402

Gst.init(None)
if not Gst.ElementFactory.find("differnetpublish"):
    sys.exit("bench_publish: differnetpublish not found (build with libmosquitto-dev; GST_PLUGIN_PATH=%s)"
             % os.environ["GST_PLUGIN_PATH"])

work = tempfile.mkdtemp(prefix="differnet-bench-publish-")
s = socket.socket()
s.bind(("127.0.0.1", 0))
port = s.getsockname()[1]
s.close()
with open(os.path.join(work, "mosquitto.conf"), "w") as f:
    f.write(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nuser {os.environ.get('USER') or 'root'}\n"
            "max_queued_messages 0\n")
broker = subprocess.Popen(["mosquitto", "-c", os.path.join(work, "mosquitto.conf")],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
for _ in range(200):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
        break
    except OSError:
        time.sleep(0.02)


class Counter:
    """A subscriber counting what the broker delivers on a topic."""

    def __init__(self, topic):
        self.n = 0
        self.ready = threading.Event()
        self.c = mqtt.Client()
        self.c.on_connect = lambda c, u, f, rc: c.subscribe(topic, qos=1)
        self.c.on_subscribe = lambda *a: self.ready.set()
        self.c.on_message = self._message
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()
        self.ready.wait(5)

    def _message(self, c, u, msg):
        self.n += 1

    def stop(self):
        self.c.loop_stop()
        self.c.disconnect()


def run(description, until=None):
    """Plays `description` to EOS; returns (seconds from the first buffer to EOS, or to until(), pipeline)."""
    p = Gst.parse_launch(description)
    first = {}

    def probe(pad, info):
        first.setdefault("t", time.perf_counter())
        return Gst.PadProbeReturn.OK

    p.get_by_name("src").get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, probe)
    p.set_state(Gst.State.PLAYING)
    msg = p.get_bus().timed_pop_filtered(600 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
    if msg is None or msg.type == Gst.MessageType.ERROR:
        sys.exit("bench_publish: %s" % (msg.parse_error()[0].message if msg else "timeout"))
    if until:
        while not until(p):
            time.sleep(0.001)
    elapsed = time.perf_counter() - first["t"]
    return elapsed, p


print(f"broker: mosquitto on 127.0.0.1:{port}; model {args.model}")
print("1. messages per second, one pipeline (results on 32x32 frames, scored once, reused)")
for qos in (0, 1):
    topic = f"bench/qos{qos}"
    counter = Counter(topic)
    n = args.messages
    desc = (f"videotestsrc name=src num-buffers={n} ! video/x-raw,width=32,height=32,format=RGB ! "
            f"differnetfilter model={args.model} inference-interval=100000000 overlay=none post-messages=false "
            f"localization=false ! differnetpublish name=pub address=127.0.0.1:{port} topic={topic} qos={qos} "
            f"queue-size={n} required=true ! fakesink sync=false")
    elapsed, p = run(desc, until=lambda p: p.get_by_name("pub").get_property("messages-published") >= n)
    dropped = p.get_by_name("pub").get_property("messages-dropped")
    p.set_state(Gst.State.NULL)
    deadline = time.time() + 10
    while counter.n < n and time.time() < deadline:
        time.sleep(0.05)
    counter.stop()
    print(f"   QoS {qos}: {n} messages in {elapsed:.2f} s = {n / elapsed:,.0f} messages/s; "
          f"dropped {dropped}; the subscriber received {counter.n}")

print(f"2. frame rate of a scoring pipeline ({args.frames} frames of 160x120), without and with differnetpublish (QoS 1)")
base = (f"videotestsrc name=src num-buffers={args.frames} ! video/x-raw,width=160,height=120 ! videoconvert ! "
        f"differnetfilter model={args.model} overlay=none post-messages=false ! ")
rates = {"without": [], "with": []}
for _ in range(2):
    for kind in ("without", "with"):
        tail = "fakesink sync=false" if kind == "without" else (
            f"differnetpublish address=127.0.0.1:{port} topic=bench/fps qos=1 required=true ! fakesink sync=false")
        elapsed, p = run(base + tail)
        p.set_state(Gst.State.NULL)
        rates[kind].append(args.frames / elapsed)
without = sum(rates["without"]) / 2
with_ = sum(rates["with"]) / 2
print(f"   without: {without:.2f} fps ({', '.join(f'{r:.2f}' for r in rates['without'])}); "
      f"with: {with_:.2f} fps ({', '.join(f'{r:.2f}' for r in rates['with'])}); ratio with/without {with_ / without:.3f}")
broker.terminate()
broker.wait()
