/* Start-up: the smallest whole program (benches/bench.py, "Start-up" table). */
#include <stdio.h>

int main(void) {
    puts("hello");
    return 0;
}
