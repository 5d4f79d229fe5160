// differnetpublish against a real broker: Debian's mosquitto started by the test on a free
// loopback port with a configuration written by the test (no system service). Results are made
// in the test (GstDifferNetMeta on generated buffers), so no model is needed. A subscriber in the
// test (libmosquitto) collects what the broker delivers. Skipped, with the reason, only where the
// mosquitto broker is not installed.
#include <arpa/inet.h>
#include <gst/check/gstharness.h>
#include <gst/gst.h>
#include <gtest/gtest.h>
#include <mosquitto.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gst/differnet/differnetmeta.h>

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string find_program(const std::vector<std::string>& candidates) {
  for (const auto& c : candidates) {
    gchar* path = g_find_program_in_path(c.c_str());
    if (path) {
      std::string p(path);
      g_free(path);
      return p;
    }
    if (fs::exists(c)) return c;
  }
  return "";
}

int free_port() {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  close(s);
  return ntohs(a.sin_port);
}

bool port_open(int port) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  close(s);
  return ok;
}

std::string temp_dir() {
  gchar* d = g_dir_make_tmp("differnet-publish-XXXXXX", nullptr);
  std::string out(d);
  g_free(d);
  return out;
}

bool run(const std::string& command) {
  return std::system((command + " >/dev/null 2>&1").c_str()) == 0;
}

