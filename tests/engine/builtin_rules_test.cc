// The built-in rules, with the exact semantics of DESIGN.md §1.
#include <doctest/doctest.h>

#include <cstdio>

#include "engine_fixture.h"
#include "json.h"

using recrules::Action;
using recrules::Channel;
using recrules::Mode;
using recrules::testing::PolicyFixture;

namespace {

const char* kConditional = R"({"features":{"conditional_recording":{"enabled":true,
  "exclude_queues":["Legal","WQ0123456789abcdef0123456789abcdef","Legal"],
  "exclude_attributes":[
    {"key":"direction","value":"outbound"},
    {"key":"customer.consent.recording","value":"denied"},
    {"key":"tags","value":"pci"},
    {"key":"priority","value":1},
    {"key":"vip","value":true},
    {"key":"meta","value":{"a":1}}]}}})";

std::string Task(const std::string& queue_name, const std::string& queue_sid,
                 const std::string& attributes, const std::string& channel = "voice") {
  return R"({"taskSid":"WT1","queueName":")" + queue_name + R"(","queueSid":")" + queue_sid +
         R"(","taskChannelUniqueName":")" + channel + R"(","attributes":)" + attributes + "}";
}

}  // namespace

TEST_CASE("builtin:exclusions — queues by name or SID, exact and case-sensitive") {
  PolicyFixture f(kConditional);
  SUBCASE("queue name") {
    auto d = f.Decide(Task("Legal", "WQx", "{}"));
    CHECK(d.action == Action::kSkip);
    CHECK(d.rule == "builtin:exclusions");
    CHECK(d.matched == "features.conditional_recording.exclude_queues[0]");
    CHECK(d.reason ==
          "task queue \"Legal\" is excluded from recording "
          "(features.conditional_recording.exclude_queues[0])");
    CHECK_FALSE(d.conference_record);
  }
  SUBCASE("queue SID") {
    auto d = f.Decide(Task("Other", "WQ0123456789abcdef0123456789abcdef", "{}"));
    CHECK(d.matched == "features.conditional_recording.exclude_queues[1]");
  }
  SUBCASE("the earliest entry wins when name and SID both match") {
    auto d = f.Decide(Task("Legal", "WQ0123456789abcdef0123456789abcdef", "{}"));
    CHECK(d.matched == "features.conditional_recording.exclude_queues[0]");
  }
  SUBCASE("case matters") {
    CHECK(f.Decide(Task("legal", "WQx", "{}")).action == Action::kRecord);
  }
  SUBCASE("queues are checked before attributes") {
    auto d = f.Decide(Task("Legal", "WQx", R"({"direction":"outbound"})"));
    CHECK(d.matched == "features.conditional_recording.exclude_queues[0]");
  }
}

// Beyond two entries, queues are looked up by hash; a kept task carries its queues' hashes
// (PolicyFixture decides each task kept too), a task from TaskRouter's form fields as well.
TEST_CASE("builtin:exclusions — each of many queues matches, by name and by SID") {
  constexpr int kQueues = 50;
  std::string queues;
  for (int i = 0; i < kQueues; ++i) {
    queues += (i > 0 ? "," : "") + ("\"Queue " + std::to_string(i) + "\",\"WQ" +
                                    std::string(30, 'a') + std::to_string(1000 + i) + "\"");
  }
  PolicyFixture f(R"({"features":{"conditional_recording":{"enabled":true,"exclude_queues":[)" +
                  queues + "]}}}");
  const std::string q = "features.conditional_recording.exclude_queues";
  for (int i = 0; i < kQueues; ++i) {
    const std::string name = "Queue " + std::to_string(i),
                      sid = "WQ" + std::string(30, 'a') + std::to_string(1000 + i);
    CAPTURE(i);
    CHECK(f.Decide(Task(name, "WQother", "{}")).matched == q + "[" + std::to_string(2 * i) + "]");
    CHECK(f.Decide(Task("Other", sid, "{}")).matched == q + "[" + std::to_string(2 * i + 1) + "]");
    auto form = recrules::Task::FromForm({{"TaskQueueName", "Other"}, {"TaskQueueSid", sid}});
    REQUIRE(form.ok());
    recrules::Decision d;
    REQUIRE(f.engine().Decide(recrules::Request{recrules::Event::kAccept, *form}, {}, &d).ok());
    CHECK(d.matched == q + "[" + std::to_string(2 * i + 1) + "]");
  }
  CHECK(f.Decide(Task("Queue 50", "WQother", "{}")).action == Action::kRecord);
}

