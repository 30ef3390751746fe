#include "sentry/kernel/ipc/sem.h"

#include <sys/stat.h>

#include <algorithm>

#include "sentry/base/interrupter.h"
#include "sentry/kernel/task.h"

namespace sentry::kernel::ipc {

seminfo SemRegistry::Limits() {
  seminfo info{};
  info.semmap = kSemMns;  // as Linux fills it
  info.semmni = kSemMni;
  info.semmns = kSemMns;
  info.semmsl = kSemMsl;
  info.semopm = kSemOpm;
  info.semume = kSemOpm;
  info.semusz = 20;  // sizeof(struct sem_undo) in Linux, reported as is
  info.semvmx = kSemVmx;
  info.semaem = kSemAem;
  return info;
}

Result<int> SemRegistry::Get(Task& task, key_t key, int nsems, int flags) {
  if (nsems < 0 || nsems > kSemMsl) return Err(EINVAL);
  Caller caller = CallerOf(task);
  absl::MutexLock lock(&mu_);
  auto check = [&](SemSet& set) -> Result<void> {
    if (static_cast<size_t>(nsems) > set.sems.size()) return Err(EINVAL);
    return {};
  };
  auto make = [&]() -> Result<std::shared_ptr<SemSet>> {
    if (nsems == 0) return Err(EINVAL);
    if (total_sems_ + nsems > kSemMns) return Err(ENOSPC);
    if (table_.size() >= static_cast<size_t>(kSemMni)) return Err(ENOSPC);
    auto set = std::make_shared<SemSet>();
    set->sems.resize(nsems);
    set->ctime = NowSeconds();
    total_sems_ += nsems;
    return set;
  };
  return GetObject(table_, key, flags, caller, check, make);
}

Result<SemRegistry::Outcome> SemRegistry::TryOps(SemSet& set, const std::vector<sembuf>& ops,
                                                 pid_t tgid, size_t* blocking) {
  std::vector<int> values(set.sems.size());
  for (size_t i = 0; i < values.size(); ++i) values[i] = set.sems[i].value;
  std::vector<int>* undo = nullptr;
  std::vector<int> adjust;
  if (std::ranges::any_of(ops, [](const sembuf& op) { return op.sem_flg & SEM_UNDO; })) {
    auto& per_set = undo_[tgid];
    auto [it, fresh] = per_set.try_emplace(set.perm.id);
    if (fresh) it->second.assign(set.sems.size(), 0);
    undo = &it->second;
    adjust = *undo;
  }
  for (size_t i = 0; i < ops.size(); ++i) {
    const sembuf& op = ops[i];
    int current = values[op.sem_num];
    int result = current + op.sem_op;
    if ((op.sem_op == 0 && current != 0) || result < 0) {
      if (op.sem_flg & IPC_NOWAIT) return Err(EAGAIN);
      *blocking = i;
      return Outcome::kBlocked;
    }
    if (result > kSemVmx) return Err(ERANGE);
    if (op.sem_flg & SEM_UNDO) {
      int adj = adjust[op.sem_num] - op.sem_op;
      if (adj < -kSemAem - 1 || adj > kSemAem) return Err(ERANGE);
      adjust[op.sem_num] = adj;
    }
    values[op.sem_num] = result;
  }
  for (const sembuf& op : ops) {
    set.sems[op.sem_num].value = values[op.sem_num];
    set.sems[op.sem_num].pid = tgid;
  }
  if (undo != nullptr) *undo = std::move(adjust);
  set.otime = NowSeconds();
  return Outcome::kDone;
}

Result<uint64_t> SemRegistry::Op(Task& task, int id, const std::vector<sembuf>& ops,
                                 std::optional<absl::Time> deadline) {
  Caller caller = CallerOf(task);
  unsigned max_num = 0;
  bool alter = false;
  for (const sembuf& op : ops) {
    max_num = std::max<unsigned>(max_num, op.sem_num);
    if (op.sem_op != 0) alter = true;
  }
  absl::MutexLock lock(&mu_);
  std::shared_ptr<SemSet> set = TRY(table_.Find(id));
  if (max_num >= set->sems.size()) return Err(EFBIG);
  if (!MayAccess(set->perm, caller, alter ? kMayWrite : kMayRead)) return Err(EACCES);
  ScopedArm arm(CurrentInterrupter(), [this] {
    absl::MutexLock l(&mu_);
    changed_.SignalAll();
  });
  for (;;) {
    size_t blocking = 0;
    Outcome outcome = TRY(TryOps(*set, ops, caller.tgid, &blocking));
    if (outcome == Outcome::kDone) {
      if (alter) changed_.SignalAll();
      return 0;
    }
    // semop is never restarted after a signal, with or without SA_RESTART (signal(7)).
    if (arm.Interrupted()) return Err(EINTR);
    auto entry = set->blocked.insert(set->blocked.end(), ops[blocking]);
    bool timed_out = false;
    if (deadline) {
      timed_out = changed_.WaitWithDeadline(&mu_, *deadline);
    } else {
      changed_.Wait(&mu_);
    }
    set->blocked.erase(entry);
    if (set->removed) return Err(EIDRM);
    if (timed_out) {
      // A change that came with the deadline still counts.
      outcome = TRY(TryOps(*set, ops, caller.tgid, &blocking));
      if (outcome == Outcome::kDone) {
        if (alter) changed_.SignalAll();
        return 0;
      }
      return Err(EAGAIN);
    }
  }
}

void SemRegistry::ClearUndoLocked(int id, int num) {
  for (auto& [tgid, per_set] : undo_) {
    auto it = per_set.find(id);
    if (it == per_set.end()) continue;
    if (num < 0) {
      std::ranges::fill(it->second, 0);
    } else if (static_cast<size_t>(num) < it->second.size()) {
      it->second[num] = 0;
    }
  }
}

void SemRegistry::RemoveLocked(SemSet& set) {
  set.removed = true;
  total_sems_ -= static_cast<int64_t>(set.sems.size());
  for (auto& [tgid, per_set] : undo_) per_set.erase(set.perm.id);
  table_.Remove(set);
  changed_.SignalAll();
}

void SemRegistry::ExitProcess(pid_t tgid) {
  absl::MutexLock lock(&mu_);
  auto it = undo_.find(tgid);
  if (it == undo_.end()) return;
  for (const auto& [id, adjust] : it->second) {
    auto set = table_.Find(id);
    if (!set) continue;
    for (size_t i = 0; i < adjust.size() && i < (*set)->sems.size(); ++i) {
      if (adjust[i] == 0) continue;
      Semaphore& sem = (*set)->sems[i];
      sem.value = std::clamp(sem.value + adjust[i], 0, kSemVmx);
      sem.pid = tgid;
    }
    (*set)->otime = NowSeconds();
  }
  undo_.erase(it);
  changed_.SignalAll();
}

semid64_ds SemRegistry::StatLocked(const SemSet& set) const {
  semid64_ds ds{};
  ds.sem_perm = set.perm.ToUser();
  ds.sem_otime = set.otime;
  ds.sem_ctime = set.ctime;
  ds.sem_nsems = set.sems.size();
  return ds;
}

Result<uint64_t> SemRegistry::Control(Task& task, int id, int num, int cmd, uint64_t arg) {
  if (id < 0) return Err(EINVAL);
  Caller caller = CallerOf(task);
  mm::MemoryManager& mm = task.mm();
  UserAddr buf(arg);
  switch (cmd) {
    case IPC_INFO:
    case SEM_INFO: {
      seminfo info = Limits();
      int max_index;
      {
        absl::MutexLock lock(&mu_);
        if (cmd == SEM_INFO) {
          info.semusz = static_cast<int>(table_.size());
          info.semaem = static_cast<int>(total_sems_);
        }
        max_index = table_.MaxIndex();
      }
      TRY(mm.CopyOutObject(buf, info));
      return max_index;
    }
    case IPC_STAT:
    case SEM_STAT:
    case SEM_STAT_ANY: {
      semid64_ds ds;
      int result = 0;
      {
        absl::MutexLock lock(&mu_);
        std::shared_ptr<SemSet> set = TRY(cmd == IPC_STAT ? table_.Find(id) : table_.AtIndex(id));
        if (cmd != SEM_STAT_ANY && !MayAccess(set->perm, caller, kMayRead)) return Err(EACCES);
        ds = StatLocked(*set);
        if (cmd != IPC_STAT) result = set->perm.id;
      }
      TRY(mm.CopyOutObject(buf, ds));
      return result;
    }
    case IPC_SET: {
      semid64_ds in = TRY(mm.CopyInObject<semid64_ds>(buf));
      absl::MutexLock lock(&mu_);
      std::shared_ptr<SemSet> set = TRY(table_.Find(id));
      if (!MayChange(set->perm, caller)) return Err(EPERM);
      SetFromUser(set->perm, in.sem_perm);
      set->ctime = NowSeconds();
      return 0;
    }
    case IPC_RMID: {
      absl::MutexLock lock(&mu_);
      std::shared_ptr<SemSet> set = TRY(table_.Find(id));
      if (!MayChange(set->perm, caller)) return Err(EPERM);
      RemoveLocked(*set);
      return 0;
    }
    case GETVAL:
    case GETPID:
    case GETNCNT:
    case GETZCNT: {
      absl::MutexLock lock(&mu_);
      std::shared_ptr<SemSet> set = TRY(table_.Find(id));
      if (!MayAccess(set->perm, caller, kMayRead)) return Err(EACCES);
      if (num < 0 || static_cast<size_t>(num) >= set->sems.size()) return Err(EINVAL);
      if (cmd == GETVAL) return set->sems[num].value;
      if (cmd == GETPID) return set->sems[num].pid;
      return std::ranges::count_if(set->blocked, [&](const sembuf& op) {
        return op.sem_num == num && (cmd == GETZCNT ? op.sem_op == 0 : op.sem_op < 0);
      });
    }
    case GETALL: {
      std::vector<unsigned short> values;
      {
        absl::MutexLock lock(&mu_);
        std::shared_ptr<SemSet> set = TRY(table_.Find(id));
        if (!MayAccess(set->perm, caller, kMayRead)) return Err(EACCES);
        for (const Semaphore& s : set->sems) values.push_back(static_cast<unsigned short>(s.value));
      }
      TRY(mm.CopyOut(buf, values.data(), values.size() * sizeof(unsigned short)));
      return 0;
    }
    case SETVAL: {
      // union semun by value: the int is the low half of the register.
      int value = static_cast<int>(static_cast<uint32_t>(arg));
      if (value < 0 || value > kSemVmx) return Err(ERANGE);
      absl::MutexLock lock(&mu_);
      std::shared_ptr<SemSet> set = TRY(table_.Find(id));
      if (num < 0 || static_cast<size_t>(num) >= set->sems.size()) return Err(EINVAL);
      if (!MayAccess(set->perm, caller, kMayWrite)) return Err(EACCES);
      set->sems[num] = Semaphore{value, caller.tgid};
      ClearUndoLocked(id, num);
      set->ctime = NowSeconds();
      changed_.SignalAll();
      return 0;
    }
    case SETALL: {
      size_t nsems;
      {
        absl::MutexLock lock(&mu_);
        std::shared_ptr<SemSet> set = TRY(table_.Find(id));
        nsems = set->sems.size();
      }
      std::vector<unsigned short> values(nsems);
      TRY(mm.CopyIn(buf, values.data(), nsems * sizeof(unsigned short)));
      absl::MutexLock lock(&mu_);
      std::shared_ptr<SemSet> set = TRY(table_.Find(id));
      if (set->sems.size() != nsems) return Err(EIDRM);
      if (!MayAccess(set->perm, caller, kMayWrite)) return Err(EACCES);
      if (std::ranges::any_of(values, [](unsigned short v) { return v > kSemVmx; })) {
        return Err(ERANGE);
      }
      for (size_t i = 0; i < nsems; ++i) set->sems[i] = Semaphore{values[i], caller.tgid};
      ClearUndoLocked(id, -1);
      set->ctime = NowSeconds();
      changed_.SignalAll();
      return 0;
    }
    default:
      return Err(EINVAL);
  }
}

}  // namespace sentry::kernel::ipc
