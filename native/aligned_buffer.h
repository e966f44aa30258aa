// Memory for O_DIRECT: the kernel rejects (EINVAL) buffers that are not aligned to the
// device's DMA alignment, and Node Buffers are only 16-byte aligned, so every sector I/O
// goes through one of these. Move-only; freed on destruction.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ycs {

class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  // `size` bytes at an address that is a multiple of `alignment` (a power of two >=
  // sizeof(void*)), zero-filled unless `zero` is false (a read target that the kernel
  // fills completely). Throws std::bad_alloc.
  AlignedBuffer(size_t size, size_t alignment, bool zero = true);
  ~AlignedBuffer();
  AlignedBuffer(AlignedBuffer&& other) noexcept;
  AlignedBuffer& operator=(AlignedBuffer&& other) noexcept;
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;

  uint8_t* data() { return data_; }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace ycs
