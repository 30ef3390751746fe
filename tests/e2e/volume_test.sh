#!/bin/bash
# e2e/volume: `runsc do --volume HOST:SANDBOX[:ro]` mounts a host directory (or file), served by
# the gofer, in the sandbox: writes reach the host, :ro makes them EROFS, and ".." from the
# volume's root is the sandbox's parent directory, never the host directory's.
#
# usage: volume_test.sh RUNSC
set -u
runsc=$(readlink -f "$1")
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

tmp=$(mktemp -d /tmp/runsc_volume.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/data"
echo pre-existing >"$tmp/data/pre"
echo "outside the volume" >"$tmp/outside-marker"
echo "a single file" >"$tmp/file.txt"
# A sandbox path whose parent is not the host directory's parent, and does not exist on the host:
# the sandbox makes it (in its overlay, not on the host).
vol=/opt/runsc-e2e-vol-$$
[ ! -e "$vol" ] || { echo "$vol exists on the host; cannot test"; exit 1; }

sandbox() { timeout 60 "$runsc" do --platform=ptrace "$@"; }

# Writes through a volume reach the host directory; what is there already shows.
got=$(sandbox --volume "$tmp/data:$vol" /bin/sh -c \
  "cat $vol/pre && echo written >$vol/new && mkdir $vol/dir && echo deep >$vol/dir/f && rm $vol/pre && ls $vol" 2>&1)
[ "$got" = "$(printf 'pre-existing\ndir\nnew')" ] || fail "writing through the volume printed '$got'"
[ "$(cat "$tmp/data/new" 2>&1)" = written ] || fail "the host's data/new is not 'written'"
[ "$(cat "$tmp/data/dir/f" 2>&1)" = deep ] || fail "the host's data/dir/f is not 'deep'"
[ ! -e "$tmp/data/pre" ] || fail "removing pre in the sandbox left the host's file"
[ ! -e "$vol" ] || fail "the mount point $vol was made on the host"
echo pre-existing >"$tmp/data/pre"

# :ro: writes fail with EROFS and the host directory does not change. /proc/mounts shows the
# volume as a bind mount of the host file system it lies on, read-only.
host_type=$(findmnt -n -o FSTYPE -T "$tmp/data")
host_source=$(findmnt -n -o SOURCE -T "$tmp/data")
got=$(sandbox --volume "$tmp/data:$vol:ro" /bin/sh -c \
  "cat $vol/pre; echo x >$vol/g; mkdir $vol/d2; grep ' $vol ' /proc/self/mounts" 2>&1)
case $got in
  *"pre-existing"*"Read-only file system"*"Read-only file system"*"$host_source $vol $host_type ro,"*) ;;
  *) fail "a :ro volume printed '$got' (wanted the file, two EROFS and a ro $host_type mount of $host_source)" ;;
esac
# mountinfo's root field is the directory's path inside that file system: the host mount's own
# root, then the path below its mount point.
data=$(readlink -f "$tmp/data")
target=$(findmnt -n -o TARGET -T "$data")
fsroot=$(findmnt -n -o FSROOT -T "$data")
below=${data#"${target%/}"}
want_root="${fsroot%/}$below"
got=$(sandbox --volume "$tmp/data:$vol" /bin/sh -c "grep ' $vol ' /proc/self/mountinfo" 2>&1)
case $got in
  *" $want_root $vol rw,"*"- $host_type $host_source rw"*) ;;
  *) fail "the volume's mountinfo line is '$got' (wanted root $want_root, $host_type from $host_source)" ;;
esac
[ ! -e "$tmp/data/g" ] && [ ! -e "$tmp/data/d2" ] || fail "a :ro volume changed the host directory"

# ".." from the volume's root is the sandbox's /opt, which is the host's /opt (read-only, through
# the overlay) plus the mount point; the host directory's parent is out of reach.
want=$( (ls -A /opt 2>/dev/null; basename "$vol") | sort)
got=$(sandbox --volume "$tmp/data:$vol" /bin/sh -c "cd $vol/.. && pwd && ls -A | sort" 2>&1)
[ "$got" = "$(printf '/opt\n%s' "$want")" ] || fail "cd VOL/..; ls printed '$got', wanted /opt and '$want'"
got=$(sandbox --volume "$tmp/data:$vol" /bin/sh -c \
  "cat $vol/../outside-marker 2>/dev/null; cd $vol && cd .. && cd .. && pwd; ls $vol/../.. | grep -c '^opt\$'" 2>&1)
[ "$got" = "$(printf '/\n1')" ] || fail "climbing out of the volume printed '$got'"

# Repeatable, with files as well as directories; a file volume is written in place.
mkdir "$tmp/second"
got=$(sandbox -v "$tmp/data:$vol" -v "$tmp/second:/srv/second:ro" -v "$tmp/file.txt:/etc/e2e-file" \
  /bin/sh -c "echo again >>/etc/e2e-file && cat /etc/e2e-file $vol/pre && ls /srv/second && touch /srv/second/x" 2>&1)
case $got in
  "a single file"*"again"*"pre-existing"*"Read-only file system"*) ;;
  *) fail "three volumes printed '$got'" ;;
esac
[ "$(cat "$tmp/file.txt")" = "$(printf 'a single file\nagain')" ] || fail "the file volume did not reach the host"

# Bad specifications are refused before anything starts.
sandbox --volume "$tmp/no-such-dir:/x" /bin/true >/dev/null 2>&1
[ $? = 2 ] || fail "a missing host directory was not refused with status 2"
sandbox --volume "$tmp/data:relative" /bin/true >/dev/null 2>&1
[ $? = 2 ] || fail "a relative sandbox path was not refused with status 2"

# MAP_SHARED of a host file: a store through the mapping reaches the host once the process exits
# (the last mapping goes: the page cache writes back), with the mapping still in place; a
# writable shared mapping needs a file open for writing (EACCES), and a :ro volume gives none.
printf 'mapped file\n' >"$tmp/data/mapped"
got=$(sandbox --volume "$tmp/data:$vol" /usr/bin/python3 -c "
import mmap, os
f = open('$vol/mapped', 'r+b')
m = mmap.mmap(f.fileno(), 0)
m[0:6] = b'MAPPED'
try:
    mmap.mmap(os.open('$vol/mapped', os.O_RDONLY), 0, access=mmap.ACCESS_WRITE)
except PermissionError:
    print('EACCES')
os._exit(0)" 2>&1)
[ "$got" = EACCES ] || fail "a writable shared mapping of a read-only fd printed '$got'"
[ "$(cat "$tmp/data/mapped" 2>&1)" = "MAPPED file" ] ||
  fail "a store through a shared mapping left the host file as '$(cat "$tmp/data/mapped")'"
got=$(sandbox --volume "$tmp/data:$vol:ro" /usr/bin/python3 -c "
import mmap, os
fd = os.open('$vol/mapped', os.O_RDONLY)
print(mmap.mmap(fd, 0, mmap.MAP_SHARED, mmap.PROT_READ)[0:6].decode())
try:
    os.open('$vol/mapped', os.O_RDWR)
except OSError as e:
    print(e.strerror)
try:
    mmap.mmap(fd, 0, access=mmap.ACCESS_WRITE)
except PermissionError:
    print('EACCES')" 2>&1)
[ "$got" = "$(printf 'MAPPED\nRead-only file system\nEACCES')" ] ||
  fail "shared mappings of a :ro volume's file printed '$got'"

if [ $failures = 0 ]; then
  echo "e2e/volume: all checks passed"
  exit 0
fi
echo "$failures check(s) failed"
exit 1
