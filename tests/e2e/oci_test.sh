#!/bin/bash
# e2e/oci: runsc as an OCI runtime, with runc's command line. A busybox-static bundle made here
# goes through the lifecycle (spec, create, state, start, exec, ps, list, kill, wait, delete,
# run), and the error cases: unknown id, duplicate id, start twice, delete running, kill
# stopped, a missing executable, a malformed config.json. Every command is a runsc process of
# its own; nothing may be left behind.
#
# usage: oci_test.sh RUNSC
set -u
runsc=$(readlink -f "$1")
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

busybox=$(command -v busybox || true)
if [ -z "$busybox" ] || ! file -L "$busybox" 2>/dev/null | grep -q 'statically linked'; then
  [ -x /bin/busybox ] && busybox=/bin/busybox
fi
if [ -z "$busybox" ]; then
  apt-get install -y -qq busybox-static >/dev/null 2>&1 || true
  busybox=$(command -v busybox || true)
fi
[ -n "$busybox" ] || { echo "SKIP: busybox-static cannot be installed"; exit 0; }

tmp=$(mktemp -d /tmp/runsc_oci.XXXXXX)
bundle=$tmp/bundle
root=$tmp/state
ids=()
rt() { timeout 30 "$runsc" --root "$root" "$@"; }
cleanup() {
  for id in "${ids[@]}"; do rt delete --force "$id" >/dev/null 2>&1; done
  rm -rf "$tmp"
}
trap cleanup EXIT
mkdir -p "$bundle/rootfs/bin"
cp "$busybox" "$bundle/rootfs/bin/busybox"
for a in sh sleep echo cat ls true false pwd hostname; do ln -s busybox "$bundle/rootfs/bin/$a"; done
mkdir -p "$bundle/rootfs/tmp"

# spec: runc's default config.
(cd "$bundle" && "$runsc" spec) || fail "spec failed"
python3 - "$bundle/config.json" <<'PY' || fail "spec wrote an unexpected config.json"
import json, sys
c = json.load(open(sys.argv[1]))
assert c["process"]["args"] == ["sh"], c["process"]["args"]
assert c["process"]["terminal"] is True
assert c["root"]["path"] == "rootfs"
assert {m["destination"] for m in c["mounts"]} >= {"/proc", "/dev", "/sys"}
assert {n["type"] for n in c["linux"]["namespaces"]} >= {"pid", "mount", "network"}
PY
(cd "$bundle" && "$runsc" spec 2>/dev/null) && fail "spec over an existing config.json succeeded"

# config ARGS...: the bundle's process runs ARGS, without a terminal.
config() {
  python3 - "$bundle/config.json" "$@" <<'PY'
import json, sys
p = sys.argv[1]; c = json.load(open(p))
c["process"]["terminal"] = False; c["process"]["args"] = sys.argv[2:]
c["process"]["env"].append("GREETING=hello-env"); c["hostname"] = "oci-test"
json.dump(c, open(p, "w"))
PY
}
state_field() { rt state "$1" | python3 -c "import json,sys; print(json.load(sys.stdin)[\"$2\"])"; }

