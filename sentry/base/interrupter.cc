#include "sentry/base/interrupter.h"

namespace sentry {
namespace {
thread_local Interrupter* current_interrupter = nullptr;
}  // namespace

Interrupter* CurrentInterrupter() { return current_interrupter; }
void SetCurrentInterrupter(Interrupter* i) { current_interrupter = i; }

}  // namespace sentry
