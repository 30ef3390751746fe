#include "gofer/session.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <limits>

namespace gofer {

namespace {

// Each fid holds a host fd; the limit keeps one client from exhausting the gofer's fd table
// (RunGofer raises RLIMIT_NOFILE to its hard limit).
constexpr size_t kMaxFids = size_t{1} << 20;

// Flags an Open may carry. O_CREAT, O_EXCL and O_TMPFILE make files (Create's job), O_PATH fds
// the sentry needs no host help for; the rest are unknown.
constexpr int kOpenFlags = O_ACCMODE | O_TRUNC | O_APPEND | O_NONBLOCK | O_DSYNC | O_SYNC |
                           O_DIRECT | O_NOATIME | O_DIRECTORY | O_LARGEFILE | O_NOCTTY | O_CLOEXEC |
                           O_NOFOLLOW;

bool SameFile(const Node& a, const Node& b) { return a.dev == b.dev && a.ino == b.ino; }

bool Writes(int flags) { return (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC) != 0; }

Result<int> CheckOpenFlags(uint32_t raw, int allowed) {
  int flags = static_cast<int>(raw);
  if ((flags & ~allowed) != 0 || (flags & O_ACCMODE) == O_ACCMODE) return Err(EINVAL);
  // The fd is donated: close-on-exec matters only in the sentry, and nothing is ever followed.
  return flags & ~(O_CLOEXEC | O_NOFOLLOW);
}

Result<Stat> StatNode(const Node& node) { return ToWire(TRY(StatFd(node.fd.get()))); }

}  // namespace

Result<Session::FidState*> Session::Lookup(Fid fid) {
  auto it = fids_.find(fid);
  if (it == fids_.end()) return Err(EBADF);
  return &it->second;
}

Result<std::shared_ptr<Node>> Session::LookupNode(Fid fid) { return TRY(Lookup(fid))->node; }

Result<std::shared_ptr<Node>> Session::WritableDir(Fid fid) {
  auto node = TRY(LookupNode(fid));
  if (!node->is_dir()) return Err(ENOTDIR);
  if (read_only(*node)) return Err(EROFS);
  return node;
}

Result<Fid> Session::Allocate(std::shared_ptr<Node> node) {
  if (fids_.size() >= kMaxFids) return Err(ENFILE);
  while (next_fid_ == kNoFid || fids_.contains(next_fid_)) ++next_fid_;
  Fid fid = next_fid_++;
  fids_.emplace(fid, FidState{std::move(node), FileDescriptor()});
  return fid;
}

Result<std::shared_ptr<Node>> Session::Step(const std::shared_ptr<Node>& dir,
                                            const std::string& name, struct stat* st) {
  auto node = TRY(WalkOne(dir, name, st));
  if (!node->is_dir()) return node;
  auto& slot = dirs_[std::tuple(node->tree, node->dev, node->ino)];
  if (auto live = slot.lock()) {
    // A directory removed on the host lives on while fids hold it, and a new one may get its
    // inode number: sharing the dead one would hide the new one's entries.
    auto live_st = StatFd(live->fd.get());
    if (live_st && live_st->st_nlink > 0) return live;  // the new node and its fd go away
  }
  slot = node;
  if (dirs_.size() >= sweep_dirs_at_) {
    for (auto it = dirs_.begin(); it != dirs_.end();) {
      if (it->second.expired()) {
        dirs_.erase(it++);
      } else {
        ++it;
      }
    }
    sweep_dirs_at_ = 2 * dirs_.size() + 1024;
  }
  return node;
}

Result<Session::NewName> Session::FinishNewName(const std::shared_ptr<Node>& dir,
                                                const std::string& name, uint32_t uid,
                                                uint32_t gid) {
  auto made = [&]() -> Result<NewName> {
    struct stat st;
    auto node = TRY(Step(dir, name, &st));
    if (uid != kKeepOwner && (st.st_uid != uid || st.st_gid != gid)) {
      TRY(ChownNode(*node, uid, gid));
      st = TRY(StatFd(node->fd.get()));
    }
    Fid fid = TRY(Allocate(node));
    return NewName{fid, ToWire(st), std::move(node)};
  }();
  if (!made && ::unlinkat(dir->fd.get(), name.c_str(), 0) < 0 && errno == EISDIR) {
    ::unlinkat(dir->fd.get(), name.c_str(), AT_REMOVEDIR);
  }
  return made;
}

Result<AttachResponse> Session::Handle(const AttachRequest& req) {
  if (req.mount >= trees_.size()) return Err(ENOENT);
  const auto& root = trees_[req.mount].root;
  Stat stat = TRY(StatNode(*root));
  return AttachResponse{TRY(Allocate(root)), stat};
}

Result<WalkResponse> Session::Handle(const WalkRequest& req) {
  if (req.names.size() > kMaxWalkNames) return Err(EINVAL);
  if ((req.flags & ~(kWalkFidEach | kWalkNoFid)) != 0) return Err(EINVAL);
  if (req.flags == (kWalkFidEach | kWalkNoFid)) return Err(EINVAL);
  for (const auto& name : req.names) TRY(ValidateName(name));
  auto start = TRY(LookupNode(req.fid));

  WalkResponse resp;
  std::vector<std::shared_ptr<Node>> walked;
  if (req.names.empty()) {
    // A clone: a second fid for the same file (its own getdents offset).
    walked.push_back(start);
    resp.entries.push_back(WalkEntry{kNoFid, TRY(StatNode(*start))});
  } else {
    if (!start->is_dir()) return Err(ENOTDIR);
    auto cur = start;
    for (size_t i = 0; i < req.names.size(); ++i) {
      if (i > 0 && cur->is_symlink()) {
        resp.status = kWalkSymlink;
        break;
      }
      if (i > 0 && !cur->is_dir()) {
        resp.status = kWalkNotDir;
        break;
      }
      struct stat st;
      auto next = Step(cur, req.names[i], &st);
      if (!next) {
        if (next.error() != Errno(ENOENT)) return std::unexpected(next.error());
        resp.status = kWalkMissing;
        break;
      }
      cur = std::move(*next);
      walked.push_back(cur);
      resp.entries.push_back(WalkEntry{kNoFid, ToWire(st)});
    }
  }

  if ((req.flags & kWalkNoFid) != 0 || walked.empty()) return resp;
  size_t first = (req.flags & kWalkFidEach) != 0 ? 0 : walked.size() - 1;
  for (size_t i = first; i < walked.size(); ++i) {
    auto fid = Allocate(walked[i]);
    if (!fid) {
      for (size_t j = first; j < i; ++j) fids_.erase(resp.entries[j].fid);
      return std::unexpected(fid.error());
    }
    resp.entries[i].fid = *fid;
  }
  return resp;
}

Result<StatResponse> Session::Handle(const StatRequest& req) {
  auto node = TRY(LookupNode(req.fid));
  return StatResponse{TRY(StatNode(*node))};
}

Result<OpenResponse> Session::Handle(const OpenRequest& req) {
  auto node = TRY(LookupNode(req.fid));
  int flags = TRY(CheckOpenFlags(req.flags, kOpenFlags));
  if (read_only(*node) && Writes(flags)) return Err(EROFS);
  switch (node->type) {
    case S_IFCHR:
    case S_IFBLK:
      // The sentry has its own devices; a host device node in the served tree is treated as
      // if the tree were mounted nodev.
      return Err(EPERM);
    case S_IFLNK:
      return Err(ELOOP);
    case S_IFSOCK:
      return Err(ENXIO);
    case S_IFIFO:
      // The gofer serves one request at a time: an open that waits for the other end of a FIFO
      // would stall every client. The sentry gets a non-blocking fd and does the waiting.
      flags |= O_NONBLOCK;
      break;
  }
  return OpenResponse{TRY(Reopen(*node, flags))};
}

Result<CreateResponse> Session::Handle(const CreateRequest& req) {
  auto dir = TRY(WritableDir(req.dir));
  TRY(ValidateName(req.name));
  int flags = TRY(CheckOpenFlags(req.flags, (kOpenFlags | O_CREAT | O_EXCL) & ~O_DIRECTORY));
  uint32_t type = req.mode & S_IFMT;
  if (type != 0 && type != S_IFREG) return Err(EINVAL);
  // Always exclusive: opening an existing file here and then chowning it to the creator would
  // hand someone else's file over. The client walks first and retries on EEXIST.
  FileDescriptor fd = TRY(OpenAt(dir->fd.get(), req.name, flags | O_CREAT | O_EXCL,
                                 static_cast<mode_t>(req.mode & 07777)));
  struct stat opened = TRY(StatFd(fd.get()));
  NewName made = TRY(FinishNewName(dir, req.name, req.uid, req.gid));
  if (made.node->dev != opened.st_dev || made.node->ino != opened.st_ino) {
    fids_.erase(made.fid);
    return Err(ESTALE);
  }
  return CreateResponse{made.fid, made.stat, std::move(fd)};
}

Result<MkdirResponse> Session::Handle(const MkdirRequest& req) {
  auto dir = TRY(WritableDir(req.dir));
  TRY(ValidateName(req.name));
  if (::mkdirat(dir->fd.get(), req.name.c_str(), req.mode & 07777) < 0) return Err(errno);
  NewName made = TRY(FinishNewName(dir, req.name, req.uid, req.gid));
  return MkdirResponse{made.fid, made.stat};
}

Result<MknodResponse> Session::Handle(const MknodRequest& req) {
  auto dir = TRY(WritableDir(req.dir));
  TRY(ValidateName(req.name));
  uint32_t type = req.mode & S_IFMT;
  switch (type) {
    case 0:
      type = S_IFREG;
      break;
    case S_IFREG:
    case S_IFIFO:
    case S_IFSOCK:
      break;
    case S_IFCHR:
    case S_IFBLK:
      return Err(EPERM);  // no host device nodes, whoever asks
    default:
      return Err(EINVAL);
  }
  if (::mknodat(dir->fd.get(), req.name.c_str(), type | (req.mode & 07777), 0) < 0) {
    return Err(errno);
  }
  NewName made = TRY(FinishNewName(dir, req.name, req.uid, req.gid));
  return MknodResponse{made.fid, made.stat};
}

Result<SymlinkResponse> Session::Handle(const SymlinkRequest& req) {
  auto dir = TRY(WritableDir(req.dir));
  TRY(ValidateName(req.name));
  if (req.target.empty()) return Err(ENOENT);
  if (req.target.find('\0') != std::string::npos) return Err(EINVAL);
  if (req.target.size() > kMaxSymlinkLength) return Err(ENAMETOOLONG);
  if (::symlinkat(req.target.c_str(), dir->fd.get(), req.name.c_str()) < 0) return Err(errno);
  NewName made = TRY(FinishNewName(dir, req.name, req.uid, req.gid));
  return SymlinkResponse{made.fid, made.stat};
}

Result<LinkResponse> Session::Handle(const LinkRequest& req) {
  auto dir = TRY(WritableDir(req.dir));
  TRY(ValidateName(req.name));
  auto target = TRY(LookupNode(req.target));
  if (target->tree != dir->tree) return Err(EXDEV);
  if (target->is_dir()) return Err(EPERM);
  if (::linkat(target->fd.get(), "", dir->fd.get(), req.name.c_str(), AT_EMPTY_PATH) < 0) {
    // Linking an fd needs CAP_DAC_READ_SEARCH (ENOENT without it); by name from the parent
    // does not, and the inode check below catches a name that moved meanwhile.
    if (errno != ENOENT || target->parent == nullptr) return Err(errno);
    if (::linkat(target->parent->fd.get(), target->name.c_str(), dir->fd.get(), req.name.c_str(),
                 0) < 0) {
      return Err(errno);
    }
  }
  NewName made = TRY(FinishNewName(dir, req.name, kKeepOwner, kKeepOwner));
  if (!SameFile(*made.node, *target)) {
    fids_.erase(made.fid);
    ::unlinkat(dir->fd.get(), req.name.c_str(), 0);
    return Err(ESTALE);
  }
  return LinkResponse{made.fid, made.stat};
}

Result<UnlinkResponse> Session::Handle(const UnlinkRequest& req) {
  auto dir = TRY(WritableDir(req.dir));
  TRY(ValidateName(req.name));
  if ((req.flags & ~static_cast<uint32_t>(AT_REMOVEDIR)) != 0) return Err(EINVAL);
  if (::unlinkat(dir->fd.get(), req.name.c_str(), static_cast<int>(req.flags)) < 0) {
    return Err(errno);
  }
  return UnlinkResponse{};
}

Result<RenameResponse> Session::Handle(const RenameRequest& req) {
  auto old_dir = TRY(WritableDir(req.old_dir));
  auto new_dir = TRY(WritableDir(req.new_dir));
  TRY(ValidateName(req.old_name));
  TRY(ValidateName(req.new_name));
  if ((req.flags & ~static_cast<uint32_t>(RENAME_NOREPLACE | RENAME_EXCHANGE)) != 0) {
    return Err(EINVAL);
  }
  if (old_dir->tree != new_dir->tree) return Err(EXDEV);
  // The raw syscall: glibc turns flags == 0 into renameat, which the filter does not allow.
  if (::syscall(SYS_renameat2, old_dir->fd.get(), req.old_name.c_str(), new_dir->fd.get(),
                req.new_name.c_str(), req.flags) < 0) {
    return Err(errno);
  }
  Renamed(old_dir, req.old_name, new_dir, req.new_name, (req.flags & RENAME_EXCHANGE) != 0);
  return RenameResponse{};
}

void Session::Renamed(const std::shared_ptr<Node>& old_dir, const std::string& old_name,
                      const std::shared_ptr<Node>& new_dir, const std::string& new_name,
                      bool exchange) {
  // Nodes are shared between fids: collect first, then update, so that no node is moved twice.
  std::vector<Node*> moved, swapped;
  for (auto& [fid, state] : fids_) {
    Node* n = state.node.get();
    if (n->parent == nullptr) continue;
    if (SameFile(*n->parent, *old_dir) && n->name == old_name) {
      moved.push_back(n);
    } else if (exchange && SameFile(*n->parent, *new_dir) && n->name == new_name) {
      swapped.push_back(n);
    }
  }
  for (Node* n : moved) {
    n->parent = new_dir;
    n->name = new_name;
  }
  for (Node* n : swapped) {
    n->parent = old_dir;
    n->name = old_name;
  }
}

Result<ReadlinkResponse> Session::Handle(const ReadlinkRequest& req) {
  auto node = TRY(LookupNode(req.fid));
  if (!node->is_symlink()) return Err(EINVAL);
  char buf[kMaxSymlinkLength + 1];
  ssize_t n = ::readlinkat(node->fd.get(), "", buf, sizeof(buf));
  if (n < 0) return Err(errno);
  return ReadlinkResponse{std::string(buf, static_cast<size_t>(n))};
}

Result<SetStatResponse> Session::Handle(const SetStatRequest& req) {
  auto node = TRY(LookupNode(req.fid));
  if ((req.mask & ~static_cast<uint32_t>(kSetAll)) != 0) return Err(EINVAL);
  if (req.mask != 0 && read_only(*node)) return Err(EROFS);
  // Owner before mode, so that a setuid bit set by this request survives the chown; size
  // before times, so that truncation does not overwrite the requested mtime.
  if ((req.mask & (kSetUid | kSetGid)) != 0) {
    uid_t uid = (req.mask & kSetUid) != 0 ? req.uid : static_cast<uid_t>(-1);
    gid_t gid = (req.mask & kSetGid) != 0 ? req.gid : static_cast<gid_t>(-1);
    TRY(ChownNode(*node, uid, gid));
  }
  if ((req.mask & kSetMode) != 0) TRY(ChmodNode(*node, req.mode & 07777));
  if ((req.mask & kSetSize) != 0) {
    if (node->is_dir()) return Err(EISDIR);
    if (!node->is_regular()) return Err(EINVAL);
    if (req.size > static_cast<uint64_t>(std::numeric_limits<off_t>::max())) return Err(EINVAL);
    FileDescriptor fd = TRY(Reopen(*node, O_WRONLY | O_NONBLOCK));
    if (::ftruncate(fd.get(), static_cast<off_t>(req.size)) < 0) return Err(errno);
  }
  if ((req.mask & (kSetAtime | kSetMtime)) != 0) {
    struct timespec times[2] = {{0, UTIME_OMIT}, {0, UTIME_OMIT}};
    if ((req.mask & kSetAtime) != 0) times[0] = {req.atime.sec, req.atime.nsec};
    if ((req.mask & kSetMtime) != 0) times[1] = {req.mtime.sec, req.mtime.nsec};
    TRY(UtimensNode(*node, times));
  }
  return SetStatResponse{TRY(StatNode(*node))};
}

Result<StatFsResponse> Session::Handle(const StatFsRequest& req) {
  auto node = TRY(LookupNode(req.fid));
  struct statfs st;
  if (::fstatfs(node->fd.get(), &st) < 0) return Err(errno);
  return StatFsResponse{ToWire(st)};
}

Result<GetdentsResponse> Session::Handle(const GetdentsRequest& req) {
  FidState* state = TRY(Lookup(req.fid));
  const Node& node = *state->node;
  if (!node.is_dir()) return Err(ENOTDIR);
  if (req.count == 0 || req.count > kMaxGetdentsCount) return Err(EINVAL);
  if (req.offset > static_cast<uint64_t>(std::numeric_limits<off_t>::max())) return Err(EINVAL);
  if (!state->dir.valid()) state->dir = TRY(Reopen(node, O_RDONLY));
  int dirfd = state->dir.get();
  // Every call seeks to the client's cookie, so stopping mid-buffer loses nothing.
  if (::lseek(dirfd, static_cast<off_t>(req.offset), SEEK_SET) < 0) return Err(errno);

  GetdentsResponse resp;
  size_t budget = kMaxMessageSize - kHeaderSize - sizeof(uint32_t);
  alignas(8) char buf[16 * 1024];
  constexpr size_t kNameOffset = offsetof(struct dirent64, d_name);
  while (resp.entries.size() < req.count) {
    ssize_t n = ::getdents64(dirfd, buf, sizeof(buf));
    if (n < 0) return Err(errno);
    if (n == 0) break;
    bool full = false;
    for (size_t pos = 0; pos < static_cast<size_t>(n);) {
      const auto* d = reinterpret_cast<const struct dirent64*>(buf + pos);
      size_t reclen = d->d_reclen;
      if (reclen <= kNameOffset || reclen > static_cast<size_t>(n) - pos) return Err(EIO);
      std::string name(d->d_name, strnlen(d->d_name, reclen - kNameOffset));
      pos += reclen;
      // "." and ".." belong to the client's tree (".." of an attach point is outside ours).
      if (name == "." || name == "..") continue;
      size_t size = 2 * sizeof(uint64_t) + sizeof(uint8_t) + sizeof(uint32_t) + name.size();
      if (size > budget || resp.entries.size() == req.count) {
        full = true;
        break;
      }
      budget -= size;
      resp.entries.push_back(
          Dirent{d->d_ino, static_cast<uint64_t>(d->d_off), d->d_type, std::move(name)});
    }
    if (full) break;
  }
  return resp;
}

Result<FsyncResponse> Session::Handle(const FsyncRequest& req) {
  auto node = TRY(LookupNode(req.fid));
  if ((req.flags & ~static_cast<uint32_t>(kFsyncDataOnly)) != 0) return Err(EINVAL);
  if (!node->is_dir() && !node->is_regular()) return Err(EINVAL);
  FileDescriptor fd = TRY(Reopen(*node, O_RDONLY | O_NONBLOCK));
  int r = (req.flags & kFsyncDataOnly) != 0 ? ::fdatasync(fd.get()) : ::fsync(fd.get());
  if (r < 0) return Err(errno);
  return FsyncResponse{};
}

Result<CloseResponse> Session::Handle(const CloseRequest& req) {
  bool unknown = false;
  for (Fid fid : req.fids) unknown |= fids_.erase(fid) == 0;
  if (unknown) return Err(EBADF);
  return CloseResponse{};
}

}  // namespace gofer