# The lifecycle.
config sleep 100
id=oci-$$
ids+=("$id")
rt create --bundle "$bundle" --pid-file "$tmp/pid" "$id" </dev/null >/dev/null 2>&1 || fail "create failed"
rt state "$id" | python3 -c "
import json, sys
d = json.load(sys.stdin)
want = {'ociVersion', 'id', 'status', 'pid', 'bundle', 'rootfs', 'created', 'owner', 'annotations'}
assert want <= set(d), set(d)
assert d['id'] == '$id' and d['status'] == 'created' and d['pid'] > 0, d
assert d['bundle'] == '$bundle' and d['rootfs'] == '$bundle/rootfs', d
" || fail "state after create"
[ "$(cat "$tmp/pid" 2>/dev/null)" = "$(state_field "$id" pid)" ] || fail "the pid file is not state's pid"
rt create --bundle "$bundle" "$id" >/dev/null 2>&1 && fail "a duplicate id was accepted"
[ "$(state_field "$id" status)" = created ] || fail "a duplicate create changed the container"
rt exec "$id" true 2>/dev/null && fail "exec in a created container succeeded"
rt start "$id" || fail "start failed"
[ "$(state_field "$id" status)" = running ] || fail "state after start: $(state_field "$id" status)"
rt start "$id" 2>/dev/null && fail "starting twice succeeded"
out=$(rt exec "$id" echo hi-exec | cat)
[ "$out" = hi-exec ] || fail "exec printed '$out'"
rt exec "$id" sh -c 'exit 7'
[ $? = 7 ] || fail "exec's exit status was not passed through"
out=$(rt exec "$id" sh -c 'echo $GREETING; hostname; pwd')
[ "$out" = "$(printf 'hello-env\noci-test\n/')" ] || fail "exec saw env/hostname/cwd '$out'"
out=$(rt exec --cwd /tmp --env X=y "$id" sh -c 'echo $X; pwd')
[ "$out" = "$(printf 'y\n/tmp')" ] || fail "exec --cwd --env printed '$out'"
out=$(echo piped | rt exec "$id" cat)
[ "$out" = piped ] || fail "exec's stdin: '$out'"
rt exec "$id" nonexistent-program 2>"$tmp/err"
[ $? = 127 ] || fail "exec of a missing program: not 127"
grep -q 'executable file not found' "$tmp/err" || fail "exec of a missing program said '$(cat "$tmp/err")'"
cat >"$tmp/process.json" <<'JSON'
{"args": ["sh", "-c", "echo from-process-file; exit 3"], "env": ["PATH=/bin"], "cwd": "/"}
JSON
out=$(rt exec --process "$tmp/process.json" "$id")
[ $? = 3 ] || fail "exec --process: status not passed through"
[ "$out" = from-process-file ] || fail "exec --process printed '$out'"
rt exec --process "$tmp/process.json" --detach --pid-file "$tmp/exec.pid" "$id" >/dev/null ||
  fail "exec --detach failed"
[ -s "$tmp/exec.pid" ] || fail "exec --detach wrote no pid file"
ps_out=$(rt ps "$id")
echo "$ps_out" | grep -q 'sleep 100' || fail "ps does not show init: '$ps_out'"
rt ps --format json "$id" | python3 -c 'import json,sys; assert 1 in json.load(sys.stdin)' ||
  fail "ps --format json"
rt list | grep -q "^$id[[:space:]].*running" || fail "list: '$(rt list)'"
rt list --format json | python3 -c "import json,sys; assert any(c['id']=='$id' for c in json.load(sys.stdin))" ||
  fail "list --format json"
rt delete "$id" 2>/dev/null && fail "deleting a running container succeeded"
rt kill "$id" TERM || fail "kill TERM failed"  # init has no handler: ignored, as Linux does
sleep 0.5
[ "$(state_field "$id" status)" = running ] || fail "TERM ended an init without a handler"
(rt wait "$id" >"$tmp/wait" 2>&1; echo $? >>"$tmp/wait") &
waiter=$!
sleep 0.5
rt kill "$id" KILL || fail "kill KILL failed"
wait $waiter
[ "$(tail -1 "$tmp/wait")" = 137 ] || fail "wait returned '$(cat "$tmp/wait")', wanted 137"
# wait returns once the sandbox is gone: no grace period.
[ "$(state_field "$id" status)" = stopped ] || fail "state after kill: $(state_field "$id" status)"
rt kill "$id" KILL 2>/dev/null && fail "killing a stopped container succeeded"
rt delete "$id" || fail "delete failed"
rt state "$id" >/dev/null 2>&1 && fail "state of a deleted container succeeded"
[ ! -e "$root/$id" ] || fail "delete left $root/$id"
left=$(ps -eo args | grep -c "[r]unsc.*$id")
[ "$left" = 0 ] || fail "$left processes left behind after delete"

# Unknown ids.
for cmd in state start delete "kill" ps "exec"; do
  rt $cmd no-such-id true >/dev/null 2>&1 && fail "$cmd of an unknown id succeeded"
done

