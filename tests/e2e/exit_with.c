/* exit_with                 prints "hello from the sandbox", exits 0
 * exit_with exit N          exits with status N
 * exit_with segv            dies of SIGSEGV (a shell sees 139)
 * Checks that runsc passes the program's fate through as its own exit status. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char** argv) {
  if (argc == 1) {
    printf("hello from the sandbox\n");
    return 0;
  }
  if (argc == 3 && strcmp(argv[1], "exit") == 0) return atoi(argv[2]);
  if (argc == 2 && strcmp(argv[1], "segv") == 0) {
    /* Volatile pointer and pointee: the compiler can neither see that the pointer is NULL (and
     * emit a trap instruction, SIGILL) nor drop the store as dead (no fault at all). */
    volatile int* volatile p = NULL;
    *p = 1;
    return 1; /* not reached */
  }
  fprintf(stderr, "usage: exit_with [exit N | segv]\n");
  return 2;
}
