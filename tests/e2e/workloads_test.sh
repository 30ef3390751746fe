#!/bin/bash
# e2e/workloads: real programs from the host, run in the sandbox and compared with a native run:
# python3's threads, subprocesses, signals and select; gcc compiling and running a program; and
# a set of stress-ng stressors (fork, futex, pipe, signals, timers) that must report no failure.
set -u
runsc=$(readlink -f "$1")
here=$(cd "$(dirname "$0")" && pwd)
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
sandbox() { timeout 120 "$runsc" do --platform=ptrace "$@"; }

want=$(/usr/bin/python3 "$here/workloads/python_processes.py" 2>&1)
got=$(sandbox /usr/bin/python3 "$here/workloads/python_processes.py" 2>&1)
[ "$want" = "$got" ] || { fail "python3 processes script differs"; diff <(echo "$want") <(echo "$got") | head -20; }

# gcc runs cc1, as and ld as children; the program it builds runs in the sandbox too. /tmp is
# the overlay's upper layer, so nothing reaches the host's /tmp.
out=/tmp/e2e-gcc-$$
got=$(cd "$here/workloads" && sandbox /bin/sh -c "gcc -O2 -o $out hello.c && $out one" 2>&1)
rc=$?
[ "$got" = "hello from a program compiled in the sandbox, argc=2" ] && [ $rc = 0 ] ||
  fail "gcc in the sandbox: rc=$rc, printed '$got'"
[ ! -e "$out" ] || { rm -f "$out"; fail "the sandbox's gcc output reached the host's /tmp"; }

# Ten stressors at once: stress-ng reports a stressor it could not run as skipped, and a failed
# check as a failure; either is a failure here.
stressors=(--fork 1 --vfork 1 --futex 1 --pipe 1 --kill 1 --sigq 1 --sigsuspend 1 --timer 1
  --clock 1 --poll 1)
got=$(cd /tmp && sandbox stress-ng "${stressors[@]}" --timeout 3s 2>&1)
rc=$?
if [ $rc != 0 ] || ! grep -q "successful run completed" <<<"$got" ||
  grep -qiE "skipping|fail|error" <<<"$got"; then
  fail "stress-ng exited $rc"
  echo "$got" | tail -20
fi

if [ $failures = 0 ]; then
  echo "e2e/workloads: all checks passed"
  exit 0
fi
echo "$failures check(s) failed"
exit 1
