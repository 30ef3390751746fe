#!/bin/bash
# e2e/volume_mmap_sync: the sentry's page cache of a volume file never shows data the host has
# replaced. A sandbox process maps a volume file MAP_SHARED and reads it, so the cache holds its
# pages (and keeps them after the munmap); the host then rewrites the file in place (same size)
# between two mappings, and again while it is mapped; then shrinks and grows it while mapped.
# After the host's change the sandbox looks at the file (open, or stat: a revalidating walk)
# and must see the host's data through a new mapping and through the one that stayed mapped.
# The sandbox's own stores reach the host at munmap, and its kept pages then match the host.
# The two sides take turns through marker files in the volume.
#
# usage: volume_mmap_sync_test.sh RUNSC
set -u
runsc=$(readlink -f "$1")
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

tmp=$(mktemp -d /tmp/runsc_volume_mmap_sync.XXXXXX)
sandbox_pid=
cleanup() {
  [ -z "$sandbox_pid" ] || kill "$sandbox_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
data=$tmp/data
mkdir "$data"
page=4096
pages=300  # more than one fault-around window
fill() {  # fill FILE CHAR: the whole file, in place (same inode, same size)
  python3 -c "import sys; f=open(sys.argv[1],'r+b'); f.write(sys.argv[2].encode()*($page*$pages)); f.close()" "$1" "$2"
}
: >"$data/f"
fill "$data/f" a

host_wait() {
  local n=0
  while [ ! -e "$1" ]; do
    sleep 0.05
    n=$((n + 1))
    [ $n -lt 400 ] || return 1
  done
}

V=/mnt/sync
cat >"$tmp/sandbox.py" <<PY
import mmap, os, sys, time
V = "$V"
PAGE, PAGES = $page, $pages
def wait_for(name):
    for _ in range(400):
        if os.path.exists(os.path.join(V, name)):
            return
        time.sleep(0.05)
    sys.exit("timed out waiting for " + name)
def touch(name):
    open(os.path.join(V, name), "w").close()
def kinds(m, n):
    return "".join(sorted(set(chr(m[i * PAGE]) for i in range(n))))
path = os.path.join(V, "f")
def map_file(write=False):
    fd = os.open(path, os.O_RDWR if write else os.O_RDONLY)
    size = os.fstat(fd).st_size
    m = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | (mmap.PROT_WRITE if write else 0))
    os.close(fd)
    return m
m = map_file()
print("first mapping:", kinds(m, PAGES))
m.close()  # the cache keeps the pages
touch("ready1"); wait_for("go1")
m = map_file()  # the host rewrote the file in place
print("after a change between mappings:", kinds(m, PAGES))
with open(path, "rb") as f:
    print("read(2):", "".join(sorted(set(f.read().decode()))))
touch("ready2"); wait_for("go2")
os.stat(path)  # a revalidating walk notices the host's change
print("the same mapping after a change:", kinds(m, PAGES))
m2 = map_file()
print("a new mapping too:", kinds(m2, PAGES))
m2.close()
touch("ready3"); wait_for("go3")
st = os.stat(path)  # the host cut the file to 2 pages, then wrote 'd' into it
print("size:", st.st_size // PAGE, "pages; mapped:", kinds(m, 2))
m.close()
w = map_file(write=True)
w[0:5] = b"store"
w.close()  # written back; the kept page now matches the host
touch("ready4"); wait_for("go4")
m = map_file()  # the host changed the first page after our store
print("after the host overwrote our store:", bytes(m[0:5]).decode(), kinds(m, 2))
m.close()
PY

timeout 90 "$runsc" do --platform=ptrace --volume "$data:$V" /usr/bin/python3 "$tmp/sandbox.py" \
  >"$tmp/out" 2>&1 &
sandbox_pid=$!

step() {  # step N: wait for readyN, run the rest, then go
  local n=$1
  shift
  if host_wait "$data/ready$n"; then
    "$@"
    touch "$data/go$n"
  else
    fail "the sandbox never made ready$n"
  fi
}
step 1 fill "$data/f" b
step 2 fill "$data/f" c
shrink() {
  truncate -s $((2 * page)) "$data/f"
  python3 -c "import sys; f=open(sys.argv[1],'r+b'); f.write(b'd'*$((2 * page))); f.close()" "$data/f"
}
step 3 shrink
overwrite() {
  [ "$(head -c 5 "$data/f")" = store ] || fail "the host read '$(head -c 5 "$data/f")', not the sandbox's store"
  printf HOST5 | dd of="$data/f" conv=notrunc status=none
}
step 4 overwrite
wait "$sandbox_pid"
status=$?
sandbox_pid=
[ $status = 0 ] || fail "the sandbox exited with $status"

want="first mapping: a
after a change between mappings: b
read(2): b
the same mapping after a change: c
a new mapping too: c
size: 2 pages; mapped: d
after the host overwrote our store: HOST5 Hd"
got=$(cat "$tmp/out")
if [ "$got" != "$want" ]; then
  fail "the sandbox saw:"
  diff <(echo "$want") <(echo "$got")
fi
[ $failures = 0 ] && echo PASS
exit $((failures > 0))
