/* A non-zero exit status (3), which the tracer must mirror. */
#include "test_util.h"

int main(void) {
  atomic_puts("exiting with 3");
  return 3;
}
