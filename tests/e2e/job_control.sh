#!/bin/bash
# Run by tests/e2e/job_control_test.sh, natively and in the sandbox: both must print the same.
# Everything printed is deterministic (no pids, no timing).
set -u

echo "== pipelines"
printf 'c\na\nb\n' | sort | tr a-z A-Z | head -2
echo "pipestatus: $(true | false | true; echo "${PIPESTATUS[@]}")"

echo "== command substitution and subshells"
x=$(echo inner; exit 0)
echo "x=$x"
y=$( (echo nested; exit 4); echo "rc=$?")
echo "$y"
(cd /; echo "subshell pwd: $PWD")
( exit 9 ); echo "subshell exit: $?"

echo "== traps"
trap 'echo "USR1 trapped"' USR1
kill -USR1 $$
trap - USR1
trap 'echo "EXIT trap of a subshell"' EXIT; (trap 'echo "subshell EXIT"' EXIT; true); trap - EXIT
bash -c 'trap "echo TERM trapped; exit 3" TERM; kill -TERM $$; sleep 5'
echo "trapped child exited $?"

echo "== background jobs and wait"
(sleep 0.2; exit 5) &
p1=$!
(exit 6) &
p2=$!
wait $p1; echo "job 1: $?"
wait $p2; echo "job 2: $?"
gate=$(mktemp -u); mkfifo "$gate"
(read -r _ < "$gate"; exit 11) &  # ends only once the other has been waited for
(exit 12) &
wait -n; first=$?
echo go > "$gate"
wait -n; second=$?
rm -f "$gate"
echo "wait -n: $first then $second"
wait
echo "all waited"

echo "== stop and continue a background job"
fifo=$(mktemp -u); mkfifo "$fifo"
( read -r line < "$fifo"; echo "job read: $line"; exit 7 ) &
job=$!
kill -STOP $job
kill -STOP $job  # again: nothing changes
kill -CONT $job
echo "hello" > "$fifo"
wait $job
echo "continued job exited $?"
rm -f "$fifo"

echo "== a stopped job killed"
# In a subshell whose stderr is dropped: bash's "Killed" notice names the pid, and when it
# prints it depends on when SIGCHLD arrives.
(
  sleep 30 &
  job=$!
  kill -STOP $job
  kill -KILL $job
  wait $job
  echo "killed job: $?"
) 2>/dev/null

echo "== SIGTERM to a background job"
(
  sleep 30 &
  job=$!
  kill -TERM $job
  wait $job
  echo "terminated job: $?"
) 2>/dev/null

echo "== stop and continue a job twice, with a reader that restarts"
fifo=$(mktemp -u); mkfifo "$fifo"
( n=0; while read -r line; do n=$((n + 1)); done < "$fifo"; echo "lines: $n" ) &
job=$!
exec 3> "$fifo"
echo one >&3
kill -STOP $job; kill -CONT $job
echo two >&3
kill -STOP $job; kill -CONT $job
echo three >&3
exec 3>&-
wait $job
echo "reader: $?"
rm -f "$fifo"

echo "done"