TEST_CASE("builtin:exclusions — attributes by dot path with strict equality") {
  PolicyFixture f(kConditional);
  auto matched = [&](const std::string& attrs) {
    auto d = f.Decide(Task("Sales", "WQs", attrs));
    return d.action == Action::kSkip ? d.matched : std::string("record");
  };
  const std::string a = "features.conditional_recording.exclude_attributes";
  CHECK(matched(R"({"direction":"outbound"})") == a + "[0]");
  CHECK(matched(R"({"direction":"Outbound"})") == "record");
  CHECK(matched(R"({"customer":{"consent":{"recording":"denied"}}})") == a + "[1]");
  CHECK(matched(R"({"customer":{"consent":null}})") == "record");
  CHECK(matched(R"({"customer":null})") == "record");
  CHECK(matched(R"({"customer":"denied"})") == "record");
  CHECK(matched(R"({"tags":["vip","pci"]})") == a + "[2]");
  CHECK(matched(R"({"tags":["PCI"]})") == "record");
  CHECK(matched(R"({"tags":"pci"})") == a + "[2]");
  CHECK(matched(R"({"priority":1})") == a + "[3]");
  CHECK(matched(R"({"priority":1.0})") == a + "[3]");
  CHECK(matched(R"({"priority":"1"})") == "record");
  CHECK(matched(R"({"priority":[2,1]})") == a + "[3]");
  CHECK(matched(R"({"vip":true})") == a + "[4]");
  CHECK(matched(R"({"vip":"true"})") == "record");
  CHECK(matched(R"({"meta":{"a":1}})") == a + "[5]");
  CHECK(matched(R"({"meta":"{\"a\":1}"})") == "record");
  CHECK(matched(R"({"direction":"outbound","tags":["pci"]})") == a + "[0]");  // config order
  auto d = f.Decide(Task("Sales", "WQs", R"({"customer":{"consent":{"recording":"denied"}}})"));
  CHECK(d.reason ==
        "task attribute customer.consent.recording = \"denied\" is excluded from recording "
        "(features.conditional_recording.exclude_attributes[1])");
}

// String values are grouped per path in a table and other values scanned; the answer must
// still be the first matching entry in configuration order, across paths and types.
TEST_CASE("builtin:exclusions — the first entry in configuration order wins, across paths") {
  PolicyFixture f(R"({"features":{"conditional_recording":{"enabled":true,"exclude_attributes":[
    {"key":"a","value":1},
    {"key":"b","value":"x"},
    {"key":"a","value":"1"},
    {"key":"b","value":"x"},
    {"key":"c","value":true},
    {"key":"tags","value":"pci"},
    {"key":"a","value":""},
    {"key":"tags","value":"vip"},
    {"key":"c","value":"true"}]}}})");
  auto matched = [&](const std::string& attrs) {
    auto d = f.Decide(Task("Sales", "WQs", attrs));
    return d.action == Action::kSkip ? d.matched : std::string("record");
  };
  const std::string a = "features.conditional_recording.exclude_attributes";
  CHECK(matched(R"({"a":"1","b":"x"})") == a + "[1]");
  CHECK(matched(R"({"a":"1"})") == a + "[2]");
  CHECK(matched(R"({"a":1.0,"b":"x"})") == a + "[0]");
  CHECK(matched(R"({"a":["1",1]})") == a + "[0]");
  CHECK(matched(R"({"a":["","1"]})") == a + "[2]");
  CHECK(matched(R"({"a":""})") == a + "[6]");
  CHECK(matched(R"({"c":true,"tags":["vip","pci"]})") == a + "[4]");
  CHECK(matched(R"({"tags":["vip","pci"],"a":""})") == a + "[5]");
  CHECK(matched(R"({"tags":["vip"]})") == a + "[7]");
  CHECK(matched(R"({"c":"true"})") == a + "[8]");
  CHECK(matched(R"({"c":false,"tags":[],"a":2,"b":"X"})") == "record");
}

