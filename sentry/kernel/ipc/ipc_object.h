// What System V shared memory, semaphores and message queues have in common (Linux's
// ipc/util.c): keys and ids, struct ipc_perm, permission checks and the table of live objects
// of one kind in the sandbox's one IPC namespace.
#pragma once

#include <linux/ipc.h>
#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "sentry/base/errno.h"

namespace sentry::kernel {
class Task;
}

namespace sentry::kernel::ipc {

// Ids are seq * kSeqMultiplier + index, as Linux's (IPCMNI without ipcmni_extend).
inline constexpr int kSeqMultiplier = 32768;
inline constexpr int kSeqMax = INT32_MAX / kSeqMultiplier;

// Access asked of an object, as Linux's S_IRUGO/S_IWUGO/S_IXUGO.
inline constexpr int kMayRead = 0444;
inline constexpr int kMayWrite = 0222;
inline constexpr int kMayExec = 0111;

// Who is asking: the parts of a task's credentials IPC looks at.
struct Caller {
  uint32_t euid = 0;
  uint32_t egid = 0;
  std::vector<uint32_t> groups;
  uint64_t caps = 0;  // effective capabilities
  pid_t tgid = 0;
  bool Capable(int cap) const { return caps & (uint64_t{1} << cap); }
  bool InGroup(uint32_t gid) const;
};
Caller CallerOf(Task& task);

// struct kern_ipc_perm.
struct Perm {
  key_t key = IPC_PRIVATE;
  uint32_t uid = 0, gid = 0, cuid = 0, cgid = 0;
  uint32_t mode = 0;  // the low 9 bits, plus SHM_DEST / SHM_LOCKED for segments
  int id = 0;
  ipc64_perm ToUser() const;
};

// ipcperms(): may `caller` access an object with `perm` as `flag`'s rwx bits ask (any of the
// owner/group/other triplets of the 0777 mask)? CAP_IPC_OWNER passes every check.
bool MayAccess(const Perm& perm, const Caller& caller, int flag);
// IPC_SET and IPC_RMID: the owner, the creator, or CAP_SYS_ADMIN.
bool MayChange(const Perm& perm, const Caller& caller);
// IPC_SET: the caller's new owner and mode.
void SetFromUser(Perm& perm, const ipc64_perm& in);

int64_t NowSeconds();

// The live objects of one kind. T has a member `Perm perm`. Not locked: the kind's registry
// holds its own lock around every call.
template <class T>
class ObjectTable {
 public:
  explicit ObjectTable(int max_objects) : max_(max_objects) {}

  // The object with `id`; EINVAL for an id that names nothing (or a reused index).
  Result<std::shared_ptr<T>> Find(int id) const {
    if (id < 0) return Err(EINVAL);
    auto it = by_index_.find(id % kSeqMultiplier);
    if (it == by_index_.end() || it->second->perm.id != id) return Err(EINVAL);
    return it->second;
  }
  // By index (the *_STAT commands); EINVAL if none is there.
  Result<std::shared_ptr<T>> AtIndex(int index) const {
    auto it = by_index_.find(index);
    if (index < 0 || it == by_index_.end()) return Err(EINVAL);
    return it->second;
  }
  std::shared_ptr<T> FindKey(key_t key) const {
    auto it = by_key_.find(key);
    return it == by_key_.end() ? nullptr : by_index_.at(it->second);
  }
  // Gives `obj` an id (and its key a name, unless private); ENOSPC when the table is full.
  Result<void> Add(std::shared_ptr<T> obj) {
    if (static_cast<int>(by_index_.size()) >= max_) return Err(ENOSPC);
    int index = 0;
    while (by_index_.contains(index)) ++index;
    obj->perm.id = seq_ * kSeqMultiplier + index;
    seq_ = seq_ >= kSeqMax ? 0 : seq_ + 1;
    if (obj->perm.key != IPC_PRIVATE) by_key_[obj->perm.key] = index;
    by_index_[index] = std::move(obj);
    return {};
  }
  // Removes the object's key only: a segment marked for destruction keeps its id.
  void ForgetKey(T& obj) {
    if (obj.perm.key == IPC_PRIVATE) return;
    auto it = by_key_.find(obj.perm.key);
    if (it != by_key_.end() && by_index_.at(it->second).get() == &obj) by_key_.erase(it);
    obj.perm.key = IPC_PRIVATE;
  }
  void Remove(T& obj) {
    ForgetKey(obj);
    auto it = by_index_.find(obj.perm.id % kSeqMultiplier);
    if (it != by_index_.end() && it->second.get() == &obj) by_index_.erase(it);
  }
  int MaxIndex() const { return by_index_.empty() ? 0 : by_index_.rbegin()->first; }
  size_t size() const { return by_index_.size(); }
  auto begin() const { return by_index_.begin(); }
  auto end() const { return by_index_.end(); }

 private:
  int max_;
  int seq_ = 0;
  std::map<int, std::shared_ptr<T>> by_index_;
  std::map<key_t, int> by_key_;
};

// The shared part of shmget/semget/msgget (ipcget): an existing object by key (EEXIST with
// IPC_CREAT|IPC_EXCL, EACCES without the access `flags` asks for, `check` for the kind's own
// rules), or a new one from `make` (ENOENT without IPC_CREAT).
template <class T, class Check, class Make>
Result<int> GetObject(ObjectTable<T>& table, key_t key, int flags, const Caller& caller,
                      Check check, Make make) {
  std::shared_ptr<T> obj = key == IPC_PRIVATE ? nullptr : table.FindKey(key);
  if (obj == nullptr) {
    if (key != IPC_PRIVATE && !(flags & IPC_CREAT)) return Err(ENOENT);
    std::shared_ptr<T> made = TRY(make());
    made->perm.key = key;
    made->perm.uid = made->perm.cuid = caller.euid;
    made->perm.gid = made->perm.cgid = caller.egid;
    made->perm.mode = flags & 0777;
    TRY(table.Add(made));
    return made->perm.id;
  }
  if ((flags & IPC_CREAT) && (flags & IPC_EXCL)) return Err(EEXIST);
  if (!MayAccess(obj->perm, caller, flags)) return Err(EACCES);
  TRY(check(*obj));
  return obj->perm.id;
}

}  // namespace sentry::kernel::ipc
