# Driving a program on a real terminal from an e2e test: a detached tmux session of a given
# size, and waits for what its screen shows. Sourced by podman_test.sh and containerd_test.sh.

# term_start SESSION ROWS COLS COMMAND: COMMAND runs on the session's terminal; after it, the
# terminal shows "exited-STATUS" and stays 30 s for the test to read.
term_start() {
  tmux new-session -d -s "$1" -x "$3" -y "$2" "$4; echo exited-\$?; sleep 30"
}
term_screen() { tmux capture-pane -t "$1" -p; }
# term_await SESSION PATTERN: until the screen matches (grep), 30 s at most.
term_await() {
  for _ in $(seq 300); do term_screen "$1" | grep -q "$2" && return 0; sleep 0.1; done
  return 1
}
term_keys() { tmux send-keys -t "$@"; }
term_stop() { tmux kill-session -t "$1" 2>/dev/null; }