// Many keys that share their first bytes and their length: before the child tables hashed the
// last bytes too, they all fell into one probe chain, and compiling 10 000 of them took minutes.
TEST_CASE("builtin:exclusions — thousands of attribute keys sharing a prefix") {
  std::string attributes;
  for (int i = 0; i < 5000; ++i) {
    char key[32];
    std::snprintf(key, sizeof key, "custom_key_%05d", i);
    if (i > 0) attributes += ",";
    attributes +=
        std::string(R"({"key":")") + key + R"(.value","value":"v)" + std::to_string(i) + R"("})";
  }
  PolicyFixture f(R"({"features":{"conditional_recording":{"enabled":true,"exclude_attributes":[)" +
                  attributes + "]}}}");
  auto matched = [&](const std::string& attrs) {
    auto d = f.Decide(Task("Sales", "WQs", attrs));
    return d.action == Action::kSkip ? d.matched : std::string("record");
  };
  const std::string a = "features.conditional_recording.exclude_attributes";
  CHECK(matched(R"({"custom_key_04999":{"value":"v4999"}})") == a + "[4999]");
  CHECK(matched(R"({"custom_key_00000":{"value":"v0"},"custom_key_04999":{"value":"v4999"}})") ==
        a + "[0]");
  CHECK(matched(R"({"custom_key_04999":{"value":"v4998"}})") == "record");
  CHECK(matched(R"({"custom_key_05000":{"value":"v5000"}})") == "record");
}

// A kept task's values are read only when their fingerprint could match a configured value.
// 1 200 configured strings on 2 paths set every bit of both paths' string and array filters
// (checked below), so a filter that drops any bit makes some exact match go unseen
// (PolicyFixture decides each task kept, too).
TEST_CASE("builtin:exclusions — every configured string matches, alone or in an array") {
  namespace fp = recrules::detail::fingerprint;
  constexpr int kStrings = 1200, kPaths = 2;
  std::string attributes;
  uint64_t string_bits[kPaths] = {};
  unsigned array_bits[kPaths] = {};
  for (int i = 0; i < kStrings; ++i) {
    const std::string value = "excluded value " + std::to_string(i * 7919);
    string_bits[i % kPaths] |= uint64_t(1) << (fp::OfString(value) & 63);
    array_bits[i % kPaths] |= fp::InArray(fp::OfString(value));
    if (i > 0) attributes += ",";
    attributes +=
        R"({"key":"k.v)" + std::to_string(i % kPaths) + R"(","value":")" + value + R"("})";
  }
  for (int p = 0; p < kPaths; ++p) {
    REQUIRE(string_bits[p] == ~uint64_t(0));
    REQUIRE(array_bits[p] == 0x3fffu);
  }
  PolicyFixture f(R"({"features":{"conditional_recording":{"enabled":true,"exclude_attributes":[)" +
                  attributes + "]}}}");
  const std::string a = "features.conditional_recording.exclude_attributes";
  for (int i = 0; i < kStrings; ++i) {
    const std::string path = "v" + std::to_string(i % kPaths),
                      value = "excluded value " + std::to_string(i * 7919);
    CAPTURE(value);
    auto alone = f.Decide(Task("Sales", "WQs", R"({"k":{")" + path + R"(":")" + value + R"("}})"));
    CHECK(alone.matched == a + "[" + std::to_string(i) + "]");
    auto in_array =
        f.Decide(Task("Sales", "WQs", R"({"k":{")" + path + R"(":[1,")" + value + R"(",null]}})"));
    CHECK(in_array.matched == a + "[" + std::to_string(i) + "]");
  }
}

// Issue 23 item 12: the template walks the key with value[step], so "customers.0.consent"
// reads the first customer; recrules recorded these calls.
TEST_CASE("builtin:exclusions — a step that is an array index picks that element") {
  PolicyFixture f(R"({"features":{"conditional_recording":{"enabled":true,"exclude_attributes":[
    {"key":"customers.0.consent","value":"denied"},{"key":"legs.1","value":"pci"}]}}})");
  auto skipped = [&](const std::string& attributes) {
    CAPTURE(attributes);
    return f.Decide(Task("Sales", "WQs", attributes)).action == Action::kSkip;
  };
  CHECK(skipped(R"({"customers":[{"consent":"denied"}]})"));
  CHECK(skipped(R"({"customers":[{"consent":["x","denied"]}]})"));
  CHECK(skipped(R"({"legs":["a","pci"]})"));
  CHECK_FALSE(skipped(R"({"customers":[{"consent":"given"},{"consent":"denied"}]})"));
  CHECK_FALSE(skipped(R"({"customers":[]})"));
  CHECK_FALSE(skipped(R"({"customers":"denied"})"));
  CHECK_FALSE(skipped(R"({"legs":"xpci"})"));                     // strings are not indexed
  CHECK(skipped(R"({"customers":{"0":{"consent":"denied"}}})"));  // an object's key "0"
}

