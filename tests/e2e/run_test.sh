#!/bin/bash
# e2e/runsc_do: `runsc do` runs a static program, passes its output and exit status through,
# traces its syscalls with --strace, refuses what it cannot run with a clear message, and leaves
# no process behind.
#
# usage: run_test.sh RUNSC HELLO_STATIC EXIT_WITH
# RUNSC_PLATFORM selects the platform (default ptrace).
set -u

if [ $# -ne 3 ]; then
  echo "usage: $0 RUNSC HELLO_STATIC EXIT_WITH" >&2
  exit 2
fi
runsc=$1
platform=${RUNSC_PLATFORM:-ptrace}

tmp=$(mktemp -d /tmp/runsc_do.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
# Run copies from a fresh directory: that path then appears only in the command lines of runsc
# and whatever it starts (this script's own command line holds the original paths), so a
# `pgrep -f $tmp` after a run finds only processes that the run left behind.
cp "$2" "$tmp/hello_static"
cp "$3" "$tmp/exit_with"
hello=$tmp/hello_static
exit_with=$tmp/exit_with

failures=0
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

# leftovers SID: the processes still alive from a run in session SID: those in the session, and
# those whose command line names a file in $tmp (a sandbox process may start a session of its own).
leftovers() {
  { pgrep -s "$1"; pgrep -f -- "$tmp"; } | sort -u
}

# run [RUNSC_FLAGS...] PROGRAM [ARGS...]: runs `runsc do` in a session of its own, with a time
# limit; stdout lands in $tmp/out, stderr in $tmp/err, the exit status in $rc. Then checks that
# nothing from the run is still alive.
run() {
  # The single quotes are for the inner bash; `do` is runsc's subcommand, not the shell keyword.
  # shellcheck disable=SC2016,SC1010
  setsid -w bash -c 'echo $$ >"$0" && exec timeout -k 5 60 "$@"' "$tmp/sid" \
    "$runsc" do --platform="$platform" "$@" >"$tmp/out" 2>"$tmp/err"
  rc=$?
  if [ $rc = 124 ] || [ $rc = 137 ]; then
    fail "runsc do $* did not finish within 60 s"
  fi
  local sid i pids
  sid=$(cat "$tmp/sid")
  # A process killed at exit vanishes once it is reaped, which can trail runsc's own exit by a
  # moment; allow one second before calling it a leftover.
  for ((i = 0; i < 10; i++)); do
    pids=$(leftovers "$sid")
    [ -z "$pids" ] && return 0
    sleep 0.1
  done
  fail "processes left behind after runsc do $*:"
  # shellcheck disable=SC2086 # one pid per word
  ps -o pid=,ppid=,stat=,args= -p "$(echo $pids | tr ' ' ,)"
  # Kill them (these pids only), so that the next check starts clean.
  # shellcheck disable=SC2086
  kill -9 $pids 2>/dev/null
}

# show: prints what the last run wrote, to explain a failure.
show() {
  echo "  status: $rc"
  echo "  stdout: $(head -c 2000 "$tmp/out" | cat -A)"
  echo "  stderr: $(head -c 2000 "$tmp/err")"
}

run "$hello"
if [ $rc != 0 ] || ! printf 'hello from the sandbox\n' | cmp -s - "$tmp/out"; then
  fail "hello_static did not print exactly 'hello from the sandbox' and exit 0"
  show
fi

for n in 0 3 255; do
  run "$exit_with" exit $n
  [ $rc = $n ] || { fail "exit_with exit $n came back as status $rc"; show; }
done

run "$exit_with" segv
# A program killed by signal N makes runsc exit with 128+N, as a shell reports it: SIGSEGV is 11.
[ $rc = 139 ] || { fail "exit_with segv came back as status $rc, not 139"; show; }

run --strace "$hello"
if ! grep -qF 'write(1, "hello from the sandbox\n", 23) = 23' "$tmp/err"; then
  fail "runsc do --strace printed no line 'write(1, \"hello from the sandbox\\n\", 23) = 23'"
  show
fi
if [ $rc != 0 ] || ! printf 'hello from the sandbox\n' | cmp -s - "$tmp/out"; then
  fail "under --strace, hello_static did not print its line and exit 0"
  show
fi

printf 'this is text, not an ELF file\n' >"$tmp/not_elf"
chmod +x "$tmp/not_elf"
run "$tmp/not_elf"
if [ $rc = 0 ] || ! grep -qiE 'exec format error|ENOEXEC' "$tmp/err"; then
  fail "a non-ELF program did not fail with 'exec format error' or ENOEXEC"
  show
fi

run "$tmp/no_such_program"
if [ $rc = 0 ] || ! grep -qiE 'no such file|ENOENT' "$tmp/err"; then
  fail "a nonexistent program did not fail with 'no such file' or ENOENT"
  show
fi

if [ $failures != 0 ]; then
  echo "$failures check(s) failed"
  exit 1
fi
echo "PASS"
