// A Session is the gofer's state for one client connection: its fid table and the handlers of
// every request. It knows nothing of sockets (gofer_server.cc moves the bytes), so several
// connections can each have a Session over the same trees.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <tuple>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "gofer/node.h"
#include "gofer/proto/messages.h"

namespace gofer {

// An attach point: the served root or one of the extra mounts.
struct Tree {
  std::shared_ptr<Node> root;
  bool read_only = false;
};

class Session {
 public:
  explicit Session(std::vector<Tree> trees) : trees_(std::move(trees)) {}

  Result<AttachResponse> Handle(const AttachRequest& req);
  Result<WalkResponse> Handle(const WalkRequest& req);
  Result<StatResponse> Handle(const StatRequest& req);
  Result<OpenResponse> Handle(const OpenRequest& req);
  Result<CreateResponse> Handle(const CreateRequest& req);
  Result<MkdirResponse> Handle(const MkdirRequest& req);
  Result<MknodResponse> Handle(const MknodRequest& req);
  Result<SymlinkResponse> Handle(const SymlinkRequest& req);
  Result<LinkResponse> Handle(const LinkRequest& req);
  Result<UnlinkResponse> Handle(const UnlinkRequest& req);
  Result<RenameResponse> Handle(const RenameRequest& req);
  Result<ReadlinkResponse> Handle(const ReadlinkRequest& req);
  Result<SetStatResponse> Handle(const SetStatRequest& req);
  Result<StatFsResponse> Handle(const StatFsRequest& req);
  Result<GetdentsResponse> Handle(const GetdentsRequest& req);
  Result<FsyncResponse> Handle(const FsyncRequest& req);
  Result<CloseResponse> Handle(const CloseRequest& req);

  size_t fid_count() const { return fids_.size(); }

 private:
  struct FidState {
    std::shared_ptr<Node> node;
    FileDescriptor dir;  // opened on the first Getdents; its offset is this fid's
  };

  Result<FidState*> Lookup(Fid fid);
  Result<std::shared_ptr<Node>> LookupNode(Fid fid);
  // A directory fid that a mutation may change: ENOTDIR, EROFS as they apply.
  Result<std::shared_ptr<Node>> WritableDir(Fid fid);
  Result<Fid> Allocate(std::shared_ptr<Node> node);
  // WalkOne, with directories shared: a directory is its inode whatever the path, so every walk
  // through /usr/lib uses one Node and one fd for it.
  Result<std::shared_ptr<Node>> Step(const std::shared_ptr<Node>& dir, const std::string& name,
                                     struct stat* st);
  struct NewName {
    Fid fid;
    Stat stat;
    std::shared_ptr<Node> node;
  };
  // Walks to a name just made in `dir`, gives it to uid:gid (unless kKeepOwner) and allocates
  // its fid. On failure the name is removed again, so a failed request leaves nothing behind.
  static constexpr uint32_t kKeepOwner = 0xffffffff;
  Result<NewName> FinishNewName(const std::shared_ptr<Node>& dir, const std::string& name,
                                uint32_t uid, uint32_t gid);
  bool read_only(const Node& node) const { return trees_[node.tree].read_only; }
  // Keeps the parent/name of walked nodes current after a rename through the gofer, so that
  // they can still be re-opened by name.
  void Renamed(const std::shared_ptr<Node>& old_dir, const std::string& old_name,
               const std::shared_ptr<Node>& new_dir, const std::string& new_name, bool exchange);

  std::vector<Tree> trees_;
  absl::flat_hash_map<Fid, FidState> fids_;
  // (tree, dev, ino) of directories some fid or file still holds; swept of dead entries as it
  // grows.
  absl::flat_hash_map<std::tuple<uint32_t, uint64_t, uint64_t>, std::weak_ptr<Node>> dirs_;
  size_t sweep_dirs_at_ = 1024;
  Fid next_fid_ = 0;  // so a fresh session's first Attach is fid 0
};

}  // namespace gofer
