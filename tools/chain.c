/* Layer-by-layer backing chains for commit and rebase: the core opens backing files read-only,
 * these commands need one layer of the chain writable, so they build the chain themselves. */
#include "config.h"
#include "chain.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

static bool same_file(const char *a, const char *b)
{
    char ra[PATH_MAX], rb[PATH_MAX];
    return realpath(a, ra) && realpath(b, rb) && !strcmp(ra, rb);
}

struct node *chain_find(struct node *top, const char *name, int *depth)
{
    int d = 1;
    for (struct node *p = top; p->backing; p = p->backing, d++) {
        bool found = p->backing_file && !strcmp(p->backing_file, name);
        if (!found && p->full_backing_filename) {
            char *want = node_resolve_backing_path(p, name);
            found = same_file(want, p->full_backing_filename);
            free(want);
        }
        if (found) {
            if (depth)
                *depth = d;
            return p->backing;
        }
    }
    return NULL;
}

int chain_open_below(struct node *top, int rw_depth, int flags)
{
    int d = 1;
    flags &= ~(NODE_RDWR | NODE_UNSHARE_WRITE);
    for (struct node *p = top; p->backing_file && p->backing_file[0] && d <= 1000;
         p = p->backing, d++) {
        struct error *err = NULL;
        int f = flags | NODE_NO_BACKING | (d == rw_depth ? NODE_RDWR : 0);
        /* with the backing.* options the image was opened with (keys of encrypted bases) */
        p->backing = node_open(p->full_backing_filename, p->backing_fmt, p->backing_opts, f, &err);
        if (!p->backing) {
            error_prepend(&err, "Could not open backing file: ");
            error_prepend(&err, "Could not open '%s': ", node_name(top));
            error_report_err(err);
            return -1;
        }
    }
    return 0;
}
