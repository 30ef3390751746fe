// One valid message of every type, encoded: the round-trip tests check them, and the fuzz
// drivers start their mutations from them.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#include "gofer/proto/messages.h"

namespace gofer::testing {

inline Stat SampleStat(uint64_t n) {
  Stat s;
  s.dev = 0x0102030405060708 + n;
  s.ino = 77 + n;
  s.mode = S_IFREG | 0644;
  s.nlink = 3;
  s.uid = 1000;
  s.gid = 1001;
  s.rdev = 0xdead;
  s.size = -5;  // signed fields survive as signed
  s.blksize = 4096;
  s.blocks = 8;
  s.atime = {1, 2};
  s.mtime = {-3, 999999999};
  s.ctime = {5, 6};
  return s;
}

inline FileDescriptor OpenDevNull() {
  return FileDescriptor(::open("/dev/null", O_RDONLY | O_CLOEXEC));
}

// Every message type, with fields that are not all zero.
template <class F>
void ForEachSample(F&& f) {
  f(AttachRequest{3});
  f(AttachResponse{7, SampleStat(1)});
  f(WalkRequest{5, kWalkFidEach, {"usr", "bin", "ls"}});
  f(WalkRequest{5, 0, {}});
  f(WalkRequest{5, kWalkNoFid, {"vol", "dir", "file"}});
  f(WalkResponse{kWalkNotDir, {{kNoFid, SampleStat(11)}}});
  f(WalkResponse{kWalkMissing, {{1, SampleStat(2)}, {kNoFid, SampleStat(3)}}});
  f(StatRequest{9});
  f(StatResponse{SampleStat(4)});
  f(OpenRequest{9, O_RDWR | O_APPEND});
  f(OpenResponse{OpenDevNull()});
  f(OpenResponse{});
  f(CreateRequest{1, "new file", O_WRONLY, 0640, 1000, 1001});
  f(CreateResponse{2, SampleStat(5), OpenDevNull()});
  f(MkdirRequest{1, "d", 0755, 1, 2});
  f(MkdirResponse{3, SampleStat(6)});
  f(MknodRequest{1, "fifo", S_IFIFO | 0600, 1, 2});
  f(MknodResponse{4, SampleStat(7)});
  f(SymlinkRequest{1, "l", "../../target", 1, 2});
  f(SymlinkResponse{5, SampleStat(8)});
  f(LinkRequest{1, "hard", 6});
  f(LinkResponse{7, SampleStat(9)});
  f(UnlinkRequest{1, "x", AT_REMOVEDIR});
  f(UnlinkResponse{});
  f(RenameRequest{1, "a", 2, "b", RENAME_NOREPLACE});
  f(RenameResponse{});
  f(ReadlinkRequest{8});
  f(ReadlinkResponse{std::string("/a\0b", 4)});
  f(SetStatRequest{8, kSetAll, 0755, 1, 2, 1 << 20, {1, UTIME_NOW}, {2, UTIME_OMIT}});
  f(SetStatResponse{SampleStat(10)});
  f(StatFsRequest{8});
  f(StatFsResponse{StatFs{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}});
  f(GetdentsRequest{8, 0x7fffffffffffffff, 100});
  f(GetdentsResponse{{{1, 2, DT_REG, "one"}, {3, 4, DT_DIR, ""}}});
  f(FsyncRequest{8, kFsyncDataOnly});
  f(FsyncResponse{});
  f(CloseRequest{{1, 2, 3}});
  f(CloseResponse{});
  f(ErrorResponse{ENOENT});
}

// Every sample, encoded with tags 1, 2, ...
inline std::vector<std::vector<uint8_t>> SampleMessages() {
  std::vector<std::vector<uint8_t>> out;
  uint64_t tag = 1;
  ForEachSample([&](const auto& m) { out.push_back(EncodeMessage(m, tag++).bytes); });
  return out;
}

inline void PatchLength(std::vector<uint8_t>& bytes) {
  uint32_t n = static_cast<uint32_t>(bytes.size());
  std::memcpy(bytes.data() + 4, &n, sizeof(n));
}

}  // namespace gofer::testing
