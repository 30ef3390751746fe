#!/bin/bash
# e2e/terminal: a container with process.terminal = true. runsc create makes a host pty and
# sends its master to a --console-socket (runc's protocol); a python driver receives it and
# types into busybox sh, which runs on /dev/pts/0 of the sandbox's devpts as its controlling
# terminal: `tty` names it, `stty size` follows a TIOCSWINSZ on the console's master, ^C typed
# there interrupts a foreground `sleep` (the sandbox's line discipline sends SIGINT), and
# `exit 3` is the container's exit status. Then `runsc exec --tty` does the same for a process
# started in the running container, and `runsc run` without a socket uses its own terminal
# (made raw while it runs, restored after).
#
# usage: terminal_test.sh RUNSC
set -u
runsc=$(readlink -f "$1")

busybox=$(command -v busybox || true)
if [ -z "$busybox" ] || ! file -L "$busybox" 2>/dev/null | grep -q 'statically linked'; then
  [ -x /bin/busybox ] && busybox=/bin/busybox
fi
if [ -z "$busybox" ]; then
  apt-get install -y -qq busybox-static >/dev/null 2>&1 || true
  busybox=$(command -v busybox || true)
fi
[ -n "$busybox" ] || { echo "SKIP: busybox-static cannot be installed"; exit 0; }

tmp=$(mktemp -d /tmp/runsc_tty.XXXXXX)
bundle=$tmp/bundle
root=$tmp/state
id=tty-$$
cleanup() {
  timeout 30 "$runsc" --root "$root" delete --force "$id" >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT
mkdir -p "$bundle/rootfs/bin" "$bundle/rootfs/tmp"
cp "$busybox" "$bundle/rootfs/bin/busybox"
for a in sh sleep echo cat tty stty ls true; do ln -s busybox "$bundle/rootfs/bin/$a"; done
(cd "$bundle" && "$runsc" spec) || { echo "FAIL: spec"; exit 1; }
python3 - "$bundle/config.json" <<'PY'
import json, sys
p = sys.argv[1]; c = json.load(open(p))
c["process"]["terminal"] = True
c["process"]["args"] = ["sh"]
c["process"]["env"].append("PS1=PROMPT> ")
json.dump(c, open(p, "w"))
PY

exec timeout 240 python3 - "$runsc" "$root" "$bundle" "$id" "$tmp" <<'PY'
import array, fcntl, os, select, socket, struct, subprocess, sys, termios, time

runsc, root, bundle, cid, tmp = sys.argv[1:]
failures = []

def rt(*args, **kw):
    return subprocess.run([runsc, "--root", root, *args], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=60, **kw)

def receive_console(sock):
    """Accepts the one connection runc's protocol makes and takes the fd it carries."""
    conn, _ = sock.accept()
    with conn:
        msg, fds, _, _ = socket.recv_fds(conn, 4096, 1)
    assert fds, "no fd arrived on the console socket"
    return msg, fds[0]

class Console:
    def __init__(self, fd):
        self.fd = fd
        self.seen = b""

    def send(self, data):
        os.write(self.fd, data)

    def expect(self, needle, timeout=30):
        """Reads until `needle` (bytes) has appeared since the last expect; returns what came."""
        deadline = time.monotonic() + timeout
        while needle not in self.seen:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"waiting for {needle!r}; got {self.seen[-300:]!r}")
            r, _, _ = select.select([self.fd], [], [], left)
            if r:
                try:
                    chunk = os.read(self.fd, 4096)
                except OSError:
                    chunk = b""
                if not chunk:
                    raise EOFError(f"console closed waiting for {needle!r}; got {self.seen[-300:]!r}")
                self.seen += chunk
        head, _, self.seen = self.seen.partition(needle)
        return head

    def resize(self, rows, cols):
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

def check(what, cond):
    if not cond:
        failures.append(what)
        print("FAIL:", what, flush=True)

def drive_shell(con, tag):
    """The checks a shell on a sandbox terminal must pass; `tag` names which shell."""
    con.expect(b"PROMPT> ")
    con.send(b"tty\r")
    out = con.expect(b"PROMPT> ")
    print(f"{tag}: tty ->", out, flush=True)
    return out

def resize_and_check(con, tag, rows, cols):
    con.resize(rows, cols)
    want = f"{rows} {cols}".encode()
    # The new size reaches the sandbox through the host (SIGWINCH to runsc's watcher, then the
    # sentry): ask until it has arrived.
    for _ in range(40):
        con.send(b"stty size\r")
        out = con.expect(b"PROMPT> ")
        if want in out:
            return True
        time.sleep(0.25)
    print(f"{tag}: stty size ->", out, flush=True)
    return False

