#!/bin/bash
# e2e/volume_sync: a volume is shared with the host while the sandbox runs. A sandbox process
# looks at the volume (so the sentry caches its names and attributes), the host then changes it
# (creates, removes, renames, appends, chmods, makes a directory with entries), and the same
# sandbox process must see every change; the host sees the sandbox's writes at once. An fd the
# sandbox opened on a file the host removes keeps reading it, as on Linux. The two sides take
# turns through marker files in the volume.
#
# usage: volume_sync_test.sh RUNSC
set -u
runsc=$(readlink -f "$1")
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

tmp=$(mktemp -d /tmp/runsc_volume_sync.XXXXXX)
sandbox_pid=
cleanup() {
  [ -z "$sandbox_pid" ] || kill "$sandbox_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
data=$tmp/data
mkdir "$data"
echo one >"$data/app"
chmod 644 "$data/app"
touch -d @1000000000 "$data/app"
echo doomed >"$data/del"
echo "kept open" >"$data/keep"
echo renamed >"$data/ren"
mkdir "$data/olddir"
echo x >"$data/olddir/x"

# Waits (at most 20 s) for a marker file; in the sandbox this is also a stream of lookups of a
# name that does not exist yet, which no cache may answer.
wait_lib='wait_for() { n=0; while [ ! -e "$1" ]; do sleep 0.05; n=$((n+1)); [ $n -lt 400 ] || { echo "timed out waiting for $1"; exit 1; }; done; }'
host_wait() {
  local n=0
  while [ ! -e "$1" ]; do
    sleep 0.05
    n=$((n + 1))
    [ $n -lt 400 ] || return 1
  done
}

V=/mnt/sync
script="$wait_lib
cd $V || exit 1
echo \"before: \$(ls | tr '\n' ' ')\"
echo \"app: \$(stat -c '%s %a %Y' app) \$(cat app)\"
cat del ren olddir/x >/dev/null
[ -e new ] || echo 'no new yet'
exec 3<keep
echo written in the sandbox >fromsandbox
touch ready1
wait_for $V/go1
echo \"after: \$(ls | tr '\n' ' ')\"
echo \"app: \$(stat -c '%s %a' app) \$(cat app | tr '\n' ' ')\"
[ \$(stat -c %Y app) -gt 1000000000 ] && echo 'app mtime moved'
echo \"new: \$(cat new)\"
[ -e del ] && echo 'del still there'
cat del 2>/dev/null && echo 'del still reads'
[ -e ren ] && echo 'ren still there'
echo \"ren2: \$(cat ren2)\"
[ -e olddir/x ] && echo 'olddir/x still there'
echo \"newdir: \$(ls newdir | tr '\n' ' ')\$(cat newdir/sub/deep)\"
echo \"keep through fd 3: \$(cat <&3)\"
echo appended in the sandbox >>fromsandbox
mkdir sandboxdir
touch ready2
wait_for $V/go2
[ -e fromsandbox ] || echo 'fromsandbox gone'
echo \"mode: \$(stat -c %a ren2)\"
"

timeout 60 "$runsc" do --platform=ptrace --volume "$data:$V" /bin/sh -c "$script" \
  >"$tmp/out" 2>&1 &
sandbox_pid=$!

if host_wait "$data/ready1"; then
  # The sandbox's write is on the host now, while the sandbox still runs.
  [ "$(cat "$data/fromsandbox")" = "written in the sandbox" ] ||
    fail "the host read '$(cat "$data/fromsandbox" 2>&1)' from the sandbox's file"
  echo new on the host >"$data/new"
  rm "$data/del" "$data/keep"
  mv "$data/ren" "$data/ren2"
  echo two >>"$data/app"
  chmod 600 "$data/app"
  rm -r "$data/olddir"
  mkdir -p "$data/newdir/sub"
  echo a >"$data/newdir/a"
  echo deep >"$data/newdir/sub/deep"
  touch "$data/go1"
else
  fail "the sandbox never made ready1"
fi

if host_wait "$data/ready2"; then
  [ "$(cat "$data/fromsandbox")" = "$(printf 'written in the sandbox\nappended in the sandbox')" ] ||
    fail "the host read '$(cat "$data/fromsandbox" 2>&1)' after the sandbox appended"
  [ -d "$data/sandboxdir" ] || fail "the sandbox's mkdir is not on the host"
  rm "$data/fromsandbox"
  chmod 700 "$data/ren2"
  touch "$data/go2"
else
  fail "the sandbox never made ready2"
fi
wait "$sandbox_pid"
status=$?
sandbox_pid=
[ $status = 0 ] || fail "the sandbox exited with $status"

want="before: app del keep olddir ren 
app: 4 644 1000000000 one
no new yet
after: app fromsandbox go1 new newdir ready1 ren2 
app: 8 600 one two 
app mtime moved
new: new on the host
ren2: renamed
newdir: a sub deep
keep through fd 3: kept open
fromsandbox gone
mode: 700"
got=$(cat "$tmp/out")
if [ "$got" != "$want" ]; then
  fail "the sandbox saw:"
  diff <(echo "$want") <(echo "$got") | sed 's/^/  /'
fi

if [ $failures = 0 ]; then
  echo "PASS: e2e/volume_sync"
  exit 0
fi
echo "$failures failure(s)"
exit 1
