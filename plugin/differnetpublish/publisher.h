// Publisher: sends result messages off the streaming thread, to a JSON-lines file or an MQTT broker
// (libmosquitto), through a bounded queue. When the broker is slow or gone the oldest messages are
// dropped and counted; the connection is retried with exponential backoff and publishing resumes by
// itself. No GStreamer and no LibTorch types here: differnetpublish owns one and reports its events.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

struct mosquitto;

namespace differnet {

struct PublishTarget {
  enum class Method { File, Mqtt };
  Method method = Method::Mqtt;
  std::string location;  // File: the JSON-lines file (appended to)
  std::string host = "localhost";
  int port = 1883;
  std::string topic = "differnet/results";
  int qos = 1;
  std::string client_id;  // empty: the library makes a random one
  std::string username, password;
  std::string ca_file, cert_file, key_file;  // TLS when ca_file is set
  size_t queue_size = 1000;
  double reconnect_min_s = 1, reconnect_max_s = 30;
  int keepalive_s = 30;
};

// "host:port" or "[v6address]:port"; throws std::invalid_argument with the reason.
void parse_address(const std::string& text, std::string& host, int& port);
// Throws std::invalid_argument when `topic` cannot be published to (empty, + or #, bad UTF-8).
void check_topic(const std::string& topic);

struct PublishEvent {
  enum class Kind {
    Connected,         // the broker accepted the connection (again, when `restored`)
    ConnectFailed,     // could not connect or was refused (the first failure of an outage)
    ConnectionLost,    // an established connection broke
    Dropping,          // the queue was full: the oldest messages are being dropped
    WriteFailed,       // file: a line could not be written (the first of a streak)
    Written,           // file: lines are written again after failures
  };
  Kind kind;
  std::string text;    // what happened, for a person
  bool restored = false;
  uint64_t lost = 0;   // Connected/Written after trouble: messages dropped since it began
};

class Publisher {
 public:
  using Listener = std::function<void(const PublishEvent&)>;
  struct Stats {
    uint64_t offered = 0, published = 0, dropped = 0, queued = 0;
    bool connected = false;
  };

  // Opens the file or prepares the MQTT client (TLS files, credentials); throws std::runtime_error
  // with the reason. MQTT: with wait_s > 0, waits that long for the broker to accept the connection
  // and throws with the reason when it does not; with 0 it connects in the background.
  Publisher(PublishTarget target, Listener listener, double wait_s = 0);
  // Stops at once: what is queued counts as dropped.
  ~Publisher();
  Publisher(const Publisher&) = delete;
  Publisher& operator=(const Publisher&) = delete;

  // Queues one message; never blocks. When the queue is full the oldest message is dropped.
  void offer(std::string payload);
  // Waits up to timeout_s for the queue (and the broker's acknowledgements) to empty, then
  // disconnects. What could not be sent counts as dropped.
  void stop(double timeout_s);
  Stats stats() const;

 private:
  void run_mqtt();
  void run_file();
  void emit(const PublishEvent& e);
  // libmosquitto callbacks (called in the worker thread, inside mosquitto_loop).
  static void on_connect(mosquitto*, void* self, int rc);
  static void on_disconnect(mosquitto*, void* self, int rc);
  static void on_publish(mosquitto*, void* self, int mid);

  PublishTarget target_;
  Listener listener_;
  mosquitto* mosq_ = nullptr;
  FILE* file_ = nullptr;

  mutable std::mutex lock_;
  std::condition_variable wake_;
  std::deque<std::string> queue_;
  std::set<int> inflight_;  // message ids handed to libmosquitto, not yet acknowledged
  Stats stats_;
  bool stopping_ = false;
  double drain_deadline_ = 0;  // steady seconds; 0 = not draining
  bool connected_ = false;     // CONNACK accepted
  bool in_outage_ = false;     // a failure was reported and not yet recovered from
  bool dropping_reported_ = false;
  uint64_t dropped_at_outage_ = 0;
  int refused_rc_ = 0;         // the last CONNACK refusal (0: none)
  std::string last_error_;
  std::thread worker_;
};

}  // namespace differnet