def interrupt_sleep(con, tag, ps_pattern):
    con.send(b"sleep 100\r")
    # ^C only once the sleep runs, so that it is the sleep that the SIGINT ends.
    for _ in range(100):
        if ps_pattern in rt("ps", cid).stdout:
            break
        time.sleep(0.1)
    start = time.monotonic()
    con.send(b"\x03")
    con.expect(b"^C")  # ECHOCTL's echo of the interrupt character
    con.expect(b"PROMPT> ", timeout=60)
    con.send(b"echo status=$?\r")
    out = con.expect(b"PROMPT> ")
    check(f"{tag}: sleep ended by ^C with status 130 (got {out!r})", b"status=130" in out)

sock_path = os.path.join(tmp, "console.sock")
sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
sock.bind(sock_path)
sock.listen(1)

# runsc create sends the console, then returns; start runs the shell.
create = subprocess.Popen([runsc, "--root", root, "create", "--bundle", bundle,
                           "--console-socket", sock_path, cid],
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
sock.settimeout(60)
msg, master = receive_console(sock)
out, err = create.communicate(timeout=60)
check(f"create: status {create.returncode}, {err!r}", create.returncode == 0)
check(f"the console message names the master ({msg!r})", msg == b"/dev/ptmx")
check("the console is a terminal", os.isatty(master))
con = Console(master)
con.resize(24, 80)
r = rt("start", cid)
check(f"start: {r.stderr!r}", r.returncode == 0)

try:
    out = drive_shell(con, "init")
    check(f"init's tty is /dev/pts/0 ({out!r})", b"/dev/pts/0" in out)
    check("init's terminal size follows the console", resize_and_check(con, "init", 33, 97))
    interrupt_sleep(con, "init", "sleep 100")

    # runsc exec --tty: another sandbox terminal for a process started later.
    exec_sock_path = os.path.join(tmp, "exec.sock")
    exec_sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    exec_sock.bind(exec_sock_path)
    exec_sock.listen(1)
    exec_sock.settimeout(60)
    ex = subprocess.Popen([runsc, "--root", root, "exec", "--tty", "--console-socket",
                           exec_sock_path, "--env", "PS1=PROMPT> ", cid, "sh"],
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE)
    _, exec_master = receive_console(exec_sock)
    econ = Console(exec_master)
    out = drive_shell(econ, "exec")
    check(f"exec's tty is a new /dev/pts/N ({out!r})",
          b"/dev/pts/" in out and b"/dev/pts/0" not in out)
    check("exec's terminal size follows its console", resize_and_check(econ, "exec", 41, 123))
    econ.send(b"exit 5\r")
    try:
        _, err = ex.communicate(timeout=60)
        check(f"exec --tty: exit status 5 (got {ex.returncode}, {err!r})", ex.returncode == 5)
    except subprocess.TimeoutExpired:
        ex.kill()
        check("exec --tty ended after exit", False)

    # The container's own exit status passes through.
    waiter = subprocess.Popen([runsc, "--root", root, "wait", cid], stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(0.5)
    con.send(b"exit 3\r")
    waiter.communicate(timeout=60)
    check(f"wait: exit status 3 (got {waiter.returncode})", waiter.returncode == 3)
except (TimeoutError, EOFError) as e:
    check(str(e), False)

# runsc run on its own terminal: a pty of ours, runsc leading a session on it.
m, s = os.openpty()
fcntl.ioctl(m, termios.TIOCSWINSZ, struct.pack("HHHH", 25, 70, 0, 0))
def on_own_terminal():
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)
run = subprocess.Popen([runsc, "--root", root, "run", "--bundle", bundle, cid + "-run"],
                       stdin=s, stdout=s, stderr=s, preexec_fn=on_own_terminal)
os.close(s)
rcon = Console(m)
try:
    out = drive_shell(rcon, "run")
    check(f"run's tty is /dev/pts/0 ({out!r})", b"/dev/pts/0" in out)
    check("run's terminal size follows its own terminal", resize_and_check(rcon, "run", 27, 88))
    rcon.send(b"exit 4\r")
    run.wait(timeout=60)
    check(f"run: exit status 4 (got {run.returncode})", run.returncode == 4)
    check("run restored its terminal's modes", termios.tcgetattr(m)[3] & termios.ICANON)
except (TimeoutError, EOFError, subprocess.TimeoutExpired) as e:
    run.kill()
    check(str(e), False)

if failures:
    print(f"{len(failures)} failure(s)")
    sys.exit(1)
print("PASS")
PY
