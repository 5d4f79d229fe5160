#!/usr/bin/python3
"""read_meta.py: reads DifferNet results from a running pipeline in Python, through the
"DifferNetResult" custom meta (no C binding needed), in a pad probe.

usage: read_meta.py MODEL [PIPELINE with an element named differnet]
Prints one line per frame and a summary; exits 1 if a buffer came without the meta.
Needs python3-gi and gir1.2-gstreamer-1.0 (GStreamer >= 1.20 for custom meta).
"""
import sys

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402


def main():
    Gst.init(None)
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    model = sys.argv[1]
    description = sys.argv[2] if len(sys.argv) > 2 else (
        "videotestsrc num-buffers=30 ! video/x-raw,width=320,height=240 ! videoconvert ! "
        f'differnetfilter name=differnet model="{model}" overlay=none ! fakesink')
    pipeline = Gst.parse_launch(description)
    counts = {"buffers": 0, "with_meta": 0, "anomalies": 0}

    def on_buffer(pad, info):
        buffer = info.get_buffer()
        counts["buffers"] += 1
        meta = buffer.get_custom_meta("DifferNetResult")
        if meta is not None:
            s = meta.get_structure()
            counts["with_meta"] += 1
            anomaly = s.get_value("anomaly")
            counts["anomalies"] += int(anomaly)
            print(f'frame {s.get_value("frame")} score {s.get_value("score"):.4f} '
                  f'threshold {s.get_value("threshold"):.4f} {"ANOMALY" if anomaly else "ok"} '
                  f'model {s.get_value("model-id")}')
        return Gst.PadProbeReturn.OK

    pipeline.get_by_name("differnet").get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, on_buffer)
    pipeline.set_state(Gst.State.PLAYING)
    msg = pipeline.get_bus().timed_pop_filtered(Gst.CLOCK_TIME_NONE, Gst.MessageType.ERROR | Gst.MessageType.EOS)
    status = 0
    if msg.type == Gst.MessageType.ERROR:
        err, debug = msg.parse_error()
        print(f"error: {err.message} ({debug})", file=sys.stderr)
        status = 1
    pipeline.set_state(Gst.State.NULL)
    print(f'{counts["buffers"]} buffers, {counts["with_meta"]} with DifferNet meta, {counts["anomalies"]} anomalous')
    if counts["buffers"] == 0 or counts["with_meta"] != counts["buffers"]:
        status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
