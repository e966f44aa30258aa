#include "aligned_buffer.h"

#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>

namespace ycs {

AlignedBuffer::AlignedBuffer(size_t size, size_t alignment, bool zero) : size_(size) {
  void* p = nullptr;
  // posix_memalign(0) may return NULL; keep a valid pointer for zero-length buffers.
  if (posix_memalign(&p, alignment, size == 0 ? alignment : size) != 0) throw std::bad_alloc();
  data_ = static_cast<uint8_t*>(p);
  if (zero) std::memset(data_, 0, size == 0 ? alignment : size);
}

AlignedBuffer::~AlignedBuffer() { std::free(data_); }

AlignedBuffer::AlignedBuffer(AlignedBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

AlignedBuffer& AlignedBuffer::operator=(AlignedBuffer&& other) noexcept {
  if (this != &other) {
    std::free(data_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

}  // namespace ycs
