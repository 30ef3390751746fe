#include "sentry/fsimpl/devpts/queue.h"

#include <algorithm>

namespace sentry::fsimpl::devpts {

uint64_t InputQueue::Readable(bool canonical) const {
  if (!canonical) return bytes_;
  uint64_t n = 0;
  for (const Record& r : records_) {
    if (!r.complete) break;
    n += r.data.size() - r.offset;
  }
  return n;
}

void InputQueue::AppendRaw(char c) {
  if (records_.empty() || records_.back().complete) records_.push_back(Record{});
  records_.back().data.push_back(c);
  ++bytes_;
}

void InputQueue::PushLine(std::string line) {
  bytes_ += line.size();
  records_.push_back(Record{std::move(line), 0, true});
}

std::string InputQueue::TakeLine(uint64_t max, bool* ended) {
  *ended = false;
  if (records_.empty()) return {};
  Record& r = records_.front();
  // A run typed in non-canonical mode counts as a line once canonical mode is back.
  uint64_t n = std::min<uint64_t>(max, r.data.size() - r.offset);
  std::string out = r.data.substr(r.offset, n);
  r.offset += n;
  bytes_ -= n;
  if (r.offset == r.data.size()) {
    *ended = true;
    records_.pop_front();
  }
  return out;
}

std::string InputQueue::TakeRaw(uint64_t max) {
  std::string out;
  while (out.size() < max && !records_.empty()) {
    Record& r = records_.front();
    uint64_t n = std::min<uint64_t>(max - out.size(), r.data.size() - r.offset);
    out.append(r.data, r.offset, n);
    r.offset += n;
    bytes_ -= n;
    if (r.offset == r.data.size()) records_.pop_front();
  }
  return out;
}

void InputQueue::Clear() {
  records_.clear();
  bytes_ = 0;
}

}  // namespace sentry::fsimpl::devpts
