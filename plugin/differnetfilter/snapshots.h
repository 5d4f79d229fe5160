/* Snapshots: the frames differnetfilter judges anomalous, written as PNG files to a folder. A
 * failure to write is one warning per run of failures (naming the file and the reason); the next
 * success posts an info message with how many were lost. */
#pragma once
#include <gst/gst.h>
#include <gst/video/video.h>

#include <string>

#include "frame.h"

namespace differnet {

struct SnapshotWriter {
  std::string dir;         // empty: no snapshots
  guint64 lost = 0;        // snapshots that could not be written since the last success
  // Writes `frame` (with its overlay, as drawn) as DIR/frame-NNNNNNNN.png, through a temporary
  // file and a rename; messages go to `element`'s bus.
  void save (GstElement * element, GstVideoFrame * frame, PixelFormat format, guint64 number);
};

}  // namespace differnet
