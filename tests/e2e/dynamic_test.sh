#!/bin/bash
# e2e/dynamic: dynamically linked programs from the host's root, served read-only by the gofer:
# the dynamic linker and libc come through the sandbox's VFS, and what they print matches the
# host's.
set -u
runsc=$(readlink -f "$1")
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

want=$(ls -l --time-style=+%s /etc)
got=$(timeout 60 "$runsc" do --platform=ptrace /bin/ls -l --time-style=+%s /etc 2>&1)
[ "$want" = "$got" ] || { fail "ls -l /etc differs from the host's"; diff <(echo "$want") <(echo "$got") | head -20; }

got=$(timeout 60 "$runsc" do --platform=ptrace /bin/cat /etc/passwd 2>&1)
[ "$got" = "$(cat /etc/passwd)" ] || fail "cat /etc/passwd differs"

got=$(timeout 60 "$runsc" do --platform=ptrace /bin/sh -c 'echo from sh; exit 7' 2>&1)
rc=$?
[ "$got" = "from sh" ] && [ $rc = 7 ] || fail "sh -c printed '$got' and exited $rc"

# The working directory comes from the caller, and relative paths resolve in it.
got=$(cd /usr/bin && timeout 60 "$runsc" do --platform=ptrace ./pwd -P 2>&1)
[ "$got" = /usr/bin ] || fail "pwd in /usr/bin printed '$got'"

# The root is writable in the sandbox (an overlay with a tmpfs upper layer) and the host's
# files never change: what the sandbox writes stays in the sandbox.
f=/etc/runsc-e2e-$$
got=$(timeout 60 "$runsc" do --platform=ptrace /bin/sh -c "echo x > $f && read l < $f && echo \$l" 2>&1)
[ "$got" = x ] || fail "write+read of $f in the sandbox printed '$got'"
[ ! -e "$f" ] || { rm -f "$f"; fail "the sandbox's write reached the host's $f"; }
got=$(timeout 60 "$runsc" do --platform=ptrace /bin/sh -c 'echo changed > /etc/hostname; read h < /etc/hostname; echo $h' 2>&1)
[ "$got" = changed ] || fail "overwriting /etc/hostname in the sandbox printed '$got'"
[ "$(cat /etc/hostname)" != changed ] || fail "the sandbox changed the host's /etc/hostname"

# Processes: a shell forks, execs and waits; pipelines connect them.
got=$(timeout 60 "$runsc" do --platform=ptrace /bin/sh -c 'f=/tmp/e2e-$$; echo x > $f && cat $f && rm $f && ls $f 2>/dev/null; echo done' 2>&1)
[ "$got" = "$(printf 'x\ndone')" ] || fail "fork+exec through sh printed '$got'"
got=$(timeout 60 "$runsc" do --platform=ptrace /bin/sh -c 'ls /etc | sort | head -3 | wc -l' 2>&1)
[ "$got" = 3 ] || fail "a pipeline printed '$got'"
timeout 60 "$runsc" do --platform=ptrace /bin/sh -c '/bin/sh -c "exit 5"; exit $(($? + 1))' >/dev/null 2>&1
rc=$?
[ $rc = 6 ] || fail "a child's exit status through wait came back as $rc"

if [ $failures = 0 ]; then
  echo "e2e/dynamic: all checks passed"
  exit 0
fi
echo "$failures check(s) failed"
exit 1
