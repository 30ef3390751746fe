#!/bin/bash
# e2e/oci_config: what a bundle's config.json asks of the container beyond its program, checked
# from inside it: mounts (tmpfs with options, bind mounts read-write and read-only, the default
# /proc, /dev, /sys), maskedPaths and readonlyPaths, rlimits, capabilities, umask and
# additionalGids, for the container's process and for `runsc exec` (with --user); and that a
# malformed field is an error naming it, with nothing left behind.
#
# usage: oci_config_test.sh RUNSC
set -u
runsc=$(readlink -f "$1")
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

busybox=/bin/busybox
[ -x "$busybox" ] || apt-get install -y -qq busybox-static >/dev/null 2>&1 || true
[ -x "$busybox" ] || { echo "SKIP: busybox-static cannot be installed"; exit 0; }

tmp=$(mktemp -d /tmp/runsc_oci_config.XXXXXX)
bundle=$tmp/bundle
root=$tmp/state
id=cfg-$$
rt() { timeout 60 "$runsc" --root "$root" "$@"; }
cleanup() {
  rt delete --force "$id" >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT
mkdir -p "$bundle/rootfs/bin" "$bundle/rootfs/etc/ro" "$bundle/rootfs/opt/hidden" \
  "$bundle/rootfs/tmp" "$tmp/data" "$tmp/ro-data"
cp "$busybox" "$bundle/rootfs/bin/busybox"
for a in sh cat echo id touch chown ls grep sleep true; do ln -s busybox "$bundle/rootfs/bin/$a"; done
echo secret >"$bundle/rootfs/etc/secret"
echo visible >"$bundle/rootfs/opt/hidden/file"
echo from-host >"$tmp/ro-data/file"
(cd "$bundle" && "$runsc" spec) || fail "spec failed"

# config SCRIPT: the container runs `sh -c SCRIPT` with the settings under test.
config() {
  python3 - "$bundle/config.json" "$tmp" "$1" <<'PY'
import json, sys
path, tmp, script = sys.argv[1:]
c = json.load(open(path))
p = c["process"]
p["terminal"] = False
p["args"] = ["sh", "-c", script]
p["user"] = {"uid": 0, "gid": 0, "additionalGids": [10, 20], "umask": 0o027}
p["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 123, "hard": 456}]
caps = ["CAP_KILL", "CAP_SETUID", "CAP_SETGID", "CAP_DAC_OVERRIDE"]  # no CAP_CHOWN
p["capabilities"] = {k: caps for k in ("bounding", "effective", "permitted")}
c["root"]["readonly"] = True
c["mounts"] += [
    {"destination": "/scratch", "type": "tmpfs", "source": "tmpfs",
     "options": ["nosuid", "nodev", "size=1m", "mode=700"]},
    {"destination": "/data", "type": "bind", "source": tmp + "/data", "options": ["rbind", "rw"]},
    {"destination": "/ro-data", "type": "none", "source": tmp + "/ro-data",
     "options": ["bind", "ro"]},
]
c["linux"]["maskedPaths"] += ["/etc/secret", "/opt/hidden"]
c["linux"]["readonlyPaths"] += ["/etc/ro"]
json.dump(c, open(path, "w"))
PY
}

config '
grep " /scratch " /proc/mounts | cut -d" " -f1,3,4 | cut -d, -f1-3
echo in-data > /data/written && echo data-ok
echo x > /ro-data/x 2>/dev/null || echo ro-data-refused
cat /ro-data/file
echo "secret:$(cat /etc/secret)"
echo "hidden:$(ls /opt/hidden)"
touch /opt/hidden/x 2>/dev/null || echo hidden-refused
touch /etc/ro/x 2>/dev/null || echo etc-ro-refused
echo "nofile $(ulimit -n) $(ulimit -Hn)"
echo "umask $(umask)"
echo "groups $(id -G)"
touch /scratch/f && chown 1 /scratch/f 2>/dev/null || echo chown-refused
grep " /data " /proc/mounts | cut -d" " -f1,3
'
want='tmpfs tmpfs rw,nosuid,nodev
data-ok
ro-data-refused
from-host
secret:
hidden:
hidden-refused
etc-ro-refused
nofile 123 456
umask 0027
groups 0 10 20
chown-refused'
# /data shows as Linux shows a bind mount: the host file system's device and type.
want="$want
$(findmnt -n -o SOURCE,FSTYPE --target "$tmp/data" | awk '{print $1, $2}')"
got=$(rt run --bundle "$bundle" "$id" 2>"$tmp/err" </dev/null)
rc=$?
[ $rc = 0 ] || fail "run exited $rc: $(cat "$tmp/err")"
[ "$got" = "$want" ] || { fail "the container saw another configuration"; diff <(echo "$want") <(echo "$got"); }
[ "$(cat "$tmp/data/written" 2>/dev/null)" = in-data ] || fail "the bind mount's write did not reach the host"
[ ! -e "$tmp/ro-data/x" ] || fail "the read-only bind mount took a write"

# exec runs as the container's process does; --user changes the ids only.
config 'sleep 100'
rt create --bundle "$bundle" "$id" </dev/null >/dev/null 2>&1 || fail "create failed"
rt start "$id" || fail "start failed"
got=$(rt exec "$id" sh -c 'echo "$(ulimit -n) $(umask) $(id -G)"' 2>&1)
[ "$got" = "123 0027 0 10 20" ] || fail "exec ran with '$got'"
got=$(rt exec --user 1000:1001 "$id" sh -c 'echo "$(id -u) $(id -g)"; touch /etc/ro/y 2>/dev/null || echo refused' 2>&1)
[ "$got" = "$(printf '1000 1001\nrefused')" ] || fail "exec --user ran with '$got'"
rt delete --force "$id" >/dev/null 2>&1

# linux.resources: the sandbox's processes in a host cgroup with the limits; pause/resume
# freeze and thaw it; events reports its figures; delete removes it.
python3 - "$bundle/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["process"]["args"] = ["sleep", "100"]
c["linux"]["resources"] = {"memory": {"limit": 268435456}, "pids": {"limit": 100},
                           "cpu": {"shares": 512}}
json.dump(c, open(sys.argv[1], "w"))
PY
rt create --bundle "$bundle" "$id" </dev/null >/dev/null 2>&1 || fail "create with resources failed"
rt start "$id" || fail "start with resources failed"
cg_dirs=$(python3 -c "import json; print(' '.join(json.load(open('$root/$id/state.json'))['cgroup']['dirs']))")
sentry_pid=$(rt state "$id" | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
for d in $cg_dirs; do
  grep -qx "$sentry_pid" "$d/cgroup.procs" || fail "the sentry is not in $d"
  case $d in
  */memory/*) [ "$(cat "$d/memory.limit_in_bytes")" = 268435456 ] || fail "memory limit: $(cat "$d/memory.limit_in_bytes")" ;;
  */pids/*) [ "$(cat "$d/pids.max")" = 100 ] || fail "pids limit: $(cat "$d/pids.max")" ;;
  */cpu/*) [ "$(cat "$d/cpu.shares")" = 512 ] || fail "cpu shares: $(cat "$d/cpu.shares")" ;;
  esac
done
[ -n "$cg_dirs" ] || fail "no cgroup recorded"
rt pause "$id" || fail "pause failed"
[ "$(rt state "$id" | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')" = paused ] ||
  fail "state after pause"
rt pause "$id" 2>/dev/null && fail "pausing twice succeeded"
rt resume "$id" || fail "resume failed"
[ "$(rt state "$id" | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')" = running ] ||
  fail "state after resume"
[ "$(rt exec "$id" echo alive 2>&1)" = alive ] || fail "exec after resume"
rt events --stats "$id" | python3 -c "
import json, sys
e = json.load(sys.stdin)
assert e['type'] == 'stats' and e['id'] == '$id', e
assert e['data']['memory']['usage']['limit'] == 268435456, e
assert e['data']['pids']['current'] >= 1, e
" || fail "events --stats"
rt pause "$id" || fail "pause before delete failed"
rt delete --force "$id" >/dev/null 2>&1 || fail "delete --force of a paused container failed"
for d in $cg_dirs; do [ ! -d "$d" ] || fail "delete left the cgroup $d"; done
python3 - "$bundle/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1])); del c["linux"]["resources"]; json.dump(c, open(sys.argv[1], "w"))
PY

# Hooks: host programs given the state on stdin, at their points of the lifecycle.
python3 - "$bundle/config.json" "$tmp" <<'PY'
import json, sys
path, tmp = sys.argv[1:]
c = json.load(open(path))
c["process"]["args"] = ["sleep", "100"]
def hook(name):
    return [{"path": "/bin/sh", "args": ["sh", "-c", "cat > %s/hook-%s.json" % (tmp, name)],
             "timeout": 10}]
c["hooks"] = {p: hook(p) for p in ("createRuntime", "createContainer", "startContainer",
                                   "poststart", "poststop")}
json.dump(c, open(path, "w"))
PY
rt create --bundle "$bundle" "$id" </dev/null >/dev/null 2>&1 || fail "create with hooks failed"
for p in createRuntime createContainer; do
  python3 -c "import json,sys; s=json.load(open('$tmp/hook-$p.json')); assert s['id']=='$id' and s['status']=='creating' and s['pid']>0, s" ||
    fail "the $p hook did not get the creating state"
done
[ ! -e "$tmp/hook-startContainer.json" ] || fail "startContainer ran before start"
rt start "$id" || fail "start with hooks failed"
python3 -c "import json; s=json.load(open('$tmp/hook-poststart.json')); assert s['status']=='running', s" ||
  fail "the poststart hook did not get the running state"
[ -e "$tmp/hook-startContainer.json" ] || fail "startContainer did not run"
rt delete --force "$id" >/dev/null 2>&1
python3 -c "import json; s=json.load(open('$tmp/hook-poststop.json')); assert s['status']=='stopped', s" ||
  fail "the poststop hook did not get the stopped state"
python3 - "$bundle/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["hooks"] = {"createRuntime": [{"path": "/bin/false"}]}
json.dump(c, open(sys.argv[1], "w"))
PY
rt create --bundle "$bundle" "$id" </dev/null >/dev/null 2>"$tmp/err" && fail "a failing createRuntime hook did not fail create"
grep -q 'createRuntime hook /bin/false' "$tmp/err" || fail "the failing hook's error: '$(cat "$tmp/err")'"
[ ! -e "$root/$id" ] || fail "a create whose hook failed left its state directory"
python3 - "$bundle/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1])); del c["hooks"]; json.dump(c, open(sys.argv[1], "w"))
PY

# root.readonly false: writes reach the bundle's rootfs, as with runc, unless --overlay
# keeps them in memory.
python3 - "$bundle/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["root"]["readonly"] = False
c["process"]["args"] = ["sh", "-c", "echo x > /written-by-container"]
json.dump(c, open(sys.argv[1], "w"))
PY
rt --overlay run --bundle "$bundle" "$id" </dev/null >/dev/null 2>&1 || fail "run --overlay failed"
[ ! -e "$bundle/rootfs/written-by-container" ] || fail "--overlay let a write reach the rootfs"
rt run --bundle "$bundle" "$id" </dev/null >/dev/null 2>&1 || fail "run with a writable root failed"
[ -e "$bundle/rootfs/written-by-container" ] || fail "a writable root did not take the write"
rm -f "$bundle/rootfs/written-by-container"

# A malformed field is named, and nothing is left behind.
python3 - "$bundle/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1])); c["process"]["rlimits"] = [{"type": "RLIMIT_BOGUS", "soft": 1, "hard": 1}]
json.dump(c, open(sys.argv[1], "w"))
PY
rt create --bundle "$bundle" "$id" </dev/null >/dev/null 2>"$tmp/err" && fail "a bogus rlimit was accepted"
grep -q 'process.rlimits\[0\].type' "$tmp/err" || fail "the bogus rlimit's error: '$(cat "$tmp/err")'"
[ ! -e "$root/$id" ] || fail "a failed create left its state directory"
python3 - "$bundle/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1])); c["process"]["rlimits"] = []
c["mounts"].append({"destination": "relative/path", "type": "tmpfs", "source": "tmpfs"})
json.dump(c, open(sys.argv[1], "w"))
PY
rt create --bundle "$bundle" "$id" </dev/null >/dev/null 2>"$tmp/err" && fail "a relative mount destination was accepted"
grep -q 'mounts\[[0-9]*\].destination' "$tmp/err" || fail "the bad mount's error: '$(cat "$tmp/err")'"

if [ $failures = 0 ]; then
  echo "e2e/oci_config: all checks passed"
  exit 0
fi
echo "$failures check(s) failed"
exit 1
