#include "publisher.h"

#include <mosquitto.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace differnet {

namespace {

constexpr size_t kWindow = 20;  // QoS 1/2 messages handed to the broker and not yet acknowledged

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string mosquitto_reason(int rc) {
  if (rc == MOSQ_ERR_ERRNO) return std::strerror(errno);
  return mosquitto_strerror(rc);
}

}  // namespace

void parse_address(const std::string& text, std::string& host, int& port) {
  std::string h, p;
  if (!text.empty() && text[0] == '[') {
    const size_t close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':')
      throw std::invalid_argument("'" + text + "' is not [ADDRESS]:PORT");
    h = text.substr(1, close - 1);
    p = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string::npos)
      throw std::invalid_argument("'" + text + "' has no port (write HOST:PORT, e.g. localhost:1883)");
    h = text.substr(0, colon);
    p = text.substr(colon + 1);
  }
  if (h.empty()) throw std::invalid_argument("'" + text + "' has no host name");
  char* end = nullptr;
  errno = 0;
  const long value = std::strtol(p.c_str(), &end, 10);
  if (p.empty() || *end != '\0' || errno != 0 || value < 1 || value > 65535)
    throw std::invalid_argument("'" + text + "': the port must be a number from 1 to 65535");
  host = h;
  port = static_cast<int>(value);
}

void check_topic(const std::string& topic) {
  if (topic.empty()) throw std::invalid_argument("must not be empty");
  if (mosquitto_pub_topic_check(topic.c_str()) != MOSQ_ERR_SUCCESS)
    throw std::invalid_argument("'" + topic + "' cannot be published to (the wildcards + and # are for subscribers)");
  if (mosquitto_validate_utf8(topic.c_str(), static_cast<int>(topic.size())) != MOSQ_ERR_SUCCESS)
    throw std::invalid_argument("'" + topic + "' is not valid UTF-8");
}

