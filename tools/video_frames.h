// Frames of a video file for differnet-train (a recorded clip of good parts is a training
// set). Decoded with GStreamer (uridecodebin: whatever the installed plugins play), converted to RGB.
// Built where gstreamer-app-1.0 is found; elsewhere read_video_frames says so.
#pragma once
#include <cstdint>
#include <functional>
#include <string>

#include "frame.h"

namespace differnet::cli {

// Video files by extension: mp4, mkv, avi, mov, webm, ogv, ts, m4v, mjpeg (case-insensitive).
bool is_video_path(const std::string& path);

// Calls `take(frame, index)` with every `interval`-th frame (index 0, interval, 2*interval, ...)
// of the file, in order, until the end or until `take` returns false. Returns the frames decoded.
// Throws Error naming the file and GStreamer's reason when it cannot be played.
int64_t read_video_frames(const std::string& path, int interval,
                          const std::function<bool(const FrameView& frame, int64_t index)>& take);

// Whether this build reads video files.
bool video_input_available();

}  // namespace differnet::cli
