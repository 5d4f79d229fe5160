// Choosing the image score from good images (model/image_score_choice.h) and the synthetic defects it
// plants (model/synthetic_defects.h): each kind changes a part of the image and not the rest, the same
// seed gives the same image; the rule takes the candidate with the highest ROC AUC (ties: combined,
// flow, gaussian in that order), scores an image by its worst tile; it runs on the tiny model, and
// models it cannot judge are refused with the reason.
#include <gtest/gtest.h>

#include <cmath>

#include "image_score_choice.h"
#include "synthetic_defects.h"
#include "test_support.h"
#include "trainer.h"

using namespace differnet;

namespace {
constexpr int kSize = 96;

std::vector<at::Tensor> textures(int first, int count) {
  std::vector<Image> images;
  for (int i = 0; i < count; ++i) images.push_back(fixtures::make_texture(kSize, kSize, first + i));
  return fixtures::resized_for_training(images, 128);
}

// The share of pixels (any channel) a planted defect changed by more than one level.
double changed_share(const at::Tensor& before, const at::Tensor& after) {
  const at::Tensor d = (after.to(at::kFloat) - before.to(at::kFloat)).abs().amax(1);  // [1,H,W]
  return (d > 1.0).to(at::kFloat).mean().item<double>();
}
}  // namespace

TEST(SyntheticDefects, EachKindChangesAPartOfTheImageReproducibly) {
  const at::Tensor img = textures(300, 1)[0];  // [1,3,128,128] uint8
  ASSERT_EQ(img.scalar_type(), at::kByte);
  for (SyntheticDefect kind : all_synthetic_defects()) {
    const at::Tensor a = plant_synthetic_defect(img, kind, 7);
    EXPECT_EQ(a.sizes(), img.sizes());
    EXPECT_EQ(a.scalar_type(), at::kByte);
    EXPECT_TRUE(at::equal(a, plant_synthetic_defect(img, kind, 7))) << synthetic_defect_name(kind);
    EXPECT_FALSE(at::equal(a, plant_synthetic_defect(img, kind, 8))) << synthetic_defect_name(kind);
    const double share = changed_share(img, a);
    std::printf("%-8s changed %.1f %% of the pixels\n", synthetic_defect_name(kind), 100 * share);
    // Bounds from the kinds' sizes (synthetic_defects.h): a scratch at least 15 % of the side long
    // and 1 px wide changes at least 0.1 % of a 128-px image; a stain covers at most a quarter-side
    // radius ellipse (under 20 %); a patch at most 25 % x 25 % (6.25 %).
    EXPECT_GT(share, 0.001) << synthetic_defect_name(kind);
    EXPECT_LT(share, 0.2) << synthetic_defect_name(kind);
  }
  // Float images keep their type; the planted levels stay within 0..255.
  const at::Tensor f = plant_synthetic_defect(img[0].to(at::kFloat), SyntheticDefect::Spot, 1);
  EXPECT_EQ(f.scalar_type(), at::kFloat);
  EXPECT_EQ(f.dim(), 3);
  EXPECT_GE(f.min().item<float>(), 0.0f);
  EXPECT_LE(f.max().item<float>(), 255.0f);
  EXPECT_THROW(plant_synthetic_defect(at::zeros({2, 3, 64, 64}, at::kByte), SyntheticDefect::Spot, 1), std::invalid_argument);
  EXPECT_THROW(plant_synthetic_defect(at::zeros({1, 1, 64, 64}, at::kByte), SyntheticDefect::Spot, 1), std::invalid_argument);
  EXPECT_THROW(plant_synthetic_defect(at::zeros({1, 3, 8, 64}, at::kByte), SyntheticDefect::Spot, 1), std::invalid_argument);
}

// The rule on given scores: the Gaussian part moves with the planted defect (by 0.55 and 1.05, its
// good values spread over 0..1.9 in steps of 0.1, so that no planted value ties a good one: the
// closest lie 0.05 apart), the flow's does not (the same value in each copy, ties by construction),
// so the Gaussian is chosen; the combined candidate, the Gaussian plus the flow's unrelated spread,
// lies between them (computed by hand: flow 0.5, combined 0.74125, gaussian 0.8125; the nearest
// combined planted and good scores lie 0.0075 apart, far beyond any rounding).
TEST(ImageScoreChoice, TakesTheCandidateThatSeparatesTheSyntheticDefects) {
  std::vector<std::vector<std::vector<TileScoreParts>>> parts;
  for (int i = 0; i < 20; ++i) {
    const double f = std::sin(1.7 * i), g = 0.1 * i;
    parts.push_back({{{f, g}}, {{f, g + 0.55}}, {{f, g + 1.05}}});
  }
  const ImageScoreChoice c = choose_from_parts(parts, {"a", "b"});
  ASSERT_EQ(c.candidates.size(), 3u);
  EXPECT_EQ(c.candidates[0].method, "combined");
  EXPECT_EQ(c.candidates[1].method, "flow");
  EXPECT_EQ(c.candidates[2].method, "gaussian");
  EXPECT_EQ(c.chosen, "gaussian");
  EXPECT_NEAR(c.candidates[0].auroc, 0.74125, 1e-12);
  EXPECT_DOUBLE_EQ(c.candidates[1].auroc, 0.5);
  EXPECT_NEAR(c.candidates[2].auroc, 0.8125, 1e-12);
  EXPECT_LT(c.candidates[2].per_kind.at("a"), c.candidates[2].per_kind.at("b"));
  EXPECT_EQ(c.good_images, 20);
  EXPECT_EQ(c.synthetic_images, 40);
  EXPECT_NE(c.summary().find("gaussian (ROC AUC on synthetic defects in 20 held-out good images"), std::string::npos)
      << c.summary();
  EXPECT_NE(c.table().find("* gaussian"), std::string::npos) << c.table();
}

