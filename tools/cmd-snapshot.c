/* flatimg snapshot: qemu-img 7.2's img_snapshot: -l lists the internal snapshots, -c creates,
 * -a applies and -d deletes one (found by name, then by ID). No action just opens the image. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common.h"
#include "info.h"
#include "write-common.h"

enum action { ACT_NONE, ACT_LIST, ACT_APPLY, ACT_CREATE, ACT_DELETE };

static void dump_snapshots(struct node *n)
{
    struct snapshot_info *list = NULL;
    int count = 0;
    if (!n->drv->snapshot_list || n->drv->snapshot_list(n, &list, &count) < 0 || count <= 0) {
        snapshot_info_list_free(list, count);
        return;
    }
    printf("Snapshot list:\n");
    snapshot_dump_row(stdout, NULL);
    printf("\n");
    for (int i = 0; i < count; i++) {
        json_object *o = snapshot_info_to_json(&list[i]);
        snapshot_dump_row(stdout, o);
        printf("\n");
        json_object_put(o);
    }
    snapshot_info_list_free(list, count);
}

/* qemu-img 7.2's lookup for -d: by name only. */
static int snapshot_find(struct node *n, const char *name, char **id, char **sname)
{
    struct snapshot_info *list = NULL;
    int count = 0, found = -1;
    if (!n->drv->snapshot_list || n->drv->snapshot_list(n, &list, &count) < 0)
        return -ENOENT;
    for (int i = 0; i < count && found < 0; i++)
        if (list[i].name && !strcmp(list[i].name, name))
            found = i;
    if (found >= 0) {
        *id = list[found].id ? strdup(list[found].id) : NULL;
        *sname = list[found].name ? strdup(list[found].name) : NULL;
    }
    snapshot_info_list_free(list, count);
    return found >= 0 ? 0 : -ENOENT;
}

static int snapshot_create(struct node *n, const char *name)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct snapshot_info sn = {
        .name = (char *)name,
        .date_sec = (uint32_t)ts.tv_sec,
        .date_nsec = (uint32_t)(ts.tv_nsec / 1000 * 1000),
        .icount = 0, /* qemu-img records the (zero) replay instruction count */
        .disk_size = n->size,
    };
    struct error *err = NULL;
    int ret = n->drv->snapshot_create ? n->drv->snapshot_create(n, &sn, &err) : -ENOTSUP;
    error_free(err);
    if (ret)
        error_report("Could not create snapshot '%s': %d (%s)", name, ret, strerror(-ret));
    return ret;
}

static int snapshot_apply(struct node *n, const char *name)
{
    struct error *err = NULL;
    int ret;
    if (n->drv->snapshot_goto) {
        ret = n->drv->snapshot_goto(n, name, &err);
        if (ret == -ENOENT) {
            /* qemu's generic wording for a snapshot that is not there */
            error_free(err);
            err = NULL;
            error_setg_errno(&err, -ret, "Failed to load snapshot");
        }
    } else {
        /* qemu falls back to the file, fails there and reopens the format layer, which
         * repeats the probing warning */
        warn_probed_raw(n);
        error_setg(&err, "Block driver does not support snapshots");
        ret = -ENOTSUP;
    }
    if (ret) {
        error_prepend(&err, "Could not apply snapshot '%s': ", name);
        error_report_err(err);
    }
    return ret;
}

static int snapshot_delete(struct node *n, const char *name)
{
    char *id = NULL, *sname = NULL;
    if (snapshot_find(n, name, &id, &sname) < 0) {
        error_report("Could not delete snapshot '%s': snapshot not found", name);
        return 1;
    }
    struct error *err = NULL;
    int ret;
    if (n->drv->snapshot_delete) {
        ret = n->drv->snapshot_delete(n, id, sname, &err);
    } else {
        error_setg(&err, "Block format '%s' used by device '' does not support internal "
                         "snapshot deletion", n->drv->name);
        ret = -ENOTSUP;
    }
    if (ret < 0) {
        error_prepend(&err, "Could not delete snapshot '%s': ", name);
        error_report_err(err);
    }
    free(id);
    free(sname);
    return ret < 0 ? 1 : 0;
}

int cmd_snapshot(int argc, char **argv)
{
    static const struct option long_options[] = {
        { "help", no_argument, NULL, 'h' },
        { "object", required_argument, NULL, OPTION_OBJECT },
        { "image-opts", no_argument, NULL, OPTION_IMAGE_OPTS },
        { "force-share", no_argument, NULL, 'U' },
        { NULL, 0, NULL, 0 },
    };
    enum action action = ACT_NONE;
    const char *name = NULL;
    bool quiet = false, image_opts = false, force_share = false;
    int flags = NODE_RDWR, c;
    while ((c = getopt_long(argc, argv, ":la:c:d:hqU", long_options, NULL)) != -1) {
        enum action a = ACT_NONE;
        switch (c) {
        case 'l': a = ACT_LIST; break;
        case 'a': a = ACT_APPLY; break;
        case 'c': a = ACT_CREATE; break;
        case 'd': a = ACT_DELETE; break;
        case 'q': quiet = true; break;
        case 'U': force_share = true; break;
        case OPTION_OBJECT: add_object_or_exit(optarg); break;
        case OPTION_IMAGE_OPTS: image_opts = true; break;
        default: common_getopt_error(c, argv);
        }
        if (a == ACT_NONE)
            continue;
        if (action)
            error_exit("Cannot mix '-l', '-a', '-c', '-d'");
        action = a;
        if (a == ACT_LIST)
            flags &= ~NODE_RDWR;
        else
            name = optarg;
    }
    if (optind != argc - 1)
        error_exit("Expecting one image file name");
    if (force_share)
        flags |= NODE_FORCE_SHARE;
    struct node *n = img_open_rw(image_opts, argv[optind], NULL, flags, quiet);
    if (!n)
        return 1;
    int ret = 0;
    switch (action) {
    case ACT_LIST: dump_snapshots(n); break;
    case ACT_CREATE: ret = snapshot_create(n, name); break;
    case ACT_APPLY: ret = snapshot_apply(n, name); break;
    case ACT_DELETE: ret = snapshot_delete(n, name); break;
    case ACT_NONE: break;
    }
    node_close(n);
    return ret ? 1 : 0;
}
