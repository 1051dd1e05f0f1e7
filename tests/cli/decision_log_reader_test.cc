// DecisionLogReader: rotated files in order, the multi-needle line search against a plain
// search, line numbers, and bad inputs named.
#include "decision_log_reader.h"

#include <doctest/doctest.h>

#include <random>
#include <set>

#include "test_util.h"

using recrules::cli::DecisionLogReader;
using recrules::cli::IsTwilioSid;
using recrules::cli::ParseLogLine;
using recrules::testing::TempDir;

namespace {

std::vector<std::string> Names(const DecisionLogReader& r) {
  std::vector<std::string> out;
  for (size_t i = 0; i < r.file_count(); ++i) out.push_back(r.file_name(i));
  return out;
}

// Lines holding a needle, by a plain search of each line.
std::vector<std::string> NaiveFind(const std::string& text,
                                   const std::vector<std::string>& needles) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(pos, end - pos);
    for (const std::string& n : needles) {
      if (line.find(n) != std::string::npos) {
        out.push_back(line);
        break;
      }
    }
    pos = end + 1;
  }
  return out;
}

}  // namespace

TEST_CASE("decision log reader: a file brings its rotated files, oldest first, each once") {
  TempDir dir;
  const std::string log = dir.Write("d.log", "c\n");
  dir.Write("d.log.1", "b\n");
  dir.Write("d.log.2", "a\n");
  dir.Write("d.log.4", "after a gap: not read\n");
  auto reader = DecisionLogReader::Open({log, log + ".1", log});
  REQUIRE(reader.ok());
  CHECK(Names(**reader) == std::vector<std::string>{log + ".2", log + ".1", log});
  std::string all;
  (*reader)->ForEachLine([&](const DecisionLogReader::Line& l) { all += std::string(l.text); });
  CHECK(all == "abc");
  CHECK((*reader)->total_bytes() == 6);
}

TEST_CASE("decision log reader: bad inputs are named") {
  TempDir dir;
  SUBCASE("missing file") {
    auto r = DecisionLogReader::Open({dir.file("none.log")});
    REQUIRE(!r.ok());
    CHECK(r.status().message() ==
          dir.file("none.log") + ": cannot open: No such file or directory");
  }
  SUBCASE("a folder") {
    auto r = DecisionLogReader::Open({dir.path()});
    REQUIRE(!r.ok());
    CHECK(r.status().message() == dir.path() + ": not a regular file");
  }
  SUBCASE("gzip") {
    const std::string gz = dir.Write("d.log", std::string("\x1f\x8b\x08\x00rest", 8));
    auto r = DecisionLogReader::Open({gz});
    REQUIRE(!r.ok());
    CHECK(r.status().message().rfind(gz + ": gzip-compressed", 0) == 0);
  }
  SUBCASE("a rotated file that is gzip is named as rotated") {
    const std::string log = dir.Write("d.log", "x\n");
    dir.Write("d.log.1", std::string("\x1f\x8b\x08\x00rest", 8));
    auto r = DecisionLogReader::Open({log});
    REQUIRE(!r.ok());
    CHECK(r.status().message().rfind(log + ".1 (a rotated file): gzip-compressed", 0) == 0);
  }
  SUBCASE("an empty file has no lines") {
    auto r = DecisionLogReader::Open({dir.Write("empty.log", "")});
    REQUIRE(r.ok());
    int lines = 0;
    (*r)->ForEachLine([&](const DecisionLogReader::Line&) { ++lines; });
    CHECK(lines == 0);
  }
}

TEST_CASE("decision log reader: FindLines finds the lines a plain search finds") {
  // Random hex-heavy lines (like the log's SIDs), some holding a needle, at every position,
  // including the first and the last byte of the file and a file without a final newline.
  std::mt19937 rng(7);
  auto hex = [&](size_t n) {
    std::string s;
    for (size_t i = 0; i < n; ++i) s.push_back("0123456789abcdef"[rng() % 16]);
    return s;
  };
  std::vector<std::string> needles = {"CA" + hex(32), "WT" + hex(32), "RE" + hex(32)};
  for (int round = 0; round < 50; ++round) {
    std::string text;
    const int lines = 1 + int(rng() % 40);
    for (int l = 0; l < lines; ++l) {
      std::string line = hex(rng() % 120);
      if (rng() % 3 == 0) {
        const std::string& n = needles[rng() % needles.size()];
        line.insert(line.empty() ? 0 : rng() % line.size(), n);
      }
      if (rng() % 5 == 0) line += needles[0].substr(0, 33);  // a near miss
      text += line;
      if (l + 1 < lines || rng() % 2) text += '\n';
    }
    TempDir dir;
    auto reader = DecisionLogReader::Open({dir.Write("d.log", text)});
    REQUIRE(reader.ok());
    for (size_t k = 1; k <= needles.size(); ++k) {
      std::vector<std::string> some(needles.begin(), needles.begin() + long(k));
      std::vector<std::string> found;
      (*reader)->FindLines(some, [&](const DecisionLogReader::Line& l) {
        CHECK(std::string((*reader)->text(0).substr(l.offset, l.text.size())) == l.text);
        found.emplace_back(l.text);
      });
      CHECK(found == NaiveFind(text, some));
    }
  }
  SUBCASE("short needles are searched too") {
    TempDir dir;
    auto reader = DecisionLogReader::Open({dir.Write("d.log", "abc\nxyz\nab\n")});
    REQUIRE(reader.ok());
    std::vector<std::string> found;
    (*reader)->FindLines({"b", "yz"},
                         [&](const DecisionLogReader::Line& l) { found.emplace_back(l.text); });
    CHECK(found == std::vector<std::string>{"abc", "xyz", "ab"});
  }
}

TEST_CASE("decision log reader: line numbers, in any order of asking") {
  TempDir dir;
  auto reader = DecisionLogReader::Open({dir.Write("d.log", "one\ntwo\n\nfour\n")});
  REQUIRE(reader.ok());
  CHECK((*reader)->LineNumber(0, 9) == 4);
  CHECK((*reader)->LineNumber(0, 0) == 1);
  CHECK((*reader)->LineNumber(0, 4) == 2);
  CHECK((*reader)->LineNumber(0, 8) == 3);
}

TEST_CASE("decision log reader: ParseLogLine and IsTwilioSid") {
  std::string error;
  CHECK(ParseLogLine(R"({"type":"decision"})", &error)->at("type") == "decision");
  CHECK(!ParseLogLine(R"({"type":)", &error));
  CHECK(error == "not JSON: error at byte 9");
  CHECK(!ParseLogLine("[1]", &error));
  CHECK(error == "not a JSON object (array)");
  CHECK(IsTwilioSid("CA0123456789abcdef0123456789abcdef"));
  CHECK(!IsTwilioSid("CA0123456789abcdef0123456789abcde"));
  CHECK(!IsTwilioSid("ca0123456789abcdef0123456789abcdef"));
  CHECK(!IsTwilioSid("Twilio.CURRENT"));
}
