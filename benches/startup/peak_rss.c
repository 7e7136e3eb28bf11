/* Runs argv[1..] and prints its peak resident set in KiB (ru_maxrss).
 *
 * benches/bench.py measures start-up memory through this instead of from Python:
 * a child's ru_maxrss includes the memory of the process it was forked from before
 * exec (the kernel keeps the old image's high-water mark), so a child of the
 * Python interpreter never reports less than Python's own 17 MB. Forked from this
 * small process, the floor is about 1 MB, below every engine measured. */
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <fcntl.h>

int main(int argc, char **argv) {
    if (argc < 2) {
        fputs("usage: peak_rss COMMAND [ARG]...\n", stderr);
        return 2;
    }
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 2;
    }
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(null, 2);
        execvp(argv[1], argv + 1);
        _exit(127);
    }
    int status;
    struct rusage usage;
    if (wait4(pid, &status, 0, &usage) < 0) {
        perror("wait4");
        return 2;
    }
    printf("%ld\n", usage.ru_maxrss);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
