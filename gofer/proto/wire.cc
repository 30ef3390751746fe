#include "gofer/proto/wire.h"

namespace gofer {

void Encoder::String(std::string_view s) {
  Int(static_cast<uint32_t>(s.size()));
  bytes_.insert(bytes_.end(), s.begin(), s.end());
}

void Encoder::Fd(const FileDescriptor& fd) {
  Int<uint32_t>(fd.valid() ? 1 : 0);
  if (fd.valid()) fds_.push_back(fd.get());
}

Result<std::string> Decoder::String() {
  uint32_t len = TRY(Int<uint32_t>());
  if (len > remaining()) return Err(EINVAL);
  std::string s(reinterpret_cast<const char*>(data_.data() + pos_), len);
  pos_ += len;
  return s;
}

Result<FileDescriptor> Decoder::Fd() {
  uint32_t present = TRY(Int<uint32_t>());
  if (present > 1) return Err(EINVAL);
  if (present == 0) return FileDescriptor();
  if (next_fd_ >= fds_.size()) return Err(EINVAL);
  return std::move(fds_[next_fd_++]);
}

Result<uint32_t> Decoder::Count(size_t min_size) {
  uint32_t n = TRY(Int<uint32_t>());
  if (n > remaining() / min_size) return Err(EINVAL);
  return n;
}

Result<void> Decoder::Finish() const {
  if (remaining() != 0) return Err(EINVAL);
  return {};
}

}  // namespace gofer
