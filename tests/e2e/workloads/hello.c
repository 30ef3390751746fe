#include <stdio.h>

int main(int argc, char** argv) {
  printf("hello from a program compiled in the sandbox, argc=%d\n", argc);
  return argc == 2 ? 0 : 1;
}