TEST_CASE("disabled features exclude nothing") {
  PolicyFixture f(R"({"features":{"conditional_recording":{"enabled":false,
    "exclude_queues":["Legal"]}}})");
  auto d = f.Decide(Task("Legal", "WQx", "{}"));
  CHECK(d.action == Action::kRecord);
  CHECK(d.rule == "default");
}

TEST_CASE("dual-channel recording overrides the conditional settings") {
  PolicyFixture f(R"({"features":{
    "conditional_recording":{"enabled":true,"exclude_queues":["Legal"]},
    "dual_channel_recording":{"enabled":true,"channel":"worker","exclude_queues":["Billing"],
      "exclude_attributes":[{"key":"direction","value":"outbound"}]}}})");
  auto legal = f.Decide(Task("Legal", "WQx", "{}"));
  CHECK(legal.action == Action::kRecord);
  CHECK(legal.mode == Mode::kDualChannel);
  CHECK(legal.channel == Channel::kWorker);
  CHECK_FALSE(legal.conference_record);  // dual-channel records the call leg, not the conference
  auto billing = f.Decide(Task("Billing", "WQx", "{}"));
  CHECK(billing.action == Action::kSkip);
  CHECK(billing.matched == "features.dual_channel_recording.exclude_queues[0]");
}

TEST_CASE("builtin:internal_calls — under dual-channel only the outbound leg records") {
  PolicyFixture f(R"({"features":{"dual_channel_recording":{"enabled":true,"channel":"worker"}}})");
  auto inbound = f.Decide(Task("Q", "WQ", R"({"client_call":true,"direction":"inbound"})"));
  CHECK(inbound.action == Action::kSkip);
  CHECK(inbound.rule == "builtin:internal_calls");
  auto outbound = f.Decide(Task("Q", "WQ", R"({"client_call":true,"direction":"outbound"})"));
  CHECK(outbound.action == Action::kRecord);
  auto not_internal = f.Decide(Task("Q", "WQ", R"({"client_call":false,"direction":"inbound"})"));
  CHECK(not_internal.action == Action::kRecord);

  PolicyFixture conference(R"({"features":{"conditional_recording":{"enabled":true}}})");
  CHECK(
      conference.Decide(Task("Q", "WQ", R"({"client_call":true,"direction":"inbound"})")).action ==
      Action::kRecord);
}

TEST_CASE("builtin:already_recorded — the customer channel is not recorded twice") {
  PolicyFixture customer(
      R"({"features":{"dual_channel_recording":{"enabled":true,"channel":"customer"}}})");
  auto d = customer.Decide(Task(
      "Q", "WQ", R"({"conversations":{"media":[{"url":"https://x","type":"VoiceRecording"}]}})"));
  CHECK(d.action == Action::kSkip);
  CHECK(d.rule == "builtin:already_recorded");
  CHECK(customer.Decide(Task("Q", "WQ", R"({"conversations":{"media":null}})")).action ==
        Action::kRecord);

  PolicyFixture worker(
      R"({"features":{"dual_channel_recording":{"enabled":true,"channel":"worker"}}})");
  CHECK(worker.Decide(Task("Q", "WQ", R"({"conversations":{"media":[{}]}})")).action ==
        Action::kRecord);
}

TEST_CASE("builtin:non_voice — tasks on other channels are not recorded") {
  PolicyFixture f(R"({"features":{}})");
  auto chat = f.Decide(Task("Q", "WQ", "{}", "chat"));
  CHECK(chat.action == Action::kSkip);
  CHECK(chat.rule == "builtin:non_voice");
  CHECK(chat.reason == "task channel \"chat\" is not voice: there is no call to record");
  CHECK(f.Decide(R"({"taskSid":"WT1","attributes":{}})").action == Action::kRecord);
}

TEST_CASE("built-in rules only skip or pass: a skip default decides the rest") {
  PolicyFixture f(R"({"features":{"conditional_recording":{"enabled":true,
    "exclude_queues":["Legal"]}},"recrules":{"default":"skip"}})");
  auto d = f.Decide(Task("Sales", "WQ", "{}"));
  CHECK(d.action == Action::kSkip);
  CHECK(d.rule == "default");
  CHECK(d.reason == "no rule decided: the policy default is skip");
}
