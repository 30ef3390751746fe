#!/bin/bash
# e2e/containerd: containerd (Debian's, installed here if missing, started with a private
# config under a temporary directory and stopped by its pid) runs containers through its runc
# shim with our runsc as the runc binary: run with output and exit status, -t on a terminal
# (tmux), run -d, task exec (output and status), task kill and task delete. The image is a
# busybox rootfs that podman imports and saves as an OCI archive, then `ctr image import`.
#
# usage: containerd_test.sh RUNSC
set -u
runsc=$(readlink -f "$1")
source "$(dirname "$0")/tmux_lib.sh"
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

for pkg in containerd podman; do
  command -v "$pkg" >/dev/null && continue
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" >/dev/null 2>&1 ||
    { echo "SKIP: $pkg cannot be installed from the package mirror"; exit 0; }
done
[ -x /bin/busybox ] || { echo "SKIP: no busybox-static"; exit 0; }

tmp=$(mktemp -d /tmp/runsc_containerd.XXXXXX)
containerd_pid=
cleanup() {
  if [ -n "$containerd_pid" ]; then
    for t in $(ctr task ls -q 2>/dev/null); do ctr task kill -s SIGKILL "$t" >/dev/null 2>&1; done
    sleep 0.5
    for t in $(ctr task ls -q 2>/dev/null); do ctr task delete -f "$t" >/dev/null 2>&1; done
    for c in $(ctr container ls -q 2>/dev/null); do ctr container rm "$c" >/dev/null 2>&1; done
    kill "$containerd_pid" 2>/dev/null
    wait "$containerd_pid" 2>/dev/null
  fi
  podman --root "$tmp/podman" --runroot "$tmp/podman-run" --storage-driver vfs rmi -a -f >/dev/null 2>&1
  umount -R "$tmp/root" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

cat >"$tmp/config.toml" <<CONF
version = 2
root = "$tmp/root"
state = "$tmp/state"
[grpc]
  address = "$tmp/containerd.sock"
CONF
containerd --config "$tmp/config.toml" >"$tmp/containerd.log" 2>&1 &
containerd_pid=$!
export CONTAINERD_ADDRESS=$tmp/containerd.sock
for _ in $(seq 100); do ctr version >/dev/null 2>&1 && break; sleep 0.1; done
ctr version >/dev/null 2>&1 || { fail "containerd did not start: $(tail -5 "$tmp/containerd.log")"; exit 1; }

# The image: busybox, through podman's OCI archive.
mkdir -p "$tmp/rootfs/bin"
cp /bin/busybox "$tmp/rootfs/bin/busybox"
for a in sh echo cat sleep true; do ln -s busybox "$tmp/rootfs/bin/$a"; done
tar -C "$tmp/rootfs" -cf "$tmp/rootfs.tar" .
pmn() { podman --root "$tmp/podman" --runroot "$tmp/podman-run" --storage-driver vfs "$@"; }
pmn import "$tmp/rootfs.tar" localhost/runsc-ctr >/dev/null 2>&1 || fail "podman import"
pmn save --format oci-archive -o "$tmp/image.tar" localhost/runsc-ctr >/dev/null 2>&1 || fail "podman save"
ctr image import --base-name localhost/runsc-ctr "$tmp/image.tar" >/dev/null 2>&1 || fail "ctr image import"
image=localhost/runsc-ctr:latest
c() { timeout 120 ctr "$@"; }

got=$(c run --rm --runc-binary "$runsc" "$image" t-echo echo hi 2>&1)
[ "$got" = hi ] || fail "ctr run echo hi printed '$got'"
c run --rm --runc-binary "$runsc" "$image" t-exit sh -c 'exit 42' >/dev/null 2>&1
rc=$?
[ $rc = 42 ] || fail "ctr run's exit status came back as $rc, not 42"

c run -d --runc-binary "$runsc" "$image" t-bg sleep 1000 >/dev/null 2>&1 || fail "ctr run -d"
c task ls | grep -q "^t-bg .*RUNNING" || fail "run -d: task not running: $(c task ls)"
got=$(c task exec --exec-id e1 t-bg echo from-exec 2>&1)
[ "$got" = from-exec ] || fail "task exec printed '$got'"
c task exec --exec-id e2 t-bg sh -c 'exit 6' >/dev/null 2>&1
rc=$?
[ $rc = 6 ] || fail "task exec's exit status came back as $rc, not 6"
c task kill -s SIGKILL t-bg || fail "task kill"
for _ in $(seq 50); do c task ls | grep -q "^t-bg .*STOPPED" && break; sleep 0.1; done
c task ls | grep -q "^t-bg .*STOPPED" || fail "task kill: not stopped: $(c task ls)"
c task delete t-bg >/dev/null 2>&1 || fail "task delete"
c container rm t-bg || fail "container rm"
[ -z "$(c task ls -q)" ] || fail "tasks left: $(c task ls)"

# -t through a real terminal (tmux): the shim hands runsc a console socket; the shell inside
# is on /dev/pts/0 with the window's size, and its exit status comes back.
if command -v tmux >/dev/null; then
  t=runsc-ctr-$$
  term_start "$t" 25 90 "CONTAINERD_ADDRESS=$CONTAINERD_ADDRESS ctr run --rm -t --runc-binary $runsc $image t-tty sh"
  term_await "$t" '^/ #' || fail "run -t: no shell prompt: $(term_screen "$t")"
  term_keys "$t" 'tty; stty size; echo tty-$((6*7))' Enter
  term_await "$t" 'tty-42' || fail "run -t: the shell did not answer: $(term_screen "$t")"
  term_screen "$t" | grep -qx '/dev/pts/0' || fail "run -t: tty did not print /dev/pts/0"
  term_screen "$t" | grep -qx '25 90' || fail "run -t: stty size is not the window's 25 90"
  term_keys "$t" 'exit 4' Enter
  term_await "$t" 'exited-4' || fail "run -t: exit 4 came back as: $(term_screen "$t")"
  term_stop "$t"
fi

if [ $failures = 0 ]; then
  echo "e2e/containerd: all checks passed"
  exit 0
fi
echo "$failures check(s) failed"
exit 1
