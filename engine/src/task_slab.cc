#include "task_slab.h"

#include <atomic>
#include <cassert>
#include <cstdint>
#include <new>

namespace recrules::detail::task_slab {

namespace {

// The first cache line of a slab. `refs` counts its live blocks, plus one while it is a
// thread's current slab, so that it is freed by whichever of the two ends last.
struct alignas(kAlign) Header {
  std::atomic<uint32_t> refs{1};
};

std::atomic<size_t> g_live_slabs{0};

// Slabs are aligned to their size, so a block finds its header by masking its address.
constexpr std::align_val_t kSlabAlign{kSlabBytes};

void Release(Header* slab) {
  if (slab == nullptr || slab->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  slab->~Header();
  ::operator delete(slab, kSlabAlign);
  g_live_slabs.fetch_sub(1, std::memory_order_relaxed);
}

struct ThreadSlab {
  Header* slab = nullptr;
  size_t used = kSlabBytes;  // bytes handed out, the header included
  ~ThreadSlab() {
    Release(slab);
    slab = nullptr;
    used = kSlabBytes;
  }
};

thread_local ThreadSlab t_slab;

}  // namespace

void* Allocate(size_t bytes) {
  assert(bytes <= kMaxBlockBytes);  // larger blocks would not fit after the header
  bytes = (bytes + kAlign - 1) / kAlign * kAlign;
  ThreadSlab& t = t_slab;
  if (t.used + bytes > kSlabBytes) {
    void* memory = ::operator new(kSlabBytes, kSlabAlign);
    g_live_slabs.fetch_add(1, std::memory_order_relaxed);
    Release(t.slab);
    t.slab = new (memory) Header;
    t.used = sizeof(Header);
  }
  t.slab->refs.fetch_add(1, std::memory_order_relaxed);
  void* block = reinterpret_cast<char*>(t.slab) + t.used;
  t.used += bytes;
  return block;
}

void Free(void* block) {
  const auto at = reinterpret_cast<uintptr_t>(block);
  Release(reinterpret_cast<Header*>(at & ~uintptr_t(kSlabBytes - 1)));
}

size_t LiveSlabs() {
  return g_live_slabs.load(std::memory_order_relaxed);
}

}  // namespace recrules::detail::task_slab