Publisher::Publisher(PublishTarget target, Listener listener, double wait_s)
    : target_(std::move(target)), listener_(std::move(listener)) {
  if (target_.queue_size == 0) throw std::runtime_error("the queue size must be at least 1");
  if (target_.method == PublishTarget::Method::File) {
    if (target_.location.empty()) throw std::runtime_error("method=file needs a location (the JSON-lines file)");
    file_ = std::fopen(target_.location.c_str(), "a");
    if (!file_) throw std::runtime_error("cannot open '" + target_.location + "' for appending: " + std::strerror(errno));
    worker_ = std::thread([this] { run_file(); });
    return;
  }

  check_topic(target_.topic);
  if (target_.qos < 0 || target_.qos > 2) throw std::runtime_error("qos must be 0, 1 or 2");
  static std::once_flag init;
  std::call_once(init, [] { mosquitto_lib_init(); });
  mosq_ = mosquitto_new(target_.client_id.empty() ? nullptr : target_.client_id.c_str(), true, this);
  if (!mosq_) throw std::runtime_error(std::string("cannot create an MQTT client: ") + std::strerror(errno));
  auto fail = [this](const std::string& why) {
    mosquitto_destroy(mosq_);
    mosq_ = nullptr;
    throw std::runtime_error(why);
  };
  mosquitto_int_option(mosq_, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
  if (!target_.username.empty() &&
      mosquitto_username_pw_set(mosq_, target_.username.c_str(),
                                target_.password.empty() ? nullptr : target_.password.c_str()) != MOSQ_ERR_SUCCESS)
    fail("cannot use the user name '" + target_.username + "'");
  if (!target_.ca_file.empty()) {
    if (target_.cert_file.empty() != target_.key_file.empty())
      fail("a client certificate needs both tls-cert-file and tls-key-file");
    for (const std::string* f : {&target_.ca_file, &target_.cert_file, &target_.key_file}) {
      if (f->empty()) continue;
      FILE* probe = std::fopen(f->c_str(), "r");
      if (!probe) fail("TLS: cannot read '" + *f + "': " + std::strerror(errno));
      std::fclose(probe);
    }
    const int rc = mosquitto_tls_set(mosq_, target_.ca_file.c_str(), nullptr,
                                     target_.cert_file.empty() ? nullptr : target_.cert_file.c_str(),
                                     target_.key_file.empty() ? nullptr : target_.key_file.c_str(), nullptr);
    if (rc != MOSQ_ERR_SUCCESS) fail("TLS set-up failed: " + mosquitto_reason(rc));
  } else if (!target_.cert_file.empty() || !target_.key_file.empty()) {
    fail("a client certificate needs tls-ca-file (TLS) too");
  }
  mosquitto_connect_callback_set(mosq_, &Publisher::on_connect);
  mosquitto_disconnect_callback_set(mosq_, &Publisher::on_disconnect);
  mosquitto_publish_callback_set(mosq_, &Publisher::on_publish);
  worker_ = std::thread([this] { run_mqtt(); });

  if (wait_s > 0) {
    std::unique_lock<std::mutex> guard(lock_);
    const bool answered = wake_.wait_for(guard, std::chrono::duration<double>(wait_s),
                                         [this] { return connected_ || in_outage_; });
    if (!connected_) {
      const std::string why = answered ? last_error_ : "no answer within " + std::to_string(static_cast<int>(wait_s)) + " s";
      guard.unlock();
      stop(0);
      mosquitto_destroy(mosq_);
      mosq_ = nullptr;
      throw std::runtime_error("cannot connect to the MQTT broker at " + target_.host + ":" +
                               std::to_string(target_.port) + ": " + why);
    }
  }
}

Publisher::~Publisher() {
  stop(0);
  if (mosq_) mosquitto_destroy(mosq_);
  if (file_) std::fclose(file_);
}

void Publisher::emit(const PublishEvent& e) {
  if (listener_) listener_(e);
}

void Publisher::offer(std::string payload) {
  bool report = false;
  size_t size = 0;
  {
    std::lock_guard<std::mutex> guard(lock_);
    stats_.offered++;
    if (queue_.size() >= target_.queue_size) {
      queue_.pop_front();
      stats_.dropped++;
      report = !dropping_reported_;
      dropping_reported_ = true;
    }
    queue_.push_back(std::move(payload));
    stats_.queued = size = queue_.size();
  }
  wake_.notify_all();
  if (report)
    emit({PublishEvent::Kind::Dropping,
          "the queue of " + std::to_string(size) + " messages is full: the oldest are dropped" +
              (target_.method == PublishTarget::Method::Mqtt && !stats().connected ? " (the broker is not connected)" : "")});
}

Publisher::Stats Publisher::stats() const {
  std::lock_guard<std::mutex> guard(lock_);
  Stats s = stats_;
  s.connected = target_.method == PublishTarget::Method::File ? file_ != nullptr : connected_;
  return s;
}

void Publisher::stop(double timeout_s) {
  {
    std::lock_guard<std::mutex> guard(lock_);
    if (!worker_.joinable()) return;
    stopping_ = true;
    drain_deadline_ = now_s() + std::max(0.0, timeout_s);
  }
  wake_.notify_all();
  worker_.join();
}

void Publisher::on_connect(mosquitto*, void* self_ptr, int rc) {
  auto* self = static_cast<Publisher*>(self_ptr);
  PublishEvent e{PublishEvent::Kind::Connected, ""};
  {
    std::lock_guard<std::mutex> guard(self->lock_);
    if (rc != 0) {
      self->refused_rc_ = rc;
      return;  // the broker closes the connection; the worker reports it
    }
    self->connected_ = true;
    self->refused_rc_ = 0;
    e.restored = self->in_outage_;
    e.lost = self->stats_.dropped - self->dropped_at_outage_;
    self->in_outage_ = false;
    self->dropping_reported_ = false;
  }
  e.text = "connected to the MQTT broker at " + self->target_.host + ":" + std::to_string(self->target_.port);
  self->wake_.notify_all();
  self->emit(e);
}

void Publisher::on_disconnect(mosquitto*, void* self_ptr, int) {
  auto* self = static_cast<Publisher*>(self_ptr);
  std::lock_guard<std::mutex> guard(self->lock_);
  self->connected_ = false;
}

void Publisher::on_publish(mosquitto*, void* self_ptr, int mid) {
  auto* self = static_cast<Publisher*>(self_ptr);
  std::lock_guard<std::mutex> guard(self->lock_);
  if (self->inflight_.erase(mid)) self->stats_.published++;
}

void Publisher::run_mqtt() {
  const std::string where = target_.host + ":" + std::to_string(target_.port);
  double backoff = target_.reconnect_min_s;
  bool have_socket = false;
  bool was_connected = false;

  // An outage begins: reported once, then retried after the backoff.
  auto outage = [&](const std::string& why) {
    bool first;
    {
      std::lock_guard<std::mutex> guard(lock_);
      first = !in_outage_;
      if (first) {
        in_outage_ = true;
        dropped_at_outage_ = stats_.dropped;
      }
      connected_ = false;
      last_error_ = why;
      if (target_.qos == 0) inflight_.clear();
    }
    wake_.notify_all();
    if (first)
      emit({was_connected ? PublishEvent::Kind::ConnectionLost : PublishEvent::Kind::ConnectFailed,
            (was_connected ? "lost the connection to the MQTT broker at " : "cannot connect to the MQTT broker at ") +
                where + ": " + why + "; retrying with backoff up to " +
                std::to_string(static_cast<int>(target_.reconnect_max_s)) + " s"});
    was_connected = false;
    std::unique_lock<std::mutex> guard(lock_);
    wake_.wait_for(guard, std::chrono::duration<double>(backoff), [this] { return stopping_; });
    backoff = std::min(backoff * 2, target_.reconnect_max_s);
  };

  for (;;) {
    {
      std::lock_guard<std::mutex> guard(lock_);
      if (stopping_) {
        const bool empty = queue_.empty() && inflight_.empty();
        if (empty || in_outage_ || now_s() >= drain_deadline_) break;
      }
    }
    if (!have_socket) {
      // Non-blocking: an unreachable host never holds up a stop (only the name lookup blocks).
      const int rc = mosquitto_connect_async(mosq_, target_.host.c_str(), target_.port, target_.keepalive_s);
      if (rc != MOSQ_ERR_SUCCESS) {
        outage(mosquitto_reason(rc));
        continue;
      }
      have_socket = true;
    }
    // Hand queued messages to the client while connected (QoS 1/2: up to kWindow unacknowledged).
    for (;;) {
      std::string message;
      {
        std::lock_guard<std::mutex> guard(lock_);
        if (!connected_ || queue_.empty() || (target_.qos > 0 && inflight_.size() >= kWindow)) break;
        message = std::move(queue_.front());
        queue_.pop_front();
        stats_.queued = queue_.size();
        if (queue_.empty()) dropping_reported_ = false;
      }
      int mid = 0;
      const int rc = mosquitto_publish(mosq_, &mid, target_.topic.c_str(), static_cast<int>(message.size()),
                                       message.data(), target_.qos, false);
      std::lock_guard<std::mutex> guard(lock_);
      if (rc == MOSQ_ERR_SUCCESS) {
        if (target_.qos == 0) stats_.published++;  // at most once: handed to the connection
        else inflight_.insert(mid);
      } else if (rc == MOSQ_ERR_PAYLOAD_SIZE || rc == MOSQ_ERR_OVERSIZE_PACKET) {
        stats_.dropped++;  // the broker would never take it
      } else {
        queue_.push_front(std::move(message));  // not sent: goes first after the reconnection
        stats_.queued = queue_.size();
        break;
      }
    }
    const int rc = mosquitto_loop(mosq_, 10, 1);
    if (rc != MOSQ_ERR_SUCCESS) {
      have_socket = false;
      std::string why = mosquitto_reason(rc);
      {
        std::lock_guard<std::mutex> guard(lock_);
        if (refused_rc_) why = std::string("the broker refused the connection: ") + mosquitto_connack_string(refused_rc_);
      }
      outage(why);
      continue;
    }
    {
      std::lock_guard<std::mutex> guard(lock_);
      if (connected_ && !was_connected) {
        was_connected = true;
        backoff = target_.reconnect_min_s;
      }
    }
  }
  if (have_socket) {
    mosquitto_disconnect(mosq_);
    mosquitto_loop(mosq_, 10, 1);
  }
  std::lock_guard<std::mutex> guard(lock_);
  stats_.dropped += queue_.size() + inflight_.size();  // not delivered before the stop
  queue_.clear();
  inflight_.clear();
  stats_.queued = 0;
  connected_ = false;
}

void Publisher::run_file() {
  bool failing = false;
  uint64_t dropped_at_failure = 0;
  for (;;) {
    std::string message;
    {
      std::unique_lock<std::mutex> guard(lock_);
      wake_.wait(guard, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty() || (stopping_ && now_s() >= drain_deadline_)) break;
      message = std::move(queue_.front());
      queue_.pop_front();
      stats_.queued = queue_.size();
      if (queue_.empty()) dropping_reported_ = false;
    }
    message += '\n';
    errno = 0;
    const bool ok = std::fputs(message.c_str(), file_) >= 0 && std::fflush(file_) == 0;
    const int err = errno;
    if (!ok) clearerr(file_);
    PublishEvent e{ok ? PublishEvent::Kind::Written : PublishEvent::Kind::WriteFailed, ""};
    bool report = false;
    {
      std::lock_guard<std::mutex> guard(lock_);
      if (ok) {
        stats_.published++;
        if (failing) {
          report = true;
          e.restored = true;
          e.lost = stats_.dropped - dropped_at_failure;
          e.text = "results are written to '" + target_.location + "' again";
        }
        failing = false;
      } else {
        if (!failing) {
          report = true;
          dropped_at_failure = stats_.dropped;
          e.text = "cannot write to '" + target_.location + "': " + std::strerror(err);
        }
        stats_.dropped++;
        failing = true;
      }
    }
    if (report) emit(e);
  }
  std::lock_guard<std::mutex> guard(lock_);
  stats_.dropped += queue_.size();
  queue_.clear();
  stats_.queued = 0;
}

}  // namespace differnet
