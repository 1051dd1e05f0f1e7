// Where kept tasks live. A decision on a kept task reads its TaskData and hot block, about a
// kilobyte; one allocation each from the general heap would put the documents of every task
// (a few KB) between them, so that deciding across many kept tasks (a stack re-deciding its
// live calls) touches a fresh page and misses the cache for each one. Slabs keep the blocks of
// tasks kept one after another on the same pages instead: about 8 MB for 10 000 tasks.
#pragma once

#include <cstddef>

namespace recrules::detail::task_slab {

// The slab size, and the largest block served from a slab (larger ones come from the heap).
constexpr size_t kSlabBytes = 32 * 1024;
constexpr size_t kMaxBlockBytes = kSlabBytes / 4;
constexpr size_t kAlign = 64;

// A block of `bytes` (at most kMaxBlockBytes), aligned to kAlign, from the calling thread's
// current slab; a new slab when it is full. Bump allocation: no lock.
void* Allocate(size_t bytes);

// Frees a block from Allocate, from any thread. A slab is returned to the heap once all its
// blocks are freed and its thread has moved on to another slab (or exited).
void Free(void* block);

// Slabs allocated and not yet returned, across all threads (for tests).
size_t LiveSlabs();

}  // namespace recrules::detail::task_slab
