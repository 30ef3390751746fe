#!/bin/bash
# e2e/job_control: a bash script using pipelines, command substitution, subshells, traps,
# background jobs, kill -STOP / -CONT and wait / wait -n prints the same in the sandbox as on
# the host.
set -u
runsc=$(readlink -f "$1")
script=$(dirname "$(readlink -f "$0")")/job_control.sh
want=$(cd / && bash "$script" 2>&1)
got=$(cd / && timeout 120 "$runsc" do --platform=ptrace /bin/bash "$script" 2>&1)
rc=$?
if [ "$want" != "$got" ] || [ $rc != 0 ]; then
  echo "FAIL: the script's output differs (sandbox exit status $rc)"
  diff <(echo "$want") <(echo "$got")
  exit 1
fi
echo "PASS"