// A mosquitto broker of our own: started, killed (SIGKILL) and restarted on the same port.
class Broker {
 public:
  Broker(std::string dir, std::string config_body) : dir_(std::move(dir)), port_(free_port()) {
    // "user": as root the broker would switch to the mosquitto user, who cannot read this folder.
    std::ofstream(dir_ + "/mosquitto.conf") << "listener " << port_ << " 127.0.0.1\nuser " << g_get_user_name() << "\n"
                                             << config_body << "log_dest file " << dir_ << "/broker.log\n";
  }
  ~Broker() { kill(); }
  bool start() {
    const std::string exe = find_program({"mosquitto", "/usr/sbin/mosquitto"});
    pid_ = fork();
    if (pid_ == 0) {
      execl(exe.c_str(), exe.c_str(), "-c", (dir_ + "/mosquitto.conf").c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    for (int i = 0; i < 500; ++i) {
      if (port_open(port_)) return true;
      int status;
      if (waitpid(pid_, &status, WNOHANG) == pid_) break;  // exited: a bad configuration
      g_usleep(10000);
    }
    return false;
  }
  void kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string log() const {
    std::ifstream f(dir_ + "/broker.log");
    return std::string(std::istreambuf_iterator<char>(f), {});
  }

 private:
  std::string dir_;
  int port_;
  pid_t pid_ = -1;
};

// A subscriber in the test: collects every payload on `topic` (QoS 1). With a client id and
// clean_session=false its subscription survives a broker restart (with broker persistence).
struct SubscriberOptions {
  std::string client_id, username, password, ca_file;
  bool clean_session = true;
};

class Subscriber {
 public:
  using Options = SubscriberOptions;
  Subscriber(int port, std::string topic, const Options& o = {}) : topic_(std::move(topic)) {
    mosquitto_lib_init();
    mosq_ = mosquitto_new(o.client_id.empty() ? nullptr : o.client_id.c_str(), o.clean_session, this);
    if (!o.username.empty()) mosquitto_username_pw_set(mosq_, o.username.c_str(), o.password.c_str());
    if (!o.ca_file.empty()) mosquitto_tls_set(mosq_, o.ca_file.c_str(), nullptr, nullptr, nullptr, nullptr);
    mosquitto_connect_callback_set(mosq_, [](mosquitto* m, void* self, int rc) {
      if (rc == 0) mosquitto_subscribe(m, nullptr, static_cast<Subscriber*>(self)->topic_.c_str(), 1);
    });
    mosquitto_subscribe_callback_set(mosq_, [](mosquitto*, void* self, int, int, const int*) {
      auto* s = static_cast<Subscriber*>(self);
      std::lock_guard<std::mutex> g(s->lock_);
      s->subscribed_++;
    });
    mosquitto_message_callback_set(mosq_, [](mosquitto*, void* self, const mosquitto_message* msg) {
      auto* s = static_cast<Subscriber*>(self);
      std::lock_guard<std::mutex> g(s->lock_);
      s->messages_.emplace_back(static_cast<const char*>(msg->payload), msg->payloadlen);
    });
    mosquitto_reconnect_delay_set(mosq_, 1, 1, false);
    mosquitto_connect_async(mosq_, "127.0.0.1", port, 30);
    mosquitto_loop_start(mosq_);
  }
  ~Subscriber() {
    mosquitto_disconnect(mosq_);
    mosquitto_loop_stop(mosq_, true);
    mosquitto_destroy(mosq_);
  }
  // Waits until `pred` holds (up to `seconds`).
  template <class Pred>
  bool wait(Pred pred, double seconds = 10) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (std::chrono::steady_clock::now() < end) {
      {
        std::lock_guard<std::mutex> g(lock_);
        if (pred(messages_, subscribed_)) return true;
      }
      g_usleep(10000);
    }
    return false;
  }
  bool wait_subscribed(int times = 1) {
    return wait([times](const std::vector<std::string>&, int s) { return s >= times; });
  }
  bool wait_count(size_t n, double seconds = 10) {
    return wait([n](const std::vector<std::string>& m, int) { return m.size() >= n; }, seconds);
  }
  std::vector<json> messages() {
    std::lock_guard<std::mutex> g(lock_);
    std::vector<json> out;
    for (const auto& m : messages_) out.push_back(json::parse(m));
    return out;
  }

 private:
  std::string topic_;
  mosquitto* mosq_;
  std::mutex lock_;
  std::vector<std::string> messages_;
  int subscribed_ = 0;
};

const char* kCaps = "video/x-raw,format=RGB,width=32,height=24,framerate=30/1";

// A 32x24 RGB buffer carrying a meta for frame `i`: anomalous when `anomaly`.
GstBuffer* result_buffer(int i, bool anomaly, int noise_seed = -1) {
  GstBuffer* buf = gst_buffer_new_allocate(nullptr, 32 * 24 * 3, nullptr);
  GstMapInfo map;
  gst_buffer_map(buf, &map, GST_MAP_WRITE);
  for (gsize k = 0; k < map.size; ++k)
    map.data[k] = noise_seed < 0 ? static_cast<guint8>(k * 7 + i) : static_cast<guint8>(g_random_int() & 0xff);
  gst_buffer_unmap(buf, &map);
  GST_BUFFER_PTS(buf) = i * GST_SECOND / 30;
  GST_BUFFER_DURATION(buf) = GST_SECOND / 30;
  GstDifferNetMeta* m = gst_buffer_add_differnet_meta(buf);
  m->score = 0.5 + 0.25 * i;
  m->threshold = 3.0;
  m->anomaly = anomaly;
  m->frame = i;
  m->transforms = 1;
  m->reused = i % 4 == 3;
  m->inference_ms = 12.5;
  g_strlcpy(m->model_id, "0123456789ab", sizeof m->model_id);
  m->region_x = 2, m->region_y = 3, m->region_width = 20, m->region_height = 16;
  return buf;
}

GstHarness* publisher(const std::string& props) {
  GstHarness* h = gst_harness_new_parse(("differnetpublish name=p " + props).c_str());
  gst_harness_set_src_caps_str(h, kCaps);
  return h;
}

GstElement* element(GstHarness* h) {
  GstElement* e = gst_bin_get_by_name(GST_BIN(h->element), "p");
  gst_object_unref(e);  // the bin keeps it
  return e;
}

// Stops the element (draining its queue) and returns its statistics.
struct Counts { guint64 published, dropped; };
Counts stop(GstHarness* h) {
  gst_element_set_state(h->element, GST_STATE_NULL);
  Counts c{};
  g_object_get(element(h), "messages-published", &c.published, "messages-dropped", &c.dropped, nullptr);
  return c;
}

// Error, warning and info messages of a bus, kept in the test: gst_bus_pop_filtered would discard
// the messages of other types.
class Messages {
 public:
  Messages() : bus_(gst_bus_new()) {}
  ~Messages() { gst_object_unref(bus_); }
  GstBus* bus() { return bus_; }
  // The texts of every message of `type` so far, one per "Text | debug" entry, joined by newlines.
  std::string of(GstMessageType type) {
    drain();
    std::string all;
    for (const auto& [t, text] : seen_)
      if (t == type) all += text + "\n";
    return all;
  }
  int count(GstMessageType type) {
    drain();
    return static_cast<int>(std::count_if(seen_.begin(), seen_.end(), [type](const auto& m) { return m.first == type; }));
  }
  // Waits until a message of `type` containing `needle` arrived (up to `seconds`).
  bool wait_for(GstMessageType type, const std::string& needle, double seconds = 5) {
    for (int i = 0; i < seconds * 100; ++i) {
      if (of(type).find(needle) != std::string::npos) return true;
      g_usleep(10000);
    }
    return false;
  }