# Kill (and delete --force) in the created state; kill by number.
id2=oci2-$$
ids+=("$id2")
rt create --bundle "$bundle" "$id2" </dev/null >/dev/null 2>&1 || fail "create (2) failed"
rt kill "$id2" 9 || fail "kill 9 of a created container failed"
# kill only sends the signal, as runc's does: give the sandbox time to go.
for _ in $(seq 100); do [ "$(state_field "$id2" status)" = stopped ] && break; sleep 0.1; done
[ "$(state_field "$id2" status)" = stopped ] || fail "kill in created: $(state_field "$id2" status)"
rt delete "$id2" || fail "delete (2) failed"
# delete --force of a created container (what containerd's task delete of a created task does).
rt create --bundle "$bundle" "$id2" </dev/null >/dev/null 2>&1 || fail "create (2b) failed"
sandbox_pid=$(state_field "$id2" pid)
rt delete --force "$id2" || fail "delete --force of a created container failed"
[ ! -e "$root/$id2" ] || fail "delete --force of a created container left its state"
# Gone, or a zombie waiting for the host's init to reap it (runsc is not its parent).
state=$(awk '{print $3}' "/proc/$sandbox_pid/stat" 2>/dev/null)
[ -z "$state" ] || [ "$state" = Z ] || fail "the created container's sandbox outlived delete --force"
rt create --bundle "$bundle" "$id2" </dev/null >/dev/null 2>&1 || fail "create (3) failed"
rt start "$id2" || fail "start (3) failed"
rt delete --force "$id2" || fail "delete --force of a running container failed"
[ ! -e "$root/$id2" ] || fail "delete --force left its state"
left=$(ps -eo args | grep -c "[r]unsc.*$id2")
[ "$left" = 0 ] || fail "$left processes left behind after delete --force"

# run: in the foreground, the exit status passed through, the container gone afterwards.
config sh -c 'echo run-out; exit 42'
out=$(rt run --bundle "$bundle" "run-$$" </dev/null)
[ $? = 42 ] || fail "run's exit status was not passed through"
[ "$out" = run-out ] || fail "run printed '$out'"
rt state "run-$$" >/dev/null 2>&1 && fail "run left its container"

# root.readonly (true in spec's config): the root refuses writes. false: the container's writes
# reach the bundle's rootfs, as with runc.
config sh -c 'if echo x >/written; then echo wrote; else echo refused; fi'
out=$(rt run --bundle "$bundle" "ro-$$" </dev/null 2>/dev/null)
[ "$out" = refused ] || fail "a read-only root: '$out'"
[ ! -e "$bundle/rootfs/written" ] || fail "a read-only root let a write through"
python3 -c "
import json; p='$bundle/config.json'; c=json.load(open(p)); c['root']['readonly']=False; json.dump(c, open(p,'w'))"
out=$(rt run --bundle "$bundle" "rw-$$" </dev/null 2>/dev/null)
[ "$out" = wrote ] || fail "a writable root: '$out'"
[ "$(cat "$bundle/rootfs/written" 2>&1)" = x ] || fail "a writable root's write did not reach the rootfs"

# A missing executable fails at create, leaving nothing.
config no-such-program
rt create --bundle "$bundle" "bad-$$" 2>"$tmp/err" </dev/null >/dev/null && fail "create of a missing program succeeded"
grep -q 'executable file not found in \$PATH' "$tmp/err" || fail "missing program: '$(cat "$tmp/err")'"
[ ! -e "$root/bad-$$" ] || fail "a failed create left its state directory"
# A malformed config names the field.
python3 -c "
import json; p='$bundle/config.json'; c=json.load(open(p)); c['process']['args']='sh'; json.dump(c, open(p,'w'))"
rt create --bundle "$bundle" "bad-$$" 2>"$tmp/err" </dev/null >/dev/null && fail "a malformed config was accepted"
grep -q 'process.args' "$tmp/err" || fail "a malformed config said '$(cat "$tmp/err")'"
[ ! -e "$root/bad-$$" ] || fail "a malformed config left its state directory"
left=$(ps -eo args | grep -c "[r]unsc.*bad-$$")
[ "$left" = 0 ] || fail "a failed create left $left processes"

"$runsc" features | python3 -c 'import json,sys; assert "ociVersionMax" in json.load(sys.stdin)' ||
  fail "features"
"$runsc" help | grep -q create || fail "help does not list create"

[ $failures = 0 ] && echo "e2e/oci: all passed"
exit $((failures > 0))
