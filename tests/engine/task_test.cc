// The task model: Flex ITask JSON and TaskRouter form fields normalise to one view.
#include <doctest/doctest.h>

#include "recrules/task.h"
#include "task_data.h"

using recrules::Event;
using recrules::ParseRequest;
using recrules::StatusCode;
using recrules::Task;

TEST_CASE("a request object carries event, task and worker") {
  auto r =
      ParseRequest(R"({"event":"update","task":{"sid":"WR1","taskSid":"WT1","queueName":"Sales",
    "queueSid":"WQ1","taskChannelUniqueName":"voice","attributes":{"call_sid":"CA1",
    "conference":{"sid":"CF1"}}},"worker":{"sid":"WK1","attributes":{"skills":["x"]}}})");
  REQUIRE(r.ok());
  CHECK(r->event == Event::kUpdate);
  const Task& t = r->task;
  CHECK(t.sid() == "WR1");
  CHECK(t.task_sid() == "WT1");
  CHECK(t.queue_name() == "Sales");
  CHECK(t.queue_sid() == "WQ1");
  CHECK(t.channel() == "voice");
  CHECK(t.worker_sid() == "WK1");
  CHECK(t.call_sid() == "CA1");
  CHECK(t.conference_sid() == "CF1");
  CHECK(*t.AttributeJson("conference") == R"({"sid":"CF1"})");
  CHECK_FALSE(t.AttributeJson("nope"));
}

TEST_CASE("a bare task object is an accept request") {
  auto r = ParseRequest(R"({"taskSid":"WT9","queueName":"Q","attributes":{}})");
  REQUIRE(r.ok());
  CHECK(r->event == Event::kAccept);
  CHECK(r->task.task_sid() == "WT9");
  CHECK(r->task.AttributesJson() == "{}");
}

TEST_CASE("attributes given as a JSON string (TaskRouter REST shape) are parsed") {
  auto t = Task::FromJson(R"({"taskSid":"WT1","attributes":"{\"direction\":\"outbound\"}"})");
  REQUIRE(t.ok());
  CHECK(*t->AttributeJson("direction") == "\"outbound\"");
  auto bad = Task::FromJson(R"({"attributes":"{nope"})");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message().rfind("task.attributes: malformed JSON at line 1, column 3", 0) ==
        0);
}

TEST_CASE("TaskRouter event callback form fields normalise to the same task") {
  auto t = Task::FromForm({{"EventType", "reservation.accepted"},
                           {"TaskSid", "WT2"},
                           {"TaskQueueSid", "WQ2"},
                           {"TaskQueueName", "Support"},
                           {"TaskChannelUniqueName", "voice"},
                           {"ReservationSid", "WR2"},
                           {"WorkerSid", "WK2"},
                           {"TaskAttributes", R"({"call_sid":"CA2","direction":"inbound"})"},
                           {"WorkerAttributes", R"({"contact_uri":"client:alice"})"}});
  REQUIRE(t.ok());
  CHECK(t->task_sid() == "WT2");
  CHECK(t->queue_sid() == "WQ2");
  CHECK(t->queue_name() == "Support");
  CHECK(t->sid() == "WR2");
  CHECK(t->worker_sid() == "WK2");
  CHECK(t->call_sid() == "CA2");
  CHECK(recrules::detail::DataOf(*t).view.has_worker_attributes);

  auto bad = Task::FromForm({{"TaskAttributes", "[1,2]"}});
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message() == "TaskAttributes: expected a JSON object, got array");
}

TEST_CASE("wrong types and unknown events name the field") {
  auto check = [](const char* text, const char* message) {
    auto r = ParseRequest(text);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == StatusCode::kInvalidInput);
    CHECK(r.status().message() == message);
  };
  check(R"({"event":"hangup","task":{}})",
        "request.event: unknown event \"hangup\" (expected accept, update, pause_request or "
        "resume_request)");
  check(R"({"event":5,"task":{}})", "request.event: expected a string, got number");
  check(R"({"task":[]})", "request.task: expected an object, got array");
  check(R"({"task":{"queueName":7}})", "request.task.queueName: expected a string, got number");
  check(R"({"queueSid":true})", "task.queueSid: expected a string, got boolean");
  check(R"({"task":{"attributes":5}})", "request.task.attributes: expected an object, got number");
  check(R"({"task":{},"worker":"WK1"})", "request.worker: expected an object, got string");
  check(R"([1])", "request: expected a JSON object, got array");
  // Regression: an event without a task was once decided as a bare task's accept.
  check(R"({"event":"bogus"})",
        "request.task: missing (a request is {\"event\", \"task\", \"worker\"}; a bare task "
        "object has no \"event\")");
  check(R"({"event":"update","queueName":"Sales"})",
        "request.task: missing (a request is {\"event\", \"task\", \"worker\"}; a bare task "
        "object has no \"event\")");
}

