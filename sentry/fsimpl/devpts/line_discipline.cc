#include "sentry/fsimpl/devpts/line_discipline.h"

#include <signal.h>

#include <algorithm>

namespace sentry::fsimpl::devpts {
namespace {

bool IsControl(char c) {
  auto u = static_cast<uint8_t>(c);
  return u < 0x20 || u == 0x7f;
}

bool IsWordChar(char c) {
  auto u = static_cast<uint8_t>(c);
  return (u >= '0' && u <= '9') || (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || c == '_';
}

// Echo beyond this is dropped rather than queued without bound when nobody reads the master.
constexpr uint64_t kEchoLimit = 2 * kOutputCapacity;

}  // namespace

void LineDiscipline::SetTermios(const KernelTermios& t) {
  bool was_canonical = canonical();
  termios_ = t;
  if (was_canonical && !canonical() && !line_.empty()) {
    for (char c : line_) input_.AppendRaw(c);
    line_.clear();
  }
}

bool LineDiscipline::InputRoom() const { return input_.size() + line_.size() < kInputCapacity; }

uint64_t LineDiscipline::ReceiveInput(std::string_view in, std::vector<int>* signals) {
  uint64_t n = 0;
  while (n < in.size() && InputRoom()) ReceiveChar(in[n++], signals);
  return n;
}

void LineDiscipline::ReceiveChar(char c, std::vector<int>* signals) {
  const uint32_t iflag = termios_.c_iflag;
  const uint32_t lflag = termios_.c_lflag;
  if (iflag & ISTRIP) c &= 0x7f;
  if (lnext_) {
    lnext_ = false;
    if (lflag & ECHO) EchoRaw("\b");  // takes back the "^" echoed for VLNEXT
    if (canonical()) {
      if (line_.size() < kInputCapacity - 1) {
        line_.push_back(c);
        if (lflag & ECHO) Echo(c);
      }
    } else {
      input_.AppendRaw(c);
      if (lflag & ECHO) Echo(c);
    }
    return;
  }
  if (c == '\r') {
    if (iflag & IGNCR) return;
    if (iflag & ICRNL) c = '\n';
  } else if (c == '\n' && (iflag & INLCR)) {
    c = '\r';
  }
  if (iflag & IXON) {
    if (Is(c, VSTOP)) {
      stopped_ = true;
      return;
    }
    if (Is(c, VSTART)) {
      stopped_ = false;
      return;
    }
    if (iflag & IXANY) stopped_ = false;
  }
  if (lflag & ISIG) {
    int sig = Is(c, VINTR) ? SIGINT : Is(c, VQUIT) ? SIGQUIT : Is(c, VSUSP) ? SIGTSTP : 0;
    if (sig != 0) {
      signals->push_back(sig);
      if (!(lflag & NOFLSH)) {
        FlushInput();
        FlushOutput();
      }
      if (iflag & IXON) stopped_ = false;
      if (lflag & ECHO) Echo(c);
      return;
    }
  }
  if ((lflag & IEXTEN) && Is(c, VLNEXT)) {
    lnext_ = true;
    if ((lflag & ECHO) && (lflag & ECHOCTL)) EchoRaw("^");
    return;
  }
  if (canonical()) {
    ReceiveCanonical(c);
    return;
  }
  input_.AppendRaw(c);
  if (lflag & ECHO) Echo(c);
}

void LineDiscipline::ReceiveCanonical(char c) {
  const uint32_t lflag = termios_.c_lflag;
  if (Is(c, VERASE)) {
    EraseFromLine(Erase::kChar, c);
    return;
  }
  if (Is(c, VKILL)) {
    EraseFromLine(Erase::kLine, c);
    return;
  }
  if ((lflag & IEXTEN) && Is(c, VWERASE)) {
    EraseFromLine(Erase::kWord, c);
    return;
  }
  if ((lflag & IEXTEN) && Is(c, VREPRINT)) {
    if (lflag & ECHO) {
      Echo(c);
      Output('\n');
      for (char l : line_) Echo(l);
    }
    return;
  }
  if (Is(c, VEOF)) {
    FinishLine();  // without the VEOF itself
    return;
  }
  if (c == '\n' || Is(c, VEOL) || Is(c, VEOL2)) {
    line_.push_back(c);
    if (c == '\n' ? (lflag & (ECHO | ECHONL)) : (lflag & ECHO)) Echo(c);
    FinishLine();
    return;
  }
  // A full line takes nothing more but its end (Linux keeps one byte for the newline).
  if (line_.size() >= kInputCapacity - 1) return;
  line_.push_back(c);
  if (lflag & ECHO) Echo(c);
}

void LineDiscipline::EraseFromLine(Erase what, char erase_char) {
  const uint32_t lflag = termios_.c_lflag;
  if (line_.empty()) return;
  const bool echo = lflag & ECHO;
  if (what == Erase::kLine && echo && !((lflag & ECHOK) && (lflag & ECHOKE) && (lflag & ECHOE))) {
    // Without visual erasing the kill character shows, then (ECHOK) a new line.
    line_.clear();
    Echo(erase_char);
    if (lflag & ECHOK) Output('\n');
    return;
  }
  if (what != Erase::kLine && echo && !(lflag & ECHOE)) {
    Echo(erase_char);
  }
  bool seen_word = false;
  while (!line_.empty()) {
    char last = line_.back();
    if (what == Erase::kWord) {
      if (IsWordChar(last)) {
        seen_word = true;
      } else if (seen_word) {
        break;
      }
    }
    line_.pop_back();
    if (echo && (lflag & ECHOE)) {
      // A control character took two columns (^X) when it was echoed.
      int columns = IsControl(last) && last != '\t' && (lflag & ECHOCTL) ? 2 : 1;
      for (int i = 0; i < columns; ++i) EchoRaw("\b \b");
    }
    if (what == Erase::kChar) break;
  }
}

void LineDiscipline::FinishLine() {
  input_.PushLine(std::move(line_));
  line_.clear();
}

std::string LineDiscipline::ReadInput(uint64_t max, bool* eof) {
  *eof = false;
  if (!canonical()) return input_.TakeRaw(max);
  bool ended = false;
  std::string out = input_.TakeLine(max, &ended);
  *eof = ended && out.empty();
  return out;
}

void LineDiscipline::Echo(char c) {
  if (output_.size() >= kEchoLimit) return;
  if ((termios_.c_lflag & ECHOCTL) && IsControl(c) && c != '\t' && c != '\n') {
    Output('^');
    Output(static_cast<char>(c ^ 0x40));
    return;
  }
  Output(c);
}

void LineDiscipline::EchoRaw(std::string_view s) {
  if (output_.size() >= kEchoLimit) return;
  for (char c : s) Output(c);
}

void LineDiscipline::Output(char c) {
  const uint32_t oflag = termios_.c_oflag;
  if (!(oflag & OPOST)) {
    output_.push_back(c);
    return;
  }
  switch (c) {
    case '\n':
      if (oflag & ONLCR) {
        output_.append("\r\n");
        column_ = 0;
        return;
      }
      if (oflag & ONLRET) column_ = 0;
      output_.push_back('\n');
      return;
    case '\r':
      if ((oflag & ONOCR) && column_ == 0) return;
      if (oflag & OCRNL) {
        if (oflag & ONLRET) column_ = 0;
        output_.push_back('\n');
        return;
      }
      column_ = 0;
      output_.push_back('\r');
      return;
    case '\t': {
      uint64_t next = (column_ | 7) + 1;
      if ((oflag & TABDLY) == XTABS) {
        output_.append(next - column_, ' ');
      } else {
        output_.push_back('\t');
      }
      column_ = next;
      return;
    }
    case '\b':
      if (column_ > 0) --column_;
      output_.push_back('\b');
      return;
    default:
      if (!IsControl(c)) ++column_;
      output_.push_back(c);
  }
}

uint64_t LineDiscipline::WriteOutput(std::string_view out) {
  uint64_t n = 0;
  while (n < out.size() && OutputRoom()) Output(out[n++]);
  return n;
}

std::string LineDiscipline::ReadOutput(uint64_t max) {
  uint64_t n = std::min<uint64_t>(max, output_.size());
  std::string out = output_.substr(0, n);
  output_.erase(0, n);
  return out;
}

void LineDiscipline::FlushInput() {
  input_.Clear();
  line_.clear();
  lnext_ = false;
}

void LineDiscipline::SendControlChar(int index) {
  uint8_t cc = termios_.c_cc[index];
  if (cc != 0) output_.push_back(static_cast<char>(cc));
}

}  // namespace sentry::fsimpl::devpts