// Equal ROC AUC: combined is kept (the presets' score before the choice existed). An image scores its
// worst tile: a defect in the second tile counts. A NaN part ranks above every finite score.
TEST(ImageScoreChoice, TiesKeepCombinedAndTheWorstTileCounts) {
  std::vector<std::vector<std::vector<TileScoreParts>>> parts;
  for (int i = 0; i < 12; ++i) {
    const double g = 1.0 + 0.1 * i;
    parts.push_back({{{g, g}, {g, g}}, {{g, g}, {g + 10, g + 10}}});
  }
  const ImageScoreChoice c = choose_from_parts(parts, {"spot"});
  for (const auto& cand : c.candidates) EXPECT_DOUBLE_EQ(cand.auroc, 1.0) << cand.method;
  EXPECT_EQ(c.chosen, "combined");
  parts[0][1][1].flow = NAN;
  EXPECT_DOUBLE_EQ(choose_from_parts(parts, {"spot"}).candidates[1].auroc, 1.0);
  // Good images whose parts do not vary cannot scale the combined candidate.
  std::vector<std::vector<std::vector<TileScoreParts>>> flat(12, {{{1.0, 1.0}}, {{2.0, 2.0}}});
  EXPECT_THROW(choose_from_parts(flat, {"spot"}), Error);
  EXPECT_THROW(choose_from_parts(parts, {"spot", "crack"}), Error) << "an image without every kind";
}

// On the tiny model (untrained flow, Gaussian fitted on 16 good textures): every candidate is judged
// on every kind, and the model is left as it was.
TEST(ImageScoreChoice, RunsOnAModel) {
  ModelConfig cfg = fixtures::tiny_config(16);
  cfg.standardize = true;
  cfg.image_score.method = "combined";
  cfg.image_score.gaussian = true;
  Model m = Model::create(cfg, Backbone::load(fixtures::source_dir() + "/model/weights/squeezenet1_1.safetensors"), 1);
  fit_pooled_gaussian(m, textures(100, 16), {}, true);
  std::vector<std::vector<at::Tensor>> good;
  for (const auto& img : textures(700, 10)) good.push_back({img});
  int calls = 0;
  const ImageScoreChoice a = choose_image_score(m, good, "cpu", 3, [&](int done, int total) {
    EXPECT_EQ(total, 60);
    EXPECT_EQ(done, ++calls);
    return true;
  });
  EXPECT_EQ(calls, 60);
  std::printf("%s\n%s", a.summary().c_str(), a.table().c_str());
  ASSERT_EQ(a.candidates.size(), 3u);
  for (const auto& c : a.candidates) {
    EXPECT_EQ(c.per_kind.size(), all_synthetic_defects().size());
    EXPECT_GE(c.auroc, 0.0);
    EXPECT_LE(c.auroc, 1.0);
  }
  EXPECT_EQ(a.synthetic_images, 50);
  EXPECT_EQ(m.config.image_score.method, "combined");
  EXPECT_THROW(choose_image_score(m, good, "cpu", 3, [](int, int) { return false; }), Error);

  // Refused: too few images, no Gaussian, no trained flow.
  auto refused = [&](const Model& model, const std::vector<std::vector<at::Tensor>>& images, const std::string& words) {
    try {
      choose_image_score(model, images, "cpu", 0);
      ADD_FAILURE() << "accepted; expected '" << words << "'";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
    }
  };
  refused(m, std::vector<std::vector<at::Tensor>>(good.begin(), good.begin() + 9), "at least 10 held-out good images, got 9");
  Model no_gaussian = Model::create(fixtures::tiny_config(16), Backbone::load(fixtures::source_dir() + "/model/weights/squeezenet1_1.safetensors"), 1);
  refused(no_gaussian, good, "needs the model's pooled Gaussian");
  Model no_flow = m;
  no_flow.config.image_score.flow_trained = false;
  refused(no_flow, good, "needs a model with a trained flow");
}

// How the score was chosen travels in the model file; files without it load with it empty.
TEST(ImageScoreChoice, TheChoiceIsRecordedInTheConfiguration) {
  ModelConfig c = fixtures::tiny_config(16);
  c.image_score = {"gaussian", true, true, "auto: gaussian (ROC AUC on synthetic defects in 76 held-out good images)"};
  const ModelConfig back = ModelConfig::from_json(c.to_json());
  EXPECT_EQ(back.image_score.chosen_by, c.image_score.chosen_by);
  EXPECT_EQ(back.image_score.method, "gaussian");
  c.image_score.chosen_by.clear();
  EXPECT_EQ(c.to_json().find("chosen_by"), std::string::npos);
  EXPECT_TRUE(ModelConfig::from_json(c.to_json()).image_score.chosen_by.empty());
}
