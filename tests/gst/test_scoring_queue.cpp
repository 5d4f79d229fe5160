// ScoringQueue, the element's frames in flight, on its own: order, frames that need no scoring
// between scored ones, errors, clear() while the worker scores, destruction with frames held.
#include <gst/gst.h>
#include <gtest/gtest.h>

#include <thread>

#include "error.h"
#include "scoring_queue.h"
#include "test_support.h"

using namespace differnet;

namespace {

class ScoringQueueTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    path_ = fixtures::temp_dir() + "/model.safetensors";
    save_model(fixtures::tiny_model(3, 16), path_);
  }
  static Detector& detector() {
    static Detector d(DetectorOptions{path_, fixtures::test_device(), 2});
    return d;
  }
  // A job for frame `number`: scored (its pixels uploaded) or carrying the last result.
  static std::unique_ptr<FrameJob> job(guint64 number, bool score, uint32_t seed = 1) {
    auto j = std::make_unique<FrameJob>();
    j->buffer = gst_buffer_new();
    j->number = number;
    j->score = score;
    if (score) {
      Image img = fixtures::make_texture(64, 48, seed);
      j->upload = detector().upload(img.view(), j->request);
      j->region = j->upload.region();
    }
    return j;
  }
  static inline std::string path_;
};

}  // namespace

TEST_F(ScoringQueueTest, FramesLeaveInOrderWithTheirResults) {
  const double expected = [] {
    Image img = fixtures::make_texture(64, 48, 7);
    return detector().detect(img.view(), {}).score;
  }();
  ScoringQueue queue(detector());
  for (guint64 n = 0; n < 9; ++n) queue.push(job(n, n % 3 == 0, 7));  // scored, reused, reused, scored, ...
  EXPECT_EQ(queue.size(), 9u);
  for (guint64 n = 0; n < 9; ++n) {
    std::unique_ptr<FrameJob> j = queue.pop_oldest();
    ASSERT_NE(j, nullptr);
    EXPECT_EQ(j->number, n);
    EXPECT_TRUE(j->error.empty()) << j->error;
    if (j->score) {
      EXPECT_NEAR(j->detection.score, expected, 1e-6 * expected) << "frame " << n;  // (CUDA's kernels may vary)
      EXPECT_TRUE(j->upload.empty());  // the device copy is freed once scored
    }
  }
  EXPECT_EQ(queue.pop_oldest(), nullptr);
  EXPECT_FALSE(queue.oldest_done());
}

TEST_F(ScoringQueueTest, ScoringErrorsTravelWithTheFrame) {
  ScoringQueue queue(detector());
  auto bad = job(0, true);
  bad->request.transforms = 0;  // refused by the Detector
  queue.push(std::move(bad));
  queue.push(job(1, true));
  std::unique_ptr<FrameJob> first = queue.pop_oldest(), second = queue.pop_oldest();
  EXPECT_NE(first->error.find("test-time rotations"), std::string::npos) << first->error;
  EXPECT_TRUE(second->error.empty()) << second->error;
}

TEST_F(ScoringQueueTest, ClearAndDestroyWhileScoring) {
  {
    ScoringQueue queue(detector());
    for (guint64 n = 0; n < 6; ++n) queue.push(job(n, true, static_cast<uint32_t>(n)));
    queue.clear();  // waits for the frame being scored, drops the rest
    EXPECT_EQ(queue.size(), 0u);
    queue.push(job(6, true));
    EXPECT_EQ(queue.pop_oldest()->number, 6u);  // the worker still runs after a clear
    for (guint64 n = 7; n < 12; ++n) queue.push(job(n, n % 2 == 0));
  }  // destroyed with frames held: finishes the one being scored, unrefs every buffer
  SUCCEED();
}

// BatchScheduler: calls from three threads (three elements' workers) become one batch of three,
// each frame with the score it gets alone; a lone caller with a 1 ms timeout is scored alone.
TEST_F(ScoringQueueTest, SchedulerGathersCallersIntoBatches) {
  std::shared_ptr<BatchScheduler> scheduler = BatchScheduler::of(detector());
  EXPECT_EQ(BatchScheduler::of(detector()), scheduler);  // one per model
  const uint64_t batches_before = scheduler->batches();
  std::vector<Image> images;
  std::vector<UploadedFrame> uploads;
  for (uint32_t k = 0; k < 3; ++k) {
    images.push_back(fixtures::make_texture(64, 48, 20 + k));
    uploads.push_back(detector().upload(images.back().view(), {}));
  }
  std::vector<BatchItem> items(3);
  std::vector<std::thread> callers;
  for (size_t k = 0; k < 3; ++k) {
    items[k].frame = &uploads[k];
    callers.emplace_back([&, k] { scheduler->score({&items[k]}, BatchPolicy{3, std::chrono::seconds(10)}); });
  }
  for (std::thread& t : callers) t.join();
  EXPECT_EQ(scheduler->batches() - batches_before, 1u);
  for (size_t k = 0; k < 3; ++k) {
    ASSERT_TRUE(items[k].error.empty()) << items[k].error;
    EXPECT_EQ(items[k].batch_frames, 3);
    const double alone = detector().detect(images[k].view(), {}).score;
    EXPECT_NEAR(items[k].detection.score, alone, fixtures::tiny_model_tolerance(16) * alone) << k;  // batched: test_support.h
  }
  BatchItem single;
  single.frame = &uploads[0];
  scheduler->score({&single}, BatchPolicy{3, std::chrono::milliseconds(1)});
  EXPECT_EQ(single.batch_frames, 1);
  EXPECT_TRUE(single.error.empty()) << single.error;
}
