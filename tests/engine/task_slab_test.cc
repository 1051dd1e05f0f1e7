#include "task_slab.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

#include "recrules/engine.h"

namespace slab = recrules::detail::task_slab;

TEST_CASE("task slab: blocks kept one after another sit next to each other") {
  std::vector<void*> blocks;
  for (int i = 0; i < 8; ++i) blocks.push_back(slab::Allocate(100));
  size_t adjacent = 0;
  for (size_t i = 1; i < blocks.size(); ++i) {
    const auto gap =
        reinterpret_cast<uintptr_t>(blocks[i]) - reinterpret_cast<uintptr_t>(blocks[i - 1]);
    if (gap == 128) ++adjacent;  // 100 bytes rounded up to two cache lines
    CHECK(reinterpret_cast<uintptr_t>(blocks[i]) % slab::kAlign == 0);
  }
  CHECK(adjacent >= blocks.size() - 2);  // at most one slab change among 8 small blocks
  for (void* b : blocks) slab::Free(b);
}

TEST_CASE("task slab: a slab is returned once its blocks are freed and its thread moved on") {
  const size_t before = slab::LiveSlabs();
  std::vector<void*> blocks;
  std::thread keeper([&] {
    // Enough blocks for several slabs; every byte written, so that overlap would show under
    // the sanitizers and in the checks below.
    for (int i = 0; i < 200; ++i) {
      void* b = slab::Allocate(slab::kMaxBlockBytes / 2);
      std::memset(b, i, slab::kMaxBlockBytes / 2);
      blocks.push_back(b);
    }
  });
  keeper.join();  // its current slab is now held by its blocks alone
  CHECK(slab::LiveSlabs() >= before + 200 / (slab::kSlabBytes / (slab::kMaxBlockBytes / 2)));
  for (size_t i = 0; i < blocks.size(); ++i) {
    CHECK(static_cast<unsigned char*>(blocks[i])[0] == static_cast<unsigned char>(i));
  }
  // Freed from other threads than the one that allocated them.
  std::thread a([&] {
    for (size_t i = 0; i < blocks.size(); i += 2) slab::Free(blocks[i]);
  });
  std::thread b([&] {
    for (size_t i = 1; i < blocks.size(); i += 2) slab::Free(blocks[i]);
  });
  a.join();
  b.join();
  CHECK(slab::LiveSlabs() == before);
}

TEST_CASE("task slab: kept tasks outlive the thread that parsed them") {
  const size_t before = slab::LiveSlabs();
  std::vector<recrules::Task> tasks;
  std::thread parser([&] {
    for (int i = 0; i < 300; ++i) {
      auto t = recrules::Task::FromJson(R"({"sid":"WR)" + std::to_string(i) +
                                        R"(","queueName":"Sales","attributes":{"n":1}})");
      REQUIRE(t.ok());
      tasks.push_back(*t);
    }
  });
  parser.join();
  for (size_t i = 0; i < tasks.size(); ++i) CHECK(tasks[i].sid() == "WR" + std::to_string(i));
  CHECK(slab::LiveSlabs() > before);
  tasks.clear();
  CHECK(slab::LiveSlabs() == before);
}

TEST_CASE("task slab: a task too large for a slab comes from the heap and reads the same") {
  std::string json = R"({"sid":"WRbig","queueName":"Sales","attributes":{)";
  for (int i = 0; i < 3000; ++i) {
    if (i) json += ',';
    json += "\"k" + std::to_string(i) + "\":\"v" + std::to_string(i) + "\"";
  }
  json += "}}";
  std::thread parser([&] {
    const size_t before = slab::LiveSlabs();
    {
      auto task = recrules::Task::FromJson(json);
      REQUIRE(task.ok());
      CHECK(slab::LiveSlabs() == before);  // its block is over kMaxBlockBytes
      CHECK(task->sid() == "WRbig");
      CHECK(task->AttributeJson("k2999") == "\"v2999\"");
    }
    CHECK(slab::LiveSlabs() == before);
  });
  parser.join();
}