 private:
  void drain() {
    while (GstMessage* m = gst_bus_pop(bus_)) {
      const GstMessageType type = GST_MESSAGE_TYPE(m);
      GError* err = nullptr;
      gchar* debug = nullptr;
      if (type == GST_MESSAGE_ERROR) gst_message_parse_error(m, &err, &debug);
      else if (type == GST_MESSAGE_WARNING) gst_message_parse_warning(m, &err, &debug);
      else if (type == GST_MESSAGE_INFO) gst_message_parse_info(m, &err, &debug);
      if (err) {
        seen_.emplace_back(type, std::string(err->message) + " | " + (debug ? debug : ""));
        g_error_free(err);
      }
      g_free(debug);
      gst_message_unref(m);
    }
  }
  GstBus* bus_;
  std::vector<std::pair<GstMessageType, std::string>> seen_;
};

// A publisher whose messages from its very start reach `bus`: the harness starts the element as it
// makes it, before a bus can be set, so it is restarted once the bus is there.
GstHarness* publisher_on(Messages& bus, const std::string& props) {
  GstHarness* h = publisher(props);
  gst_element_set_bus(h->element, bus.bus());
  gst_element_set_state(h->element, GST_STATE_NULL);
  gst_element_set_state(h->element, GST_STATE_PLAYING);
  gst_harness_set_src_caps_str(h, kCaps);
  return h;
}

class Publish : public ::testing::Test {
 protected:
  void SetUp() override {
    if (find_program({"mosquitto", "/usr/sbin/mosquitto"}).empty())
      GTEST_SKIP() << "the mosquitto broker is not installed (apt-get install mosquitto; scripts/install-deps.sh does)";
    dir_ = temp_dir();
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  std::string dir_;
};

}  // namespace

// N frames -> N messages, each with the meta's fields, the stream, the host and the region.
TEST_F(Publish, EveryResultArrivesWithTheMetaFields) {
  Broker broker(dir_, "allow_anonymous true\npersistence false\n");
  ASSERT_TRUE(broker.start()) << broker.log();
  Subscriber sub(broker.port(), "plant/line1");
  ASSERT_TRUE(sub.wait_subscribed());
  GstHarness* h = publisher("address=" + broker.address() + " topic=plant/line1 stream=\"line 1\" required=true");
  constexpr int kFrames = 25;
  for (int i = 0; i < kFrames; ++i) {
    GstBuffer* out = gst_harness_push_and_pull(h, result_buffer(i, i % 5 == 0));
    ASSERT_NE(out, nullptr);
    EXPECT_NE(gst_buffer_get_differnet_meta(out), nullptr);  // passes through, meta and all
    gst_buffer_unref(out);
  }
  const Counts c = stop(h);
  EXPECT_EQ(c.published, static_cast<guint64>(kFrames));
  EXPECT_EQ(c.dropped, 0u);
  ASSERT_TRUE(sub.wait_count(kFrames));
  const auto got = sub.messages();
  ASSERT_EQ(got.size(), static_cast<size_t>(kFrames));
  for (int i = 0; i < kFrames; ++i) {
    const json& m = got[i];
    EXPECT_EQ(m["frame"], i);
    EXPECT_EQ(m["pts_ns"], static_cast<guint64>(i) * GST_SECOND / 30);
    EXPECT_DOUBLE_EQ(m["score"].get<double>(), 0.5 + 0.25 * i);
    EXPECT_DOUBLE_EQ(m["threshold"].get<double>(), 3.0);
    EXPECT_EQ(m["anomaly"], i % 5 == 0);
    EXPECT_EQ(m["reused"], i % 4 == 3);
    EXPECT_DOUBLE_EQ(m["inference_ms"].get<double>(), 12.5);
    EXPECT_EQ(m["model_id"], "0123456789ab");
    EXPECT_EQ(m["stream"], "line 1");
    EXPECT_EQ(m["host"], g_get_host_name());
    EXPECT_EQ(m["region"], json({{"x", 2}, {"y", 3}, {"width", 20}, {"height", 16}}));
    EXPECT_FALSE(m.contains("frame_jpeg"));
  }
  gst_harness_teardown(h);
}

// publish=anomalies, publish=changes and interval select what is sent.
TEST_F(Publish, OnlyAnomaliesChangesAndInterval) {
  Broker broker(dir_, "allow_anonymous true\npersistence false\n");
  ASSERT_TRUE(broker.start()) << broker.log();
  const bool verdicts[] = {false, true, true, false, false, true, false, true, true, true, false, false};
  struct Case { const char* props; std::vector<int> frames; };
  const Case cases[] = {
      {"publish=anomalies", {1, 2, 5, 7, 8, 9}},
      {"publish=changes", {0, 1, 3, 5, 6, 7, 10}},
      {"interval=4", {0, 4, 8}},
      {"publish=anomalies interval=2", {1, 5, 8}},
  };
  int n = 0;
  for (const Case& c : cases) {
    const std::string topic = "t/" + std::to_string(n++);
    Subscriber sub(broker.port(), topic);
    ASSERT_TRUE(sub.wait_subscribed());
    GstHarness* h = publisher("address=" + broker.address() + " topic=" + topic + " required=true " + c.props);
    for (int i = 0; i < 12; ++i) gst_buffer_unref(gst_harness_push_and_pull(h, result_buffer(i, verdicts[i])));
    const Counts counts = stop(h);
    EXPECT_EQ(counts.published, c.frames.size()) << c.props;
    ASSERT_TRUE(sub.wait_count(c.frames.size())) << c.props;
    g_usleep(100000);  // nothing more comes
    std::vector<int> frames;
    for (const json& m : sub.messages()) frames.push_back(m["frame"]);
    EXPECT_EQ(frames, c.frames) << c.props;
    gst_harness_teardown(h);
  }
}

// The broker killed in the middle of a stream and restarted: every buffer leaves at once while it
// is gone; the oldest messages are dropped from the full queue and counted exactly (what the
// subscriber received + messages-dropped = frames); publishing resumes by itself; the bus says so.
TEST_F(Publish, BrokerKilledAndRestarted) {
  // Persistence, saved on every change, so that the subscriber's session (clean_session=false)
  // survives the SIGKILL and the broker keeps what arrives for it while it reconnects.
  Broker broker(dir_, "allow_anonymous true\npersistence true\npersistence_location " + dir_ +
                          "/\nautosave_interval 1\nautosave_on_changes true\n");
  ASSERT_TRUE(broker.start()) << broker.log();
  Subscriber::Options options;
  options.client_id = "test-subscriber";
  options.clean_session = false;
  Subscriber sub(broker.port(), "line/2", options);
  ASSERT_TRUE(sub.wait_subscribed());
  g_usleep(200000);  // the subscription saved
  GstHarness* h = publisher("address=" + broker.address() +
                            " topic=line/2 qos=1 queue-size=8 reconnect-max-delay=1 drain-timeout=10000 required=true");
  Messages bus;
  gst_element_set_bus(h->element, bus.bus());
  GstElement* p = element(h);
  double slowest = 0;
  int frame = 0;
  auto push = [&](int count) {
    for (int i = 0; i < count; ++i, ++frame) {
      const auto t0 = std::chrono::steady_clock::now();
      GstBuffer* out = gst_harness_push_and_pull(h, result_buffer(frame, false));
      slowest = std::max(slowest, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      ASSERT_NE(out, nullptr);
      EXPECT_EQ(GST_BUFFER_PTS(out), static_cast<guint64>(frame) * GST_SECOND / 30);
      gst_buffer_unref(out);
      g_usleep(5000);
    }
  };
  push(10);
  ASSERT_TRUE(sub.wait_count(10));
  broker.kill();
  push(30);  // the broker is gone: the queue of 8 fills, the oldest are dropped
  for (int i = 0; i < 100; ++i) {
    gboolean connected = TRUE;
    g_object_get(p, "connected", &connected, nullptr);
    if (!connected) break;
    g_usleep(10000);
  }
  ASSERT_TRUE(broker.start()) << broker.log();
  for (int i = 0; i < 1000; ++i) {  // the publisher reconnects by itself (backoff of at most 1 s)
    gboolean connected = FALSE;
    g_object_get(p, "connected", &connected, nullptr);
    if (connected) break;
    g_usleep(10000);
  }
  push(10);
  const Counts c = stop(h);
  EXPECT_LT(slowest, 0.25) << "a buffer waited for the broker";
  EXPECT_GT(c.dropped, 0u);
  ASSERT_TRUE(sub.wait([&](const std::vector<std::string>& m, int) {
    std::set<int> frames;
    for (const auto& text : m) frames.insert(json::parse(text)["frame"].get<int>());
    return frames.size() >= c.published;
  }, 15));
  std::set<int> received;
  for (const json& m : sub.messages()) received.insert(m["frame"].get<int>());  // QoS 1: duplicates possible
  EXPECT_EQ(received.size(), c.published);
  EXPECT_EQ(c.published + c.dropped, 50u) << "published " << c.published << ", dropped " << c.dropped;
  for (int f = 40; f < 50; ++f) EXPECT_TRUE(received.count(f)) << "frame " << f << " after the restart";
  const std::string warnings = bus.of(GST_MESSAGE_WARNING);
  EXPECT_NE(warnings.find("lost the connection to the MQTT broker at " + broker.address()), std::string::npos) << warnings;
  EXPECT_NE(warnings.find("Publishing falls behind"), std::string::npos) << warnings;
  const std::string infos = bus.of(GST_MESSAGE_INFO);
  EXPECT_NE(infos.find("Publishing resumed"), std::string::npos) << infos;
  gst_harness_teardown(h);
}

// TLS with a CA made here and a user with a password: messages arrive; a wrong password is
// refused, clearly (an error at start with required=true, a warning without it).
TEST_F(Publish, TlsWithPasswordAndAWrongPassword) {
  if (find_program({"openssl"}).empty() || find_program({"mosquitto_passwd", "/usr/bin/mosquitto_passwd"}).empty())
    GTEST_SKIP() << "openssl or mosquitto_passwd is not installed";
  const std::string d = dir_;
  ASSERT_TRUE(run("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=test-ca -keyout " + d + "/ca.key -out " + d + "/ca.crt"));
  ASSERT_TRUE(run("openssl req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout " + d + "/server.key -out " + d + "/server.csr"));
  std::ofstream(d + "/ext.cnf") << "subjectAltName=DNS:localhost,IP:127.0.0.1\n";
  ASSERT_TRUE(run("openssl x509 -req -in " + d + "/server.csr -CA " + d + "/ca.crt -CAkey " + d + "/ca.key -CAcreateserial -days 2 -extfile " + d + "/ext.cnf -out " + d + "/server.crt"));
  ASSERT_TRUE(run("mosquitto_passwd -b -c " + d + "/passwd inspector s3cret"));
  Broker broker(d, "allow_anonymous false\npassword_file " + d + "/passwd\ncafile " + d + "/ca.crt\ncertfile " + d +
                       "/server.crt\nkeyfile " + d + "/server.key\npersistence false\n");
  ASSERT_TRUE(broker.start()) << broker.log();
  Subscriber::Options options;
  options.username = "inspector";
  options.password = "s3cret";
  options.ca_file = d + "/ca.crt";
  Subscriber sub(broker.port(), "secure/line", options);
  ASSERT_TRUE(sub.wait_subscribed());

  std::ofstream(d + "/good.pw") << "s3cret\n";
  std::ofstream(d + "/bad.pw") << "guess\n";
  const std::string base = "address=" + broker.address() + " topic=secure/line tls-ca-file=" + d +
                           "/ca.crt username=inspector ";
  GstHarness* h = publisher(base + "password-file=" + d + "/good.pw required=true");
  for (int i = 0; i < 5; ++i) gst_buffer_unref(gst_harness_push_and_pull(h, result_buffer(i, true)));
  EXPECT_EQ(stop(h).published, 5u);
  gst_harness_teardown(h);
  ASSERT_TRUE(sub.wait_count(5));

  // A wrong password with required=true: the start fails, saying the broker refused it.
  GstElement* e = gst_element_factory_make("differnetpublish", nullptr);
  gst_util_set_object_arg(G_OBJECT(e), "address", broker.address().c_str());
  g_object_set(e, "tls-ca-file", (d + "/ca.crt").c_str(), "username", "inspector", "password-file",
               (d + "/bad.pw").c_str(), "required", TRUE, nullptr);
  Messages bus;
  gst_element_set_bus(e, bus.bus());
  EXPECT_EQ(gst_element_set_state(e, GST_STATE_PAUSED), GST_STATE_CHANGE_FAILURE);
  const std::string error = bus.of(GST_MESSAGE_ERROR);
  EXPECT_NE(error.find("refused the connection"), std::string::npos) << error;
  EXPECT_NE(error.find("not authori"), std::string::npos) << error;
  gst_element_set_state(e, GST_STATE_NULL);
  gst_object_unref(e);

  // Without required: a warning, and the frames go on.
  Messages warnings;
  h = publisher_on(warnings, base + "password-file=" + d + "/bad.pw");
  for (int i = 0; i < 3; ++i) gst_buffer_unref(gst_harness_push_and_pull(h, result_buffer(i, true)));
  EXPECT_TRUE(warnings.wait_for(GST_MESSAGE_WARNING, "refused the connection")) << warnings.of(GST_MESSAGE_WARNING);
  gst_harness_teardown(h);
}

// Bad settings are clear errors at start; an unreachable broker is a warning (the video goes on)
// unless required=true.
TEST_F(Publish, BadAddressTopicAndUnreachableBroker) {
  struct Case { const char* props; const char* needle; };
  // Port 1: below the ephemeral range (no client socket of this machine can get it, so no TCP
  // self-connection), and nothing listens there.
  const int closed = 1;
  const std::string unreachable = "address=127.0.0.1:" + std::to_string(closed) + " required=true";
  for (const Case& c : {Case{"address=nohost", "has no port"}, Case{"address=host:99999", "from 1 to 65535"},
                        Case{"topic=plant/#", "cannot be published to"}, Case{"topic=\"\"", "topic"},
                        Case{"method=file", "needs location"},
                        Case{"username=u password-file=/nonexistent/pw", "cannot read password-file"},
                        Case{"tls-ca-file=/nonexistent/ca.crt", "cannot read '/nonexistent/ca.crt'"},
                        Case{unreachable.c_str(), "Connection refused"}}) {
    GError* err = nullptr;
    GstElement* e = gst_parse_launch(("differnetpublish " + std::string(c.props)).c_str(), &err);
    ASSERT_EQ(err, nullptr);
    Messages bus;
    gst_element_set_bus(e, bus.bus());
    EXPECT_EQ(gst_element_set_state(e, GST_STATE_PAUSED), GST_STATE_CHANGE_FAILURE) << c.props;
    const std::string error = bus.of(GST_MESSAGE_ERROR);
    EXPECT_NE(error.find(c.needle), std::string::npos) << c.props << ": " << error;
    gst_element_set_state(e, GST_STATE_NULL);
    gst_object_unref(e);
  }
  Messages bus;
  GstHarness* h = publisher_on(bus, "address=127.0.0.1:" + std::to_string(closed) + " queue-size=4");
  for (int i = 0; i < 10; ++i) gst_buffer_unref(gst_harness_push_and_pull(h, result_buffer(i, false)));
  EXPECT_TRUE(bus.wait_for(GST_MESSAGE_WARNING, "cannot connect to the MQTT broker at 127.0.0.1:" + std::to_string(closed)))
      << bus.of(GST_MESSAGE_WARNING);
  const Counts c = stop(h);
  EXPECT_EQ(c.published, 0u);
  EXPECT_EQ(c.dropped, 10u);  // 6 from the full queue, 4 left at stop
  gst_harness_teardown(h);
}

// method=file writes JSON lines; on a full disk a warning, and the lost lines are counted.
TEST_F(Publish, FileMethod) {
  const std::string path = dir_ + "/results.jsonl";
  GstHarness* h = publisher("method=file location=" + path + " stream=cam7");
  for (int i = 0; i < 6; ++i) gst_buffer_unref(gst_harness_push_and_pull(h, result_buffer(i, i == 2)));
  EXPECT_EQ(stop(h).published, 6u);
  gst_harness_teardown(h);
  std::ifstream f(path);
  std::string line;
  int n = 0;
  while (std::getline(f, line)) {
    const json m = json::parse(line);
    EXPECT_EQ(m["frame"], n);
    EXPECT_EQ(m["stream"], "cam7");
    EXPECT_EQ(m["anomaly"], n == 2);
    ++n;
  }
  EXPECT_EQ(n, 6);

  if (!fs::exists("/dev/full")) return;
  h = publisher("method=file location=/dev/full");
  Messages bus;
  gst_element_set_bus(h->element, bus.bus());
  for (int i = 0; i < 4; ++i) gst_buffer_unref(gst_harness_push_and_pull(h, result_buffer(i, false)));
  const Counts c = stop(h);
  EXPECT_EQ(c.published, 0u);
  EXPECT_EQ(c.dropped, 4u);
  const std::string warning = bus.of(GST_MESSAGE_WARNING);
  EXPECT_NE(warning.find("cannot write to '/dev/full'"), std::string::npos) << warning;
  EXPECT_EQ(bus.count(GST_MESSAGE_WARNING), 1) << "once, not per message: " << warning;
  gst_harness_teardown(h);
}

// attach-frame: anomalous frames carry a JPEG (base64) of at most frame-max-bytes; good frames
// carry none; a frame that cannot fit says why.
TEST_F(Publish, AttachedFrames) {
  const std::string path = dir_ + "/results.jsonl";
  GstHarness* h = publisher("method=file location=" + path + " attach-frame=true");
  gst_buffer_unref(gst_harness_push_and_pull(h, result_buffer(0, false)));
  gst_buffer_unref(gst_harness_push_and_pull(h, result_buffer(1, true)));
  g_object_set(element(h), "frame-max-bytes", 1024u, nullptr);  // may change while playing
  gst_harness_set_src_caps_str(h, "video/x-raw,format=RGB,width=256,height=256,framerate=30/1");
  GstBuffer* big = gst_buffer_new_allocate(nullptr, 256 * 256 * 3, nullptr);
  GstMapInfo map;
  gst_buffer_map(big, &map, GST_MAP_WRITE);
  for (gsize k = 0; k < map.size; ++k) map.data[k] = static_cast<guint8>(g_random_int());  // noise: no JPEG is small
  gst_buffer_unmap(big, &map);
  GstDifferNetMeta* m = gst_buffer_add_differnet_meta(big);
  m->anomaly = TRUE;
  m->frame = 2;
  gst_buffer_unref(gst_harness_push_and_pull(h, big));
  gst_element_set_state(h->element, GST_STATE_NULL);
  gst_harness_teardown(h);

  std::ifstream f(path);
  std::vector<json> lines;
  for (std::string line; std::getline(f, line);) lines.push_back(json::parse(line));
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_FALSE(lines[0].contains("frame_jpeg"));
  ASSERT_TRUE(lines[1].contains("frame_jpeg"));
  gsize size = 0;
  guchar* jpeg = g_base64_decode(lines[1]["frame_jpeg"].get<std::string>().c_str(), &size);
  ASSERT_GT(size, 4u);
  EXPECT_EQ(jpeg[0], 0xFF);
  EXPECT_EQ(jpeg[1], 0xD8);  // a JPEG start-of-image marker
  EXPECT_LE(size, 262144u);
  g_free(jpeg);
  EXPECT_FALSE(lines[2].contains("frame_jpeg"));
  EXPECT_NE(lines[2]["frame_jpeg_omitted"].get<std::string>().find("frame-max-bytes"), std::string::npos);
}
