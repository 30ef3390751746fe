#!/bin/bash
# e2e/podman: podman (Debian's, installed here if missing) runs containers with our runsc as
# its OCI runtime, through conmon, exactly as it runs them with runc: run with output, piped
# stdin and exit statuses; -it on a terminal (tmux); run -d, exec (status, stdin, -it),
# pause/unpause, stop and rm. The
# image is a busybox rootfs imported here; podman's storage is private to the test.
#
# usage: podman_test.sh RUNSC
set -u
runsc=$(readlink -f "$1")
source "$(dirname "$0")/tmux_lib.sh"
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

if ! command -v podman >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman >/dev/null 2>&1 ||
    { echo "SKIP: podman cannot be installed from the package mirror"; exit 0; }
fi
busybox=/bin/busybox
[ -x "$busybox" ] || { echo "SKIP: no busybox-static"; exit 0; }

tmp=$(mktemp -d /tmp/runsc_podman.XXXXXX)
cat >"$tmp/containers.conf" <<CONF
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "runsc"
[engine.runtimes]
runsc = ["$runsc"]
CONF
export CONTAINERS_CONF=$tmp/containers.conf
pm_cmd="podman --root $tmp/storage --runroot $tmp/run --storage-driver vfs"
pm() { timeout 120 $pm_cmd "$@"; }
cleanup() {
  pm rm -a -f -t 0 >/dev/null 2>&1
  pm rmi -a -f >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT

mkdir -p "$tmp/rootfs/bin"
cp "$busybox" "$tmp/rootfs/bin/busybox"
for a in sh echo cat sleep true id hostname; do ln -s busybox "$tmp/rootfs/bin/$a"; done
tar -C "$tmp/rootfs" -cf "$tmp/rootfs.tar" .
pm import "$tmp/rootfs.tar" localhost/runsc-e2e >/dev/null || { fail "podman import"; exit 1; }
image=localhost/runsc-e2e

got=$(pm run --rm "$image" echo hi 2>&1)
[ "$got" = hi ] || fail "run --rm echo hi printed '$got'"
pm run --rm "$image" sh -c 'exit 42' >/dev/null 2>&1
rc=$?
[ $rc = 42 ] || fail "run's exit status came back as $rc, not 42"
got=$(echo piped | pm run --rm -i "$image" cat 2>&1)
[ "$got" = piped ] || fail "run -i with piped stdin printed '$got'"
got=$(pm run --rm --hostname boxed "$image" hostname 2>&1)
[ "$got" = boxed ] || fail "run --hostname: '$got'"

id=$(pm run -d "$image" sleep 1000) || fail "run -d"
[ "$(pm inspect "$id" --format '{{.State.Status}}')" = running ] || fail "run -d: not running"
got=$(pm exec "$id" echo from-exec 2>&1)
[ "$got" = from-exec ] || fail "exec printed '$got'"
pm exec "$id" sh -c 'exit 5' >/dev/null 2>&1
rc=$?
[ $rc = 5 ] || fail "exec's exit status came back as $rc, not 5"
got=$(echo exec-in | pm exec -i "$id" cat 2>&1)
[ "$got" = exec-in ] || fail "exec -i printed '$got'"
if command -v tmux >/dev/null; then
  # exec -it: conmon runs `runsc exec --detach --tty --console-socket`.
  t=runsc-exec-$$
  term_start "$t" 20 80 "CONTAINERS_CONF=$CONTAINERS_CONF $pm_cmd exec -it $id sh"
  term_await "$t" '^/ #' || fail "exec -it: no shell prompt: $(term_screen "$t")"
  term_keys "$t" 'tty; stty size; echo exec-$((5*5))' Enter
  term_await "$t" 'exec-25' || fail "exec -it: the shell did not answer: $(term_screen "$t")"
  term_screen "$t" | grep -qx '/dev/pts/[0-9]*' || fail "exec -it: tty printed no pts"
  term_screen "$t" | grep -qx '20 80' || fail "exec -it: stty size is not the window's 20 80"
  term_keys "$t" 'exit 3' Enter
  term_await "$t" 'exited-3' || fail "exec -it: exit 3 came back as: $(term_screen "$t")"
  term_stop "$t"
fi
pm pause "$id" >/dev/null || fail "pause"
[ "$(pm inspect "$id" --format '{{.State.Status}}')" = paused ] || fail "pause: not paused"
pm unpause "$id" >/dev/null || fail "unpause"
[ "$(pm inspect "$id" --format '{{.State.Status}}')" = running ] || fail "unpause: not running"
[ "$(pm exec "$id" echo after-unpause 2>&1)" = after-unpause ] || fail "exec after unpause"
pm stop -t 1 "$id" >/dev/null 2>&1 || fail "stop"
[ "$(pm inspect "$id" --format '{{.State.Status}}')" = exited ] || fail "stop: not exited"
pm rm "$id" >/dev/null || fail "rm"
[ -z "$(pm ps -a -q)" ] || fail "containers left: $(pm ps -a)"

# -it through a real terminal (tmux): podman hands our runsc a console socket; the shell
# inside is on /dev/pts/0, sees the window's size, and ^C interrupts its foreground job.
if command -v tmux >/dev/null; then
  t=runsc-e2e-$$
  term_start "$t" 30 100 "CONTAINERS_CONF=$CONTAINERS_CONF $pm_cmd run --rm -it $image sh"
  term_await "$t" '^/ #' || fail "run -it: no shell prompt: $(term_screen "$t")"
  term_keys "$t" 'tty; stty size; echo tty-$((6*7))' Enter
  term_await "$t" 'tty-42' || fail "run -it: the shell did not answer: $(term_screen "$t")"
  term_screen "$t" | grep -qx '/dev/pts/0' || fail "run -it: tty did not print /dev/pts/0"
  term_screen "$t" | grep -qx '30 100' || fail "run -it: stty size is not the window's 30 100"
  term_keys "$t" 'sleep 100; echo slept' Enter
  sleep 1
  term_keys "$t" C-c
  term_keys "$t" 'echo after-ctrl-$((2+1))' Enter
  term_await "$t" 'after-ctrl-3' || fail "run -it: ^C did not end the foreground sleep"
  term_screen "$t" | grep -q '^slept' && fail "run -it: the sleep ran to its end despite ^C"
  term_keys "$t" 'exit 7' Enter
  term_await "$t" 'exited-7' || fail "run -it: exit 7 came back as: $(term_screen "$t")"
  term_stop "$t"
fi

if [ $failures = 0 ]; then
  echo "e2e/podman: all checks passed"
  exit 0
fi
echo "$failures check(s) failed"
exit 1
