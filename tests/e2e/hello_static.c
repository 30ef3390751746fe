/* The smallest real program: one line on stdout through printf (so stdio, brk and write all
 * run), exit status 0. */
#include <stdio.h>

int main(void) {
  printf("hello from the sandbox\n");
  return 0;
}
