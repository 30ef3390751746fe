#!/bin/bash
# e2e/confinement: while `runsc do` runs a sleeping program, every process below runsc (sentry,
# stubs, gofer) runs under a seccomp filter, the sentry's root is empty, it holds no
# capabilities, and its namespaces are not the host's. A signal to runsc ends the whole sandbox
# with the signal's status, and so does killing runsc outright; a broken stdout pipe does not
# end the sentry: the program gets EPIPE and SIGPIPE as Linux gives them.
#
# usage: confinement_test.sh RUNSC SLEEPER
set -u

if [ $# -ne 2 ]; then
  echo "usage: $0 RUNSC SLEEPER" >&2
  exit 2
fi
runsc=$1
tmp=$(mktemp -d /tmp/confinement.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
cp "$2" "$tmp/sleeper"
sleeper=$tmp/sleeper

failures=0
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

# desc PID: every descendant of PID, one per line.
desc() {
  local c
  for c in $(ps -o pid= --ppid "$1"); do
    echo "$c"
    desc "$c"
  done
}

field() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null; }

# start SECONDS: runs `runsc do sleeper SECONDS` in the background ($top) and waits until the
# sandbox is complete: the sentry has its stub ($sentry, $pids: all descendants).
start() {
  # shellcheck disable=SC1010 # `do` is runsc's subcommand, not the shell keyword
  "$runsc" do "$sleeper" "$1" >"$tmp/out" 2>"$tmp/err" &
  top=$!
  sentry=
  local i c
  for ((i = 0; i < 100; i++)); do
    for c in $(ps -o pid= --ppid "$top"); do
      tr '\0' ' ' <"/proc/$c/cmdline" 2>/dev/null | grep -q ' boot ' && sentry=$c
    done
    if [ -n "$sentry" ] && [ -n "$(ps -o pid= --ppid "$sentry")" ]; then
      pids=$(desc "$top")
      return 0
    fi
    sleep 0.05
  done
  fail "the sandbox did not come up within 5 s"
  pids=$(desc "$top")
  return 1
}

# gone PIDS...: true once none of PIDS is alive (a zombie counts as gone), waiting up to 3 s.
gone() {
  local i p alive
  for ((i = 0; i < 60; i++)); do
    alive=
    for p in "$@"; do
      s=$(field "$p" State)
      [ -n "$s" ] && [ "$s" != Z ] && alive="$alive $p"
    done
    [ -z "$alive" ] && return 0
    sleep 0.05
  done
  echo "  still alive:$alive"
  return 1
}

# --- Confinement while the program runs.
if start 3; then
  n=0
  for p in $pids; do
    n=$((n + 1))
    s=$(field "$p" Seccomp)
    [ "$s" = 2 ] || fail "pid $p ($(cat "/proc/$p/comm" 2>/dev/null)) has Seccomp: $s, not 2"
  done
  [ "$n" -ge 3 ] || fail "expected a sentry, a stub and a gofer below runsc, found $n processes"

  entries=$(ls -A "/proc/$sentry/root/" 2>&1)
  [ -z "$entries" ] || fail "the sentry's root is not empty: $entries"
  for ns in user pid mnt ipc uts net; do
    mine=$(readlink "/proc/self/ns/$ns")
    theirs=$(readlink "/proc/$sentry/ns/$ns")
    if [ -z "$theirs" ] || [ "$theirs" = "$mine" ]; then
      fail "the sentry's $ns namespace ($theirs) is the host's ($mine)"
    fi
  done
  [ "$(awk '/^NSpid:/ { print $NF }' "/proc/$sentry/status")" = 1 ] ||
    fail "the sentry is not PID 1 of its PID namespace"
  for p in $sentry $(ps -o pid= --ppid "$sentry"); do
    [ "$(field "$p" CapEff)" = 0000000000000000 ] || fail "pid $p has capabilities $(field "$p" CapEff)"
    [ "$(field "$p" NoNewPrivs)" = 1 ] || fail "pid $p lacks no_new_privs"
  done
  wait "$top"
  rc=$?
  [ $rc = 0 ] || fail "runsc do sleeper 3 exited with $rc: $(cat "$tmp/err")"
fi

# --- SIGTERM to runsc is forwarded; the sentry, PID 1 of its namespace, ends with 128+15 and
# takes every sandbox process with it.
if start 30; then
  kill -TERM "$top"
  wait "$top"
  rc=$?
  [ $rc = 143 ] || fail "runsc do after SIGTERM exited with $rc, not 143"
  # shellcheck disable=SC2086 # one pid per word
  gone $pids || fail "sandbox processes outlived runsc after SIGTERM"
fi

# --- SIGKILL to runsc: nothing of the sandbox survives it.
if start 30; then
  kill -KILL "$top"
  wait "$top" 2>/dev/null
  # shellcheck disable=SC2086
  gone $pids || fail "sandbox processes outlived runsc after SIGKILL"
fi

# --- A write to the application's broken stdout pipe is the application's EPIPE, never the
# sentry's death. The program is PID 1 of its PID namespace, which Linux does not kill with
# SIGPIPE (no handler, init): yes fails the write and exits 1, as under `unshare -fp`. Below
# init, SIGPIPE kills: 141.
if [ -x /usr/bin/yes ]; then
  # shellcheck disable=SC1010
  timeout 30 unshare -fp --mount-proc /usr/bin/yes 2>/dev/null | head -1 >/dev/null
  want=${PIPESTATUS[0]}
  # shellcheck disable=SC1010
  timeout 30 "$runsc" do /usr/bin/yes 2>"$tmp/err" | head -1 >/dev/null
  rc=${PIPESTATUS[0]}
  [ "$rc" = "$want" ] || fail "runsc do yes | head -1 exited with $rc, not $want: $(cat "$tmp/err")"
  grep -q 'Broken pipe' "$tmp/err" || fail "yes as init did not see EPIPE: $(cat "$tmp/err")"
  got=$(timeout 30 "$runsc" do /bin/bash -c 'yes | head -1 >/dev/null; echo ${PIPESTATUS[0]}' 2>&1)
  [ "$got" = 141 ] || fail "yes below init: status $got, not 141 (SIGPIPE)"
fi

if [ $failures != 0 ]; then
  echo "$failures check(s) failed"
  exit 1
fi
echo "PASS"
