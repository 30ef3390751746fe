// The byte queues between a pty's two ends. What the master writes becomes readable on the
// replica as records: in canonical mode one per completed line (or an end-of-file mark), in
// non-canonical mode one open run of bytes. What the replica writes, after output processing,
// is one run of bytes for the master.
#pragma once

#include <cstdint>
#include <deque>
#include <string>

namespace sentry::fsimpl::devpts {

// Linux's N_TTY_BUF_SIZE: the replica's input holds this much before the master's writes block.
inline constexpr uint64_t kInputCapacity = 4096;
// What the master may leave unread of the replica's output before the replica's writes block
// (Linux's tty buffer limit for a pty is of this order).
inline constexpr uint64_t kOutputCapacity = 16384;

// Input waiting for the replica's reads.
class InputQueue {
 public:
  // Bytes that a read may take now: all of them in non-canonical mode, only completed lines
  // (not the one being edited) in canonical mode.
  uint64_t Readable(bool canonical) const;
  // Whether a canonical read would return now (a completed line or an end-of-file mark).
  bool HasRecord() const { return !records_.empty() && records_.front().complete; }
  uint64_t size() const { return bytes_; }

  // Non-canonical input: appended to the open run.
  void AppendRaw(char c);
  // Canonical: a finished line (its terminator included, if any); an empty one is an
  // end-of-file mark (VEOF on an empty line), which makes one read return 0.
  void PushLine(std::string line);
  // Canonical read: from the first completed record, at most `max` bytes. Returns the bytes
  // and whether a record ended (an end-of-file mark gives an empty string and true).
  std::string TakeLine(uint64_t max, bool* ended);
  // Non-canonical read: up to `max` bytes across records, end-of-file marks dropped.
  std::string TakeRaw(uint64_t max);
  void Clear();

 private:
  struct Record {
    std::string data;
    size_t offset = 0;      // how much was read
    bool complete = false;  // a finished line or mark (canonical); open runs are not
  };
  std::deque<Record> records_;
  uint64_t bytes_ = 0;  // unread bytes in all records
};

}  // namespace sentry::fsimpl::devpts
