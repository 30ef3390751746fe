// sleeper SECONDS: sleeps with nanosleep(2), then exits 0. Static, so that it needs nothing from
// the sandbox's file system; the confinement e2e test inspects the sandbox while it sleeps.
#include <stdlib.h>
#include <time.h>

int main(int argc, char** argv) {
  struct timespec t = {argc > 1 ? atoi(argv[1]) : 5, 0};
  while (nanosleep(&t, &t) != 0) {
  }
  return 0;
}