TEST_CASE("a Task stays valid after copies and outlives the request text") {
  std::optional<Task> kept;
  {
    std::string text = R"({"taskSid":"WT5","attributes":{"a":{"b":"c"}}})";
    auto t = Task::FromJson(text);
    REQUIRE(t.ok());
    kept = *t;
    text.assign(text.size(), 'x');
  }
  CHECK(kept->task_sid() == "WT5");
  CHECK(*kept->AttributeJson("a.b") == "\"c\"");
}

// A kept task is parsed with the thread's parsers and then copied out of them: parsing more on
// the same thread (JSON or form, larger or smaller) must not change it.
TEST_CASE("a kept task owns its data: later parses on the thread do not touch it") {
  auto a = ParseRequest(
      R"({"event":"update","task":{"sid":"WRa","taskSid":"WTa","queueName":"Qa","queueSid":"WQa",
      "taskChannelUniqueName":"voice","attributes":"{\"call_sid\":\"CAa\",\"n\":12.5,\"k\":[1,\"x\"],\"conference\":{\"sid\":\"CFa\"}}"},
      "worker":{"sid":"WKa","name":"alice","attributes":"{\"team\":\"a\"}"}})");
  REQUIRE(a.ok());
  auto b = Task::FromJson(std::string(R"({"taskSid":"WTb","queueName":")") +
                          std::string(5000, 'b') + R"(","attributes":{"call_sid":"CAb"}})");
  REQUIRE(b.ok());
  auto c = Task::FromForm({{"TaskSid", "WTc"},
                           {"TaskAttributes", R"({"call_sid":"CAc","n":1})"},
                           {"WorkerAttributes", R"({"team":"c"})"}});
  REQUIRE(c.ok());
  // No task attributes at all, right after a task that had some (the layout is built in
  // buffers kept per thread).
  auto e = Task::FromForm({{"TaskSid", "WTe"}, {"WorkerAttributes", "{}"}});
  REQUIRE(e.ok());
  auto d = ParseRequest(R"({"taskSid":"WTd","attributes":{}})");
  REQUIRE(d.ok());
  const Task& t = a->task;
  CHECK(t.sid() == "WRa");
  CHECK(t.task_sid() == "WTa");
  CHECK(t.queue_name() == "Qa");
  CHECK(t.queue_sid() == "WQa");
  CHECK(t.channel() == "voice");
  CHECK(t.worker_sid() == "WKa");
  CHECK(t.call_sid() == "CAa");
  CHECK(t.conference_sid() == "CFa");
  CHECK(t.AttributesJson() ==
        R"({"call_sid":"CAa","n":12.5,"k":[1,"x"],"conference":{"sid":"CFa"}})");
  CHECK(recrules::detail::DataOf(t).view.worker_name == "alice");
  CHECK(recrules::detail::ToJsonText(recrules::detail::DataOf(t).view.worker_attributes) ==
        R"({"team":"a"})");
  CHECK(b->queue_name() == std::string(5000, 'b'));
  CHECK(b->call_sid() == "CAb");
  CHECK(c->task_sid() == "WTc");
  CHECK(c->AttributesJson() == R"({"call_sid":"CAc","n":1})");
  CHECK(recrules::detail::ToJsonText(recrules::detail::DataOf(*c).view.worker_attributes) ==
        R"({"team":"c"})");
  CHECK(d->task.AttributesJson() == "{}");
  CHECK(e->task_sid() == "WTe");
  CHECK(recrules::detail::DataOf(*e).view.attributes_layout.size == 0);
  CHECK(recrules::detail::DataOf(d->task).view.attributes_layout.size ==
        0);  // {} has nothing to lay out
  // call_sid, n, k, conference and its sid: depth first.
  const recrules::detail::KeyLayout& layout = recrules::detail::DataOf(t).view.attributes_layout;
  CHECK(layout.size == 5);
  CHECK(recrules::detail::fingerprint::IsString(layout.fingerprints[0]));
  CHECK(recrules::detail::DataOf(*c).view.attributes_layout.size == 2);
}
