/* Test helper: print the data extents of a file as "START LENGTH" lines, found with
 * lseek(SEEK_DATA/SEEK_HOLE) only (what cp --sparse and qemu's file-posix use on a mount). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: seekmap FILE\n");
        return 2;
    }
    int fd = open(argv[1], O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        fprintf(stderr, "seekmap: %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    off_t off = 0;
    while (off < st.st_size) {
        off_t data = lseek(fd, off, SEEK_DATA);
        if (data < 0 && errno == ENXIO)
            break;
        off_t hole = data < 0 ? -1 : lseek(fd, data, SEEK_HOLE);
        if (data < 0 || hole < 0 || hole <= data) {
            fprintf(stderr, "seekmap: lseek at %lld: %s\n", (long long)off,
                    hole <= data && hole >= 0 ? "no progress" : strerror(errno));
            return 1;
        }
        printf("%lld %lld\n", (long long)data, (long long)(hole - data));
        off = hole;
    }
    close(fd);
    return 0;
}
