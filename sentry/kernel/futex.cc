#include "sentry/kernel/futex.h"

#include <linux/futex.h>

#include <atomic>

#include "sentry/base/interrupter.h"
#include "sentry/platform/platform.h"

namespace sentry::kernel {
namespace {

std::atomic_ref<uint32_t> Word(uint32_t* p) { return std::atomic_ref<uint32_t>(*p); }

int32_t SignExtend12(uint32_t v) { return static_cast<int32_t>(v << 20) >> 20; }

}  // namespace

Result<FutexRef> ResolveFutex(mm::MemoryManager& mm, UserAddr addr, bool private_op,
                              uint8_t access) {
  if (addr.value % sizeof(uint32_t) != 0) return Err(EINVAL);
  FutexRef ref{FutexKey{reinterpret_cast<uint64_t>(&mm), addr.value}, nullptr};
  if (private_op && access == platform::kAccessNone) return ref;
  uint8_t need = access == platform::kAccessNone ? uint8_t{platform::kAccessRead} : access;
  auto w = TRY(mm.LookupFutexWord(addr, need));
  ref.word = w.ptr;
  if (!private_op && w.shared_offset) ref.key = FutexKey{0, *w.shared_offset};
  return ref;
}

void FutexTable::RemoveLocked(const std::shared_ptr<Waiter>& w) {
  auto it = queues_.find(w->key);
  if (it == queues_.end()) return;
  it->second.remove(w);
  if (it->second.empty()) queues_.erase(it);
}

bool FutexTable::HasWaitersLocked(const FutexKey& key) { return queues_.contains(key); }

int FutexTable::BlockLocked(const std::shared_ptr<Waiter>& w, std::optional<absl::Time> deadline) {
  queues_[w->key].push_back(w);
  // The wake-up keeps the waiter alive: it may run after this wait has ended.
  ScopedArm arm(CurrentInterrupter(), [this, w] {
    absl::MutexLock l(&mu_);
    w->cv.Signal();
  });
  int err = 0;
  while (!w->woken) {
    if (arm.Interrupted()) {
      err = EINTR;
      break;
    }
    if (deadline) {
      if (w->cv.WaitWithDeadline(&mu_, *deadline) && !w->woken && absl::Now() >= *deadline) {
        err = ETIMEDOUT;
        break;
      }
    } else {
      w->cv.Wait(&mu_);
    }
  }
  if (w->woken) return 0;
  RemoveLocked(w);
  return err;
}

Result<uint64_t> FutexTable::Wait(const FutexRef& f, uint32_t expected, uint32_t bitset,
                                  std::optional<absl::Time> deadline) {
  auto w = std::make_shared<Waiter>();
  w->key = f.key;
  w->bitset = bitset;
  absl::MutexLock lock(&mu_);
  // Read under the table lock, which every waker takes: a wake after the application changed
  // the word cannot fall between this check and the sleep.
  if (Word(f.word).load() != expected) return Err(EAGAIN);
  if (int err = BlockLocked(w, deadline); err != 0) return Err(err);
  return 0;
}

int FutexTable::WakeLocked(const FutexKey& key, int n, uint32_t bitset) {
  auto it = queues_.find(key);
  if (it == queues_.end()) return 0;
  int woken = 0;
  Queue& q = it->second;
  for (auto w = q.begin(); w != q.end();) {
    if (!((*w)->bitset & bitset)) {
      ++w;
      continue;
    }
    (*w)->woken = true;
    (*w)->cv.Signal();
    w = q.erase(w);
    // As Linux, a count of 0 (or less) still wakes one.
    if (++woken >= n) break;
  }
  if (q.empty()) queues_.erase(it);
  return woken;
}

Result<uint64_t> FutexTable::Wake(const FutexKey& key, int n, uint32_t bitset) {
  absl::MutexLock lock(&mu_);
  if (auto it = queues_.find(key); it != queues_.end()) {
    for (auto& w : it->second) {
      if (w->word != nullptr && (w->bitset & bitset)) return Err(EINVAL);  // a PI waiter
    }
  }
  return WakeLocked(key, n, bitset);
}

void FutexTable::WakeOne(mm::MemoryManager& mm, UserAddr addr) {
  auto f = ResolveFutex(mm, addr, /*private_op=*/false, platform::kAccessNone);
  if (!f) return;
  absl::MutexLock lock(&mu_);
  WakeLocked(f->key, 1, FUTEX_BITSET_MATCH_ANY);
}

Result<uint64_t> FutexTable::Requeue(const FutexRef& from, const FutexKey& to, int nr_wake,
                                     int nr_requeue, std::optional<uint32_t> cmp) {
  if (nr_wake < 0 || nr_requeue < 0) return Err(EINVAL);
  absl::MutexLock lock(&mu_);
  if (cmp && Word(from.word).load() != *cmp) return Err(EAGAIN);
  auto it = queues_.find(from.key);
  if (it == queues_.end()) return 0;
  for (auto& w : it->second) {
    if (w->word != nullptr) return Err(EINVAL);  // PI waiters move only with REQUEUE_PI
  }
  Queue& q = it->second;
  int woken = 0, moved = 0;
  while (!q.empty() && woken < nr_wake) {
    auto w = q.front();
    q.pop_front();
    w->woken = true;
    w->cv.Signal();
    ++woken;
  }
  Queue moving;
  if (from.key == to) {
    moved = std::min<int>(nr_requeue, static_cast<int>(q.size()));  // they stay where they are
  } else {
    while (!q.empty() && moved < nr_requeue) {
      moving.push_back(q.front());
      moving.back()->key = to;
      q.pop_front();
      ++moved;
    }
  }
  if (q.empty()) queues_.erase(it);
  // Inserting may rehash the table: `q` and `it` are not used after this.
  if (!moving.empty()) {
    Queue& dest = queues_[to];
    dest.splice(dest.end(), moving);
  }
  return static_cast<uint64_t>(woken) + static_cast<uint64_t>(moved);
}

Result<uint64_t> FutexTable::WakeOp(const FutexKey& first, const FutexRef& second, int nr_wake,
                                    int nr_wake2, uint32_t encoded_op) {
  uint32_t op = (encoded_op >> 28) & 7;
  uint32_t cmp = (encoded_op >> 24) & 15;
  int32_t oparg = SignExtend12((encoded_op >> 12) & 0xfff);
  int32_t cmparg = SignExtend12(encoded_op & 0xfff);
  if (encoded_op & (static_cast<uint32_t>(FUTEX_OP_OPARG_SHIFT) << 28)) {
    oparg = static_cast<int32_t>(1U << (oparg & 31));  // Linux masks a bad shift the same way
  }
  if (op > FUTEX_OP_XOR) return Err(ENOSYS);
  absl::MutexLock lock(&mu_);
  auto word = Word(second.word);
  uint32_t old = word.load();
  uint32_t arg = static_cast<uint32_t>(oparg);
  while (true) {
    uint32_t next = 0;
    switch (op) {
      case FUTEX_OP_SET:
        next = arg;
        break;
      case FUTEX_OP_ADD:
        next = old + arg;
        break;
      case FUTEX_OP_OR:
        next = old | arg;
        break;
      case FUTEX_OP_ANDN:
        next = old & ~arg;
        break;
      case FUTEX_OP_XOR:
        next = old ^ arg;
        break;
    }
    if (word.compare_exchange_weak(old, next)) break;
  }
  int32_t o = static_cast<int32_t>(old);
  bool hit;
  switch (cmp) {
    case FUTEX_OP_CMP_EQ:
      hit = o == cmparg;
      break;
    case FUTEX_OP_CMP_NE:
      hit = o != cmparg;
      break;
    case FUTEX_OP_CMP_LT:
      hit = o < cmparg;
      break;
    case FUTEX_OP_CMP_LE:
      hit = o <= cmparg;
      break;
    case FUTEX_OP_CMP_GT:
      hit = o > cmparg;
      break;
    case FUTEX_OP_CMP_GE:
      hit = o >= cmparg;
      break;
    default:
      return Err(ENOSYS);  // the word was changed all the same, as on Linux
  }
  uint64_t woken = WakeLocked(first, nr_wake, FUTEX_BITSET_MATCH_ANY);
  if (hit) woken += WakeLocked(second.key, nr_wake2, FUTEX_BITSET_MATCH_ANY);
  return woken;
}

Result<uint64_t> FutexTable::LockPi(const FutexRef& f, pid_t tid,
                                    std::optional<absl::Time> deadline, bool trylock,
                                    absl::FunctionRef<bool(pid_t)> alive) {
  auto word = Word(f.word);
  absl::MutexLock lock(&mu_);
  uint32_t cur = word.load();
  while (true) {
    uint32_t owner = cur & FUTEX_TID_MASK;
    if (owner == static_cast<uint32_t>(tid)) return Err(EDEADLK);
    if (owner == 0) {
      // Free (perhaps marked by a dead owner's robust list, which the new owner must see).
      uint32_t next = static_cast<uint32_t>(tid) | (cur & FUTEX_OWNER_DIED) |
                      (HasWaitersLocked(f.key) ? FUTEX_WAITERS : 0);
      if (word.compare_exchange_weak(cur, next)) return 0;
      continue;
    }
    if (!alive(static_cast<pid_t>(owner))) return Err(ESRCH);
    if (trylock) return Err(EAGAIN);
    if (cur & FUTEX_WAITERS) break;
    if (word.compare_exchange_weak(cur, cur | FUTEX_WAITERS)) break;
  }
  auto w = std::make_shared<Waiter>();
  w->key = f.key;
  w->tid = tid;
  w->word = f.word;
  if (int err = BlockLocked(w, deadline); err != 0) return Err(err);
  return 0;  // the unlocker wrote our TID into the word
}

bool FutexTable::HandOverPiLocked(const FutexKey& key, uint32_t* word, uint32_t keep_bits) {
  auto it = queues_.find(key);
  if (it == queues_.end()) return false;
  Queue& q = it->second;
  auto pos = std::find_if(q.begin(), q.end(), [](auto& w) { return w->word != nullptr; });
  if (pos == q.end()) return false;
  std::shared_ptr<Waiter> next = *pos;
  q.erase(pos);
  if (q.empty()) queues_.erase(it);
  // As Linux, the new owner's word always says there may be waiters: its unlock comes here.
  uint32_t value = static_cast<uint32_t>(next->tid) | FUTEX_WAITERS;
  auto w = Word(word);
  uint32_t cur = w.load();
  while (!w.compare_exchange_weak(cur, value | (cur & keep_bits))) {
  }
  next->woken = true;
  next->cv.Signal();
  return true;
}

Result<uint64_t> FutexTable::UnlockPi(const FutexRef& f, pid_t tid) {
  auto word = Word(f.word);
  absl::MutexLock lock(&mu_);
  uint32_t cur = word.load();
  if ((cur & FUTEX_TID_MASK) != static_cast<uint32_t>(tid)) return Err(EPERM);
  if (HandOverPiLocked(f.key, f.word, 0)) return 0;
  while (!word.compare_exchange_weak(cur, 0)) {
    if ((cur & FUTEX_TID_MASK) != static_cast<uint32_t>(tid)) return Err(EPERM);
  }
  return 0;
}

bool FutexTable::OwnerDied(const FutexRef& f, pid_t tid, bool pi, bool pending) {
  auto word = Word(f.word);
  absl::MutexLock lock(&mu_);
  uint32_t cur = word.load();
  // A lock being taken when the thread died, not yet ours: a waiter may have been about to be
  // woken by us, so wake one anyway (Linux does the same).
  if (pending && !pi && cur == 0) {
    WakeLocked(f.key, 1, FUTEX_BITSET_MATCH_ANY);
    return true;
  }
  while (true) {
    if ((cur & FUTEX_TID_MASK) != static_cast<uint32_t>(tid)) return true;
    uint32_t next = (cur & FUTEX_WAITERS) | FUTEX_OWNER_DIED;
    if (word.compare_exchange_weak(cur, next)) break;
  }
  if (pi) {
    HandOverPiLocked(f.key, f.word, FUTEX_OWNER_DIED);
  } else if (cur & FUTEX_WAITERS) {
    WakeLocked(f.key, 1, FUTEX_BITSET_MATCH_ANY);
  }
  return true;
}

void FutexTable::ReleasePiLocksOf(pid_t tid) {
  absl::MutexLock lock(&mu_);
  std::vector<std::pair<FutexKey, uint32_t*>> owned;
  for (auto& [key, q] : queues_) {
    for (auto& w : q) {
      if (w->word == nullptr) continue;
      if ((Word(w->word).load() & FUTEX_TID_MASK) == static_cast<uint32_t>(tid)) {
        owned.emplace_back(key, w->word);
      }
      break;
    }
  }
  for (auto& [key, word] : owned) HandOverPiLocked(key, word, FUTEX_OWNER_DIED);
}

}  // namespace sentry::kernel
