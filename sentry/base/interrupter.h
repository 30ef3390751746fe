// Cutting a blocking wait short. Each task owns an Interrupter: its thread group exiting (and,
// later, a signal) interrupts it. Code that sleeps on behalf of a task (a pipe, a futex, wait4,
// nanosleep) arms the current one with a callback that wakes the sleep, checks Interrupted()
// before every sleep, and disarms it when it stops waiting. Whoever interrupts first makes
// Interrupted() true and then calls the armed callback.
//
// Contract, so that neither side can deadlock the other: Arm and Disarm are called with the
// waiter's lock held and may take only the interrupter's own short lock; the interrupter calls
// the callback with none of its locks held (copy it out first). The callback may run after
// Disarm, or after the wait has ended: it only wakes, and keeps alive what it touches.
#pragma once

#include <functional>

namespace sentry {

class Interrupter {
 public:
  virtual ~Interrupter() = default;
  virtual bool Interrupted() = 0;
  virtual void Arm(std::function<void()> wake) = 0;
  virtual void Disarm() = 0;
};

// The interrupter of the task the calling host thread runs, or null outside any task. Lower
// layers (file systems) find it here without knowing about tasks.
Interrupter* CurrentInterrupter();
void SetCurrentInterrupter(Interrupter* i);

// Arms `i` (which may be null) for the duration of a wait.
class ScopedArm {
 public:
  ScopedArm(Interrupter* i, std::function<void()> wake) : i_(i) {
    if (i_ != nullptr) i_->Arm(std::move(wake));
  }
  ~ScopedArm() {
    if (i_ != nullptr) i_->Disarm();
  }
  ScopedArm(const ScopedArm&) = delete;
  ScopedArm& operator=(const ScopedArm&) = delete;
  bool Interrupted() const { return i_ != nullptr && i_->Interrupted(); }

 private:
  Interrupter* i_;
};

}  // namespace sentry
