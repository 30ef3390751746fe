// The line discipline between a pty's master and its replica (Linux's N_TTY): input processing
// (ISTRIP, INLCR, IGNCR, ICRNL, IXON), signal characters (ISIG), canonical line editing (VERASE,
// VWERASE, VKILL, VEOF, VEOL, VEOL2, VREPRINT, VLNEXT), echo (ECHO, ECHOE, ECHOK, ECHOKE,
// ECHOCTL, ECHONL) and output processing (OPOST with ONLCR, OCRNL, ONOCR, ONLRET, XTABS).
//
// Pure state: no locks and no waits. The Terminal that owns it serialises every call under its
// own lock and decides when readers and writers sleep.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sentry/fsimpl/devpts/queue.h"
#include "sentry/fsimpl/devpts/termios.h"

namespace sentry::fsimpl::devpts {

class LineDiscipline {
 public:
  LineDiscipline() : termios_(DefaultTermios()) {}

  const KernelTermios& termios() const { return termios_; }
  // TCSETS: leaving canonical mode makes the line being edited readable as it is.
  void SetTermios(const KernelTermios& t);
  bool canonical() const { return termios_.c_lflag & ICANON; }

  // The master writes: processes bytes from the front of `in` while the replica's input has
  // room, and returns how many it consumed. Signal characters add their signals (SIGINT,
  // SIGQUIT, SIGTSTP) to `signals`, for the foreground process group.
  uint64_t ReceiveInput(std::string_view in, std::vector<int>* signals);
  // Whether the master's writes can go on (room in the replica's input).
  bool InputRoom() const;

  // The replica reads: what a read may take now (FIONREAD), and taking it. A canonical read
  // takes at most one line; `*eof` says it met an end-of-file mark (a read that returns 0).
  uint64_t InputReadable() const { return input_.Readable(canonical()); }
  bool ReplicaReadable() const { return canonical() ? input_.HasRecord() : input_.size() > 0; }
  std::string ReadInput(uint64_t max, bool* eof);

  // The replica writes: output processing into the master's queue, while it has room. Returns
  // how many bytes of `out` were consumed.
  uint64_t WriteOutput(std::string_view out);
  bool OutputRoom() const { return !stopped_ && output_.size() < kOutputCapacity; }

  // The master reads.
  uint64_t OutputSize() const { return output_.size(); }
  std::string ReadOutput(uint64_t max);

  void FlushInput();
  void FlushOutput() { output_.clear(); }
  // TCXONC: output stopped (TCOOFF or VSTOP) or started again.
  void SetStopped(bool stopped) { stopped_ = stopped; }
  // TCIOFF/TCION: a STOP or START character for the other side.
  void SendControlChar(int index);

 private:
  bool Is(char c, int index) const {
    uint8_t cc = termios_.c_cc[index];
    return cc != 0 && static_cast<uint8_t>(c) == cc;  // 0 is _POSIX_VDISABLE
  }
  void ReceiveChar(char c, std::vector<int>* signals);
  void ReceiveCanonical(char c);
  // Removes characters from the line being edited: one (VERASE), a word (VWERASE) or all.
  enum class Erase { kChar, kWord, kLine };
  void EraseFromLine(Erase what, char erase_char);
  // The line being edited becomes readable (empty: an end-of-file mark).
  void FinishLine();
  // Echo: `c` as typed (control characters as ^X under ECHOCTL) or raw, through OPOST.
  void Echo(char c);
  void EchoRaw(std::string_view s);
  // One byte of output through OPOST into output_.
  void Output(char c);

  KernelTermios termios_;
  InputQueue input_;
  std::string line_;      // canonical mode: the line being edited
  bool lnext_ = false;    // VLNEXT: the next character is taken literally
  bool stopped_ = false;  // output stopped by VSTOP / TCOOFF
  std::string output_;    // processed output for the master
  uint64_t column_ = 0;   // where the output is on its line, for ONOCR, tabs and erasing
};

}  // namespace sentry::fsimpl::devpts
