// The gofer protocol's messages. A message is a 16-byte header {type, length, tag} followed by
// the body laid out by the struct's GOFER_FIELDS, little endian, strings and vectors prefixed by
// a uint32 count. Fds (Open, Create) travel beside the bytes as SCM_RIGHTS.
//
// Fids name files the gofer has walked to. The gofer allocates them (Attach, Walk, Create, ...)
// and the client gives them back with Close. Every name in a request is one path component:
// never "", ".", ".." or anything containing '/' or NUL (EINVAL); the sentry resolves ".." and
// symlinks itself, so the gofer never follows either.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "gofer/proto/wire.h"

namespace gofer {

using Fid = uint32_t;
inline constexpr Fid kNoFid = 0xffffffff;

// Request types; a successful reply has the request's type with kReplyBit set, a failed one is
// ErrorResponse (type kErrorType).
enum class MessageType : uint32_t {
  kAttach = 1,
  kWalk,
  kStat,
  kOpen,
  kCreate,
  kMkdir,
  kMknod,
  kSymlink,
  kLink,
  kUnlink,
  kRename,
  kReadlink,
  kSetStat,
  kStatFs,
  kGetdents,
  kFsync,
  kClose,
};
inline constexpr uint32_t kReplyBit = 0x8000;
inline constexpr uint32_t kErrorType = kReplyBit;
constexpr uint32_t RequestType(MessageType t) { return static_cast<uint32_t>(t); }
constexpr uint32_t ReplyType(MessageType t) { return static_cast<uint32_t>(t) | kReplyBit; }

struct Header {
  uint32_t type = 0;
  uint32_t length = 0;  // of the whole message, header included
  uint64_t tag = 0;     // echoed by the reply
  GOFER_FIELDS(type, length, tag)
};
inline constexpr size_t kHeaderSize = 16;

// Limits the gofer enforces on requests (EINVAL / ENAMETOOLONG beyond them).
inline constexpr size_t kMaxWalkNames = 255;
inline constexpr size_t kMaxNameLength = 255;      // NAME_MAX
inline constexpr size_t kMaxSymlinkLength = 4095;  // PATH_MAX - 1
inline constexpr uint32_t kMaxGetdentsCount = 4096;

struct Timespec {
  int64_t sec = 0;
  int64_t nsec = 0;
  GOFER_FIELDS(sec, nsec)
  friend bool operator==(const Timespec&, const Timespec&) = default;
};

struct Stat {
  uint64_t dev = 0;
  uint64_t ino = 0;
  uint32_t mode = 0;
  uint64_t nlink = 0;
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint64_t rdev = 0;
  int64_t size = 0;
  int64_t blksize = 0;
  int64_t blocks = 0;
  Timespec atime;
  Timespec mtime;
  Timespec ctime;
  GOFER_FIELDS(dev, ino, mode, nlink, uid, gid, rdev, size, blksize, blocks, atime, mtime, ctime)
  friend bool operator==(const Stat&, const Stat&) = default;
};

struct StatFs {
  uint64_t type = 0;
  uint64_t bsize = 0;
  uint64_t blocks = 0;
  uint64_t bfree = 0;
  uint64_t bavail = 0;
  uint64_t files = 0;
  uint64_t ffree = 0;
  uint64_t fsid = 0;
  uint64_t namelen = 0;
  uint64_t frsize = 0;
  uint64_t flags = 0;
  GOFER_FIELDS(type, bsize, blocks, bfree, bavail, files, ffree, fsid, namelen, frsize, flags)
  friend bool operator==(const StatFs&, const StatFs&) = default;
};

// --- Error ---

struct ErrorResponse {
  static constexpr uint32_t kType = kErrorType;
  uint32_t error = 0;  // a Linux errno, 1..4095
  GOFER_FIELDS(error)
};

// A reply without a body.
template <MessageType T>
struct EmptyResponse {
  static constexpr uint32_t kType = ReplyType(T);
  GOFER_FIELDS()
};

// --- Attach: a fid for the root of an attach point ---

struct AttachResponse {
  static constexpr uint32_t kType = ReplyType(MessageType::kAttach);
  Fid fid = kNoFid;
  Stat stat;
  GOFER_FIELDS(fid, stat)
};
struct AttachRequest {
  static constexpr uint32_t kType = RequestType(MessageType::kAttach);
  using Response = AttachResponse;
  uint32_t mount = 0;  // 0: the served root; i > 0: the config's mounts[i - 1]
  GOFER_FIELDS(mount)
};

// --- Walk: resolve up to kMaxWalkNames components from a directory fid in one round trip ---

enum WalkFlags : uint32_t {
  kWalkFidEach = 1,  // a fid for every walked component, not only the last
  kWalkNoFid = 2,    // stats only, no fid at all (a pure "stat this path")
};
// Why a walk stopped. On anything but kWalkComplete, entries.size() < names.size().
enum WalkStatus : uint32_t {
  kWalkComplete = 0,  // every name was walked
  kWalkMissing = 1,   // names[entries.size()] does not exist
  kWalkSymlink = 2,   // the last entry is a symlink and names follow it: the client resolves it
  kWalkNotDir = 3,    // the last entry is neither a directory nor a symlink and names follow it
};
struct WalkEntry {
  Fid fid = kNoFid;  // kNoFid unless asked for (see WalkFlags)
  Stat stat;
  GOFER_FIELDS(fid, stat)
};
struct WalkResponse {
  static constexpr uint32_t kType = ReplyType(MessageType::kWalk);
  uint32_t status = kWalkComplete;
  std::vector<WalkEntry> entries;  // one per walked name; with no names, one for a clone of fid
  GOFER_FIELDS(status, entries)
};
struct WalkRequest {
  static constexpr uint32_t kType = RequestType(MessageType::kWalk);
  using Response = WalkResponse;
  Fid fid = kNoFid;
  uint32_t flags = 0;
  std::vector<std::string> names;
  GOFER_FIELDS(fid, flags, names)
};

// --- Stat ---

struct StatResponse {
  static constexpr uint32_t kType = ReplyType(MessageType::kStat);
  Stat stat;
  GOFER_FIELDS(stat)
};
struct StatRequest {
  static constexpr uint32_t kType = RequestType(MessageType::kStat);
  using Response = StatResponse;
  Fid fid = kNoFid;
  GOFER_FIELDS(fid)
};

// --- Open: a host fd for the fid's file, donated to the client ---

struct OpenResponse {
  static constexpr uint32_t kType = ReplyType(MessageType::kOpen);
  FileDescriptor fd;
  GOFER_FIELDS(fd)
};
struct OpenRequest {
  static constexpr uint32_t kType = RequestType(MessageType::kOpen);
  using Response = OpenResponse;
  Fid fid = kNoFid;
  uint32_t flags = 0;  // open(2) flags; O_CREAT, O_EXCL, O_TMPFILE and O_PATH are refused
  GOFER_FIELDS(fid, flags)
};

// --- Create: a new regular file, always exclusive (EEXIST if the name exists) ---

struct CreateResponse {
  static constexpr uint32_t kType = ReplyType(MessageType::kCreate);
  Fid fid = kNoFid;
  Stat stat;
  FileDescriptor fd;  // opened with the request's flags
  GOFER_FIELDS(fid, stat, fd)
};
struct CreateRequest {
  static constexpr uint32_t kType = RequestType(MessageType::kCreate);
  using Response = CreateResponse;
  Fid dir = kNoFid;
  std::string name;
  uint32_t flags = 0;  // open(2) flags; O_CREAT|O_EXCL are implied
  uint32_t mode = 0;   // permission bits, applied exactly (the gofer's umask is 0)
  uint32_t uid = 0;
  uint32_t gid = 0;
  GOFER_FIELDS(dir, name, flags, mode, uid, gid)
};

// --- Mkdir, Mknod, Symlink, Link: a new name in a directory, returned as a fid ---

// The reply of everything that makes a new name without opening it.
template <MessageType T>
struct NewFileResponse {
  static constexpr uint32_t kType = ReplyType(T);
  Fid fid = kNoFid;
  Stat stat;
  GOFER_FIELDS(fid, stat)
};
using MkdirResponse = NewFileResponse<MessageType::kMkdir>;
using MknodResponse = NewFileResponse<MessageType::kMknod>;
using SymlinkResponse = NewFileResponse<MessageType::kSymlink>;
using LinkResponse = NewFileResponse<MessageType::kLink>;

struct MkdirRequest {
  static constexpr uint32_t kType = RequestType(MessageType::kMkdir);
  using Response = MkdirResponse;
  Fid dir = kNoFid;
  std::string name;
  uint32_t mode = 0;
  uint32_t uid = 0;
  uint32_t gid = 0;
  GOFER_FIELDS(dir, name, mode, uid, gid)
};
struct MknodRequest {
  static constexpr uint32_t kType = RequestType(MessageType::kMknod);
  using Response = MknodResponse;
  Fid dir = kNoFid;
  std::string name;
  uint32_t mode = 0;  // S_IFREG (or 0), S_IFIFO or S_IFSOCK plus permissions; devices: EPERM
  uint32_t uid = 0;
  uint32_t gid = 0;
  GOFER_FIELDS(dir, name, mode, uid, gid)
};
struct SymlinkRequest {
  static constexpr uint32_t kType = RequestType(MessageType::kSymlink);
  using Response = SymlinkResponse;
  Fid dir = kNoFid;
  std::string name;
  std::string target;  // stored as is; the gofer never resolves it
  uint32_t uid = 0;
  uint32_t gid = 0;
  GOFER_FIELDS(dir, name, target, uid, gid)
};
struct LinkRequest {
  static constexpr uint32_t kType = RequestType(MessageType::kLink);
  using Response = LinkResponse;
  Fid dir = kNoFid;
  std::string name;
  Fid target = kNoFid;  // the existing file (not a directory)
  GOFER_FIELDS(dir, name, target)
};

// --- Unlink, Rename ---

using UnlinkResponse = EmptyResponse<MessageType::kUnlink>;
struct UnlinkRequest {
  static constexpr uint32_t kType = RequestType(MessageType::kUnlink);
  using Response = UnlinkResponse;
  Fid dir = kNoFid;
  std::string name;
  uint32_t flags = 0;  // 0 or AT_REMOVEDIR
  GOFER_FIELDS(dir, name, flags)
};

using RenameResponse = EmptyResponse<MessageType::kRename>;
struct RenameRequest {
  static constexpr uint32_t kType = RequestType(MessageType::kRename);
  using Response = RenameResponse;
  Fid old_dir = kNoFid;
  std::string old_name;
  Fid new_dir = kNoFid;
  std::string new_name;
  uint32_t flags = 0;  // renameat2: 0, RENAME_NOREPLACE or RENAME_EXCHANGE
  GOFER_FIELDS(old_dir, old_name, new_dir, new_name, flags)
};

// --- Readlink ---

struct ReadlinkResponse {
  static constexpr uint32_t kType = ReplyType(MessageType::kReadlink);
  std::string target;
  GOFER_FIELDS(target)
};
struct ReadlinkRequest {
  static constexpr uint32_t kType = RequestType(MessageType::kReadlink);
  using Response = ReadlinkResponse;
  Fid fid = kNoFid;
  GOFER_FIELDS(fid)
};

// --- SetStat: chmod, chown, truncate, utimensat in one request ---

enum SetStatMask : uint32_t {
  kSetMode = 1,
  kSetUid = 2,
  kSetGid = 4,
  kSetSize = 8,
  kSetAtime = 16,  // atime.nsec may be UTIME_NOW or UTIME_OMIT
  kSetMtime = 32,  // likewise
  kSetAll = 63,
};
struct SetStatResponse {
  static constexpr uint32_t kType = ReplyType(MessageType::kSetStat);
  Stat stat;  // after the change
  GOFER_FIELDS(stat)
};
struct SetStatRequest {
  static constexpr uint32_t kType = RequestType(MessageType::kSetStat);
  using Response = SetStatResponse;
  Fid fid = kNoFid;
  uint32_t mask = 0;
  uint32_t mode = 0;
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint64_t size = 0;
  Timespec atime;
  Timespec mtime;
  GOFER_FIELDS(fid, mask, mode, uid, gid, size, atime, mtime)
};

// --- StatFs ---

struct StatFsResponse {
  static constexpr uint32_t kType = ReplyType(MessageType::kStatFs);
  StatFs statfs;
  GOFER_FIELDS(statfs)
};
struct StatFsRequest {
  static constexpr uint32_t kType = RequestType(MessageType::kStatFs);
  using Response = StatFsResponse;
  Fid fid = kNoFid;
  GOFER_FIELDS(fid)
};

// --- Getdents: a directory's entries from a cookie on; "." and ".." are the client's job ---

struct Dirent {
  uint64_t ino = 0;
  uint64_t offset = 0;  // the cookie that continues after this entry
  uint8_t type = 0;     // DT_*
  std::string name;
  GOFER_FIELDS(ino, offset, type, name)
  friend bool operator==(const Dirent&, const Dirent&) = default;
};
struct GetdentsResponse {
  static constexpr uint32_t kType = ReplyType(MessageType::kGetdents);
  std::vector<Dirent> entries;  // empty at the end of the directory
  GOFER_FIELDS(entries)
};
struct GetdentsRequest {
  static constexpr uint32_t kType = RequestType(MessageType::kGetdents);
  using Response = GetdentsResponse;
  Fid fid = kNoFid;
  uint64_t offset = 0;  // 0, or the offset of the last entry already seen
  uint32_t count = 0;   // at most this many entries (1..kMaxGetdentsCount); fewer if they don't fit
  GOFER_FIELDS(fid, offset, count)
};

// --- Fsync ---

enum FsyncFlags : uint32_t { kFsyncDataOnly = 1 };
using FsyncResponse = EmptyResponse<MessageType::kFsync>;
struct FsyncRequest {
  static constexpr uint32_t kType = RequestType(MessageType::kFsync);
  using Response = FsyncResponse;
  Fid fid = kNoFid;
  uint32_t flags = 0;
  GOFER_FIELDS(fid, flags)
};

// --- Close: forget fids (several at once, so evicting a cache costs one round trip) ---

using CloseResponse = EmptyResponse<MessageType::kClose>;
struct CloseRequest {
  static constexpr uint32_t kType = RequestType(MessageType::kClose);
  using Response = CloseResponse;
  std::vector<Fid> fids;  // all known ones are closed; EBADF afterwards if any was unknown
  GOFER_FIELDS(fids)
};

using Request = std::variant<AttachRequest, WalkRequest, StatRequest, OpenRequest, CreateRequest,
                             MkdirRequest, MknodRequest, SymlinkRequest, LinkRequest, UnlinkRequest,
                             RenameRequest, ReadlinkRequest, SetStatRequest, StatFsRequest,
                             GetdentsRequest, FsyncRequest, CloseRequest>;

// --- Whole messages ---

// An encoded message: its bytes and the fds to send with it, borrowed from the message object,
// which must outlive the send.
struct OutMessage {
  std::vector<uint8_t> bytes;
  std::vector<int> fds;
};

template <class M>
OutMessage EncodeMessage(const M& m, uint64_t tag) {
  Encoder e;
  Put(e, Header{M::kType, 0, tag});
  Put(e, m);
  auto& bytes = e.bytes();
  uint32_t length = static_cast<uint32_t>(bytes.size());
  std::memcpy(bytes.data() + sizeof(Header::type), &length, sizeof(length));
  return OutMessage{std::move(bytes), e.fds()};
}

// Checks the header of a received message against its actual size.
Result<Header> DecodeHeader(std::span<const uint8_t> message);

// Decodes the body of a message whose header DecodeHeader accepted as type M::kType. Takes fds
// from `fds` in order; fds it does not take stay there (the caller closes them).
template <class M>
Result<M> DecodeBody(std::span<const uint8_t> message, std::span<FileDescriptor> fds) {
  Decoder d(message.subspan(kHeaderSize), fds);
  M m;
  TRY(Get(d, m));
  TRY(d.Finish());
  return m;
}

// Decodes any request by the header's type: ENOSYS for a type the gofer does not know, EINVAL
// for a malformed body.
Result<Request> DecodeRequest(const Header& header, std::span<const uint8_t> message,
                              std::span<FileDescriptor> fds);

// Decodes the reply to a request whose reply type is M::kType: an ErrorResponse becomes its
// errno; a wrong type or a malformed body is EIO (the peer broke the protocol).
template <class M>
Result<M> DecodeReply(std::span<const uint8_t> message, std::span<FileDescriptor> fds,
                      uint64_t tag) {
  auto header = DecodeHeader(message);
  if (!header || header->tag != tag) return Err(EIO);
  if (header->type == kErrorType) {
    auto e = DecodeBody<ErrorResponse>(message, fds);
    if (!e || e->error == 0 || e->error >= 4096) return Err(EIO);
    return Err(static_cast<int>(e->error));
  }
  if (header->type != M::kType) return Err(EIO);
  auto m = DecodeBody<M>(message, fds);
  if (!m) return Err(EIO);
  return m;
}

}  // namespace gofer
