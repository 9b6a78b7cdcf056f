/* qcow2 internal snapshots (docs/interop/qcow2.txt "Snapshots"): the snapshot table read with
 * every length checked, and the list `info` and `snapshot -l` show. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bswap.h"
#include "qcow2.h"

#define SN_HEADER 40
#define SN_MAX_EXTRA 1024
#define SN_MAX_TABLE (1024u * QCOW2_MAX_SNAPSHOTS)

void qcow2_free_snapshots(struct qcow2 *s)
{
    for (uint32_t i = 0; s->snaps && i < s->nb_snapshots; i++) {
        free(s->snaps[i].id);
        free(s->snaps[i].name);
        free(s->snaps[i].extra);
    }
    free(s->snaps);
    s->snaps = NULL;
}

static char *read_str(struct qcow2 *s, uint64_t off, uint16_t len, int *ret)
{
    char *p = malloc((size_t)len + 1);
    if (!p) {
        *ret = -ENOMEM;
        return NULL;
    }
    *ret = node_pread(s->node->file, off, len, p);
    p[len] = '\0';
    return p;
}

/* One entry at *off (8-aligned by the caller). With repair (check -r all), extra data beyond
 * qemu's maximum is cut to it instead of failing, as qemu's qcow2_do_read_snapshots does. */
static int read_one(struct qcow2 *s, struct qcow2_snapshot *sn, uint64_t *off, uint32_t i,
                    bool repair, int *dropped, struct error **errp)
{
    uint8_t h[SN_HEADER];
    int ret = node_pread(s->node->file, *off, SN_HEADER, h);
    if (ret < 0)
        goto read_error;
    sn->l1_offset = get_be64(h);
    sn->l1_size = get_be32(h + 8);
    uint16_t id_len = get_be16(h + 12), name_len = get_be16(h + 14);
    sn->date_sec = get_be32(h + 16);
    sn->date_nsec = get_be32(h + 20);
    sn->vm_clock_nsec = get_be64(h + 24);
    sn->vm_state_size = get_be32(h + 32);
    sn->extra_size = get_be32(h + 36);
    sn->disk_size = s->node->size;
    sn->icount = UINT64_MAX;
    uint64_t on_disk_extra = sn->extra_size;
    if (sn->extra_size > SN_MAX_EXTRA) {
        if (!repair) {
            error_setg(errp, "Too much extra metadata in snapshot table entry %" PRIu32, i);
            error_append_hint(errp, "You can force-remove this extra metadata with qemu-img "
                                    "check -r all\n");
            return -EFBIG;
        }
        fprintf(stderr, "Discarding too much extra metadata in snapshot table entry %" PRIu32
                        " (%" PRIu32 " > %u)\n", i, sn->extra_size, SN_MAX_EXTRA);
        (*dropped)++;
        sn->extra_size = SN_MAX_EXTRA;
    }
    *off += SN_HEADER;
    sn->extra = calloc(1, sn->extra_size ? sn->extra_size : 1);
    if (!sn->extra)
        return -ENOMEM;
    if (sn->extra_size && (ret = node_pread(s->node->file, *off, sn->extra_size, sn->extra)) < 0)
        goto read_error;
    if (sn->extra_size >= 8)
        sn->vm_state_size = get_be64(sn->extra);
    if (sn->extra_size >= 16)
        sn->disk_size = get_be64(sn->extra + 8);
    if (sn->extra_size >= 24)
        sn->icount = get_be64(sn->extra + 16);
    *off += on_disk_extra;
    sn->id = read_str(s, *off, id_len, &ret);
    if (ret < 0)
        goto read_error;
    *off += id_len;
    sn->name = read_str(s, *off, name_len, &ret);
    if (ret < 0)
        goto read_error;
    *off += name_len;
    return 0;
read_error:
    error_setg_errno(errp, ret, "Failed to read snapshot table");
    return ret;
}

int qcow2_read_snapshots_repair(struct qcow2 *s, bool repair, int *reduced, int *dropped,
                                struct error **errp)
{
    s->snapshots_size = 0;
    if (!s->nb_snapshots)
        return 0;
    s->snaps = calloc(s->nb_snapshots, sizeof(*s->snaps));
    if (!s->snaps)
        return -ENOMEM;
    uint64_t off = s->snapshots_offset, table_len = 0;
    for (uint32_t i = 0; i < s->nb_snapshots; i++) {
        uint64_t pre = off;
        off = (off + 7) & ~7ull;
        table_len = (table_len + 7) & ~7ull;
        int ret = read_one(s, &s->snaps[i], &off, i, repair, dropped, errp);
        if (ret < 0) {
            qcow2_free_snapshots(s);
            return ret;
        }
        const struct qcow2_snapshot *sn = &s->snaps[i];
        table_len += SN_HEADER + sn->extra_size + strlen(sn->id) + strlen(sn->name);
        if (table_len > SN_MAX_TABLE || off - s->snapshots_offset > INT32_MAX) {
            if (!repair) {
                error_setg(errp, "Snapshot table is too big");
                error_append_hint(errp, "You can force-remove all %u overhanging snapshots with "
                                        "qemu-img check -r all\n", s->nb_snapshots - i);
                qcow2_free_snapshots(s);
                return -EFBIG;
            }
            fprintf(stderr, "Discarding %u overhanging snapshots (snapshot table is too big)\n",
                    s->nb_snapshots - i);
            *reduced += (int)(s->nb_snapshots - i);
            for (uint32_t j = i; j < s->nb_snapshots; j++) {
                free(s->snaps[j].id);
                free(s->snaps[j].name);
                free(s->snaps[j].extra);
                memset(&s->snaps[j], 0, sizeof(s->snaps[j]));
            }
            s->nb_snapshots = i;
            off = pre;
            break;
        }
    }
    s->snapshots_size = off - s->snapshots_offset;
    return 0;
}

int qcow2_read_snapshots(struct qcow2 *s, struct error **errp)
{
    int reduced = 0, dropped = 0;
    return qcow2_read_snapshots_repair(s, false, &reduced, &dropped, errp);
}

int qcow2_snapshot_list(struct node *n, struct snapshot_info **list, int *count)
{
    struct qcow2 *s = qcow2_state(n);
    *list = NULL;
    *count = 0;
    if (!s->nb_snapshots)
        return 0;
    struct snapshot_info *l = calloc(s->nb_snapshots, sizeof(*l));
    if (!l)
        return -ENOMEM;
    for (uint32_t i = 0; i < s->nb_snapshots; i++) {
        const struct qcow2_snapshot *sn = &s->snaps[i];
        l[i].id = strdup(sn->id);
        l[i].name = strdup(sn->name);
        l[i].vm_state_size = sn->vm_state_size;
        l[i].date_sec = sn->date_sec;
        l[i].date_nsec = sn->date_nsec;
        l[i].vm_clock_nsec = sn->vm_clock_nsec;
        l[i].icount = sn->icount;
        l[i].disk_size = sn->disk_size;
    }
    *list = l;
    *count = (int)s->nb_snapshots;
    return 0;
}

/* ---- creating, reverting to and deleting snapshots ---- */

static int write_l1(struct qcow2 *s, uint64_t off, const uint64_t *l1, uint32_t size)
{
    uint8_t *raw = malloc((size_t)size * 8 + 1);
    if (!raw)
        return -ENOMEM;
    for (uint32_t i = 0; i < size; i++)
        put_be64(raw + (uint64_t)i * 8, l1[i]);
    int ret = size ? node_pwrite(s->node->file, off, (uint64_t)size * 8, raw) : 0;
    free(raw);
    return ret;
}

static int update_data_refs(struct qcow2 *s, uint64_t e, int addend, uint64_t *rc)
{
    uint64_t host = e & L2E_OFFSET_MASK;
    *rc = 0;
    if (e & OFLAG_COMPRESSED) {
        unsigned shift = 62 - (s->cluster_bits - 8);
        uint64_t coff = e & ((1ull << shift) - 1);
        uint64_t nsec = ((e >> shift) & ((1ull << (s->cluster_bits - 8)) - 1)) + 1;
        uint64_t first = (coff & ~511ull) >> s->cluster_bits;
        uint64_t last = ((coff & ~511ull) + nsec * 512 - 1) >> s->cluster_bits;
        for (uint64_t c = first; addend && c <= last; c++) {
            int ret = qcow2_update_refcount(s, c, addend);
            if (ret < 0)
                return ret;
        }
        *rc = 2; /* compressed clusters are never rewritten in place */
        return 0;
    }
    if (!host || s->data_file_name) {
        *rc = host || (e & OFLAG_COPIED) ? 1 : 0;
        return 0;
    }
    if (addend) {
        int ret = qcow2_update_refcount(s, host >> s->cluster_bits, addend);
        if (ret < 0)
            return ret;
    }
    return qcow2_get_refcount(s, host >> s->cluster_bits, rc);
}

/* Add addend (+1, -1 or 0) to everything an L1 table references and recompute OFLAG_COPIED
 * (qemu's qcow2_update_snapshot_refcount). *modified tells whether l1 changed. */
static int update_snapshot_refcount(struct qcow2 *s, uint64_t *l1, uint32_t l1_size, int addend,
                                    bool *modified)
{
    *modified = false;
    for (uint32_t i = 0; i < l1_size; i++) {
        uint64_t l2 = l1[i] & L1E_OFFSET_MASK;
        if (!l2)
            continue;
        if (l2 & (s->cluster_size - 1))
            return -EIO;
        uint8_t *t;
        int ret = cache_get(s->l2_cache, l2, (void **)&t);
        if (ret < 0)
            return ret;
        bool dirty = false;
        for (uint64_t j = 0; j < (1ull << s->l2_bits) && ret == 0; j++) {
            uint64_t old = get_be64(t + j * s->l2_entry_size), e = old & ~OFLAG_COPIED, rc;
            if (!(old & L2E_OFFSET_MASK) && !(old & OFLAG_COMPRESSED) &&
                !(s->data_file_name && (old & OFLAG_COPIED)))
                continue;
            ret = update_data_refs(s, old, addend, &rc);
            if (rc == 1 && !(e & OFLAG_COMPRESSED))
                e |= OFLAG_COPIED;
            if (e != old) {
                put_be64(t + j * s->l2_entry_size, e);
                dirty = true;
            }
        }
        if (dirty)
            cache_mark_dirty(s->l2_cache, t);
        cache_put(s->l2_cache, t);
        if (ret < 0)
            return ret;
        uint64_t rc;
        if (addend && (ret = qcow2_update_refcount(s, l2 >> s->cluster_bits, addend)) < 0)
            return ret;
        if ((ret = qcow2_get_refcount(s, l2 >> s->cluster_bits, &rc)) < 0)
            return ret;
        if (rc == 0)
            cache_drop(s->l2_cache, l2); /* freed: never write it back */
        uint64_t ne = l2 | (rc == 1 ? OFLAG_COPIED : 0);
        if (ne != l1[i]) {
            l1[i] = ne;
            *modified = true;
        }
    }
    return 0;
}

/* Whether every cluster the active L1 references can take one more reference, so that a
 * snapshot never fails half-way through the refcount updates (-EINVAL, as qemu reports an
 * overflowing refcount, but without the clusters qemu leaks). */
static int check_headroom(struct qcow2 *s)
{
    uint64_t max = s->refcount_order == 6 ? UINT64_MAX : (1ull << s->refcount_bits) - 1;
    for (uint32_t i = 0; i < s->l1_size; i++) {
        uint64_t l2 = s->l1[i] & L1E_OFFSET_MASK, rc;
        if (!l2)
            continue;
        int ret = qcow2_get_refcount(s, l2 >> s->cluster_bits, &rc);
        if (ret < 0)
            return ret;
        if (rc >= max)
            return -EINVAL;
        uint8_t *t;
        if ((ret = cache_get(s->l2_cache, l2, (void **)&t)) < 0)
            return ret;
        for (uint64_t j = 0; j < (1ull << s->l2_bits) && ret == 0; j++) {
            uint64_t e = get_be64(t + j * s->l2_entry_size);
            uint64_t host = (e & OFLAG_COMPRESSED) ? 0 : e & L2E_OFFSET_MASK;
            if ((e & OFLAG_COMPRESSED) && max < 8)
                ret = -EINVAL; /* several compressed clusters may share a host cluster */
            if (host && !s->data_file_name) {
                ret = qcow2_get_refcount(s, host >> s->cluster_bits, &rc);
                if (ret == 0 && rc >= max)
                    ret = -EINVAL;
            }
        }
        cache_put(s->l2_cache, t);
        if (ret < 0)
            return ret;
    }
    return 0;
}

/* Drop the old table's clusters as qemu's qcow2_free_clusters does: all or none, and a failure
 * is only reported (the clusters leak), never returned. */
static void free_old_table(struct qcow2 *s, uint64_t first, uint64_t last)
{
    int ret = 0;
    for (uint64_t c = first; c <= last && ret == 0; c++) {
        uint64_t rc, idx = c >> s->rb_bits;
        /* qemu first creates a missing refcount block, then restarts with EAGAIN */
        if (idx >= s->rt_entries || !(s->rt[idx] & RT_OFFSET_MASK)) {
            ret = -EAGAIN;
            break;
        }
        ret = qcow2_get_refcount(s, c, &rc);
        if (ret == 0 && rc == 0)
            ret = -EINVAL;
    }
    for (uint64_t c = first; c <= last && ret == 0; c++) {
        uint64_t rc = 0;
        ret = qcow2_update_refcount(s, c, -1);
        /* qemu passes snapshot frees down as discards by default (pass-discard-snapshot) */
        if (ret == 0 && qcow2_get_refcount(s, c, &rc) == 0 && rc == 0)
            (void)node_discard(s->node->file, c << s->cluster_bits, s->cluster_size);
    }
    if (ret < 0)
        fprintf(stderr, "qcow2_free_clusters failed: %s\n", strerror(-ret));
}

/* qemu's qcow2_write_snapshots layout: entries 8-aligned, at least the 24 bytes of known extra
 * data each (written from the parsed fields), unknown extra data kept after them. */
static uint64_t extra_len(const struct qcow2_snapshot *sn)
{
    return sn->extra_size > 24 ? sn->extra_size : 24;
}

static int write_table(struct qcow2 *s, struct qcow2_snapshot *snaps, uint32_t count)
{
    uint64_t size = 0;
    for (uint32_t i = 0; i < count; i++)
        size = ((size + 7) & ~7ull) + SN_HEADER + extra_len(&snaps[i]) + strlen(snaps[i].id) +
               strlen(snaps[i].name);
    if (size > SN_MAX_TABLE)
        return -EFBIG;
    uint8_t *buf = calloc(1, size ? size : 1);
    if (!buf)
        return -ENOMEM;
    uint64_t off = 0;
    for (uint32_t i = 0; i < count; i++) {
        const struct qcow2_snapshot *sn = &snaps[i];
        off = (off + 7) & ~7ull;
        uint8_t *p = buf + off;
        size_t id_len = strlen(sn->id), name_len = strlen(sn->name);
        uint64_t ex = extra_len(sn);
        put_be64(p, sn->l1_offset);
        put_be32(p + 8, sn->l1_size);
        put_be16(p + 12, (uint16_t)id_len);
        put_be16(p + 14, (uint16_t)name_len);
        put_be32(p + 16, sn->date_sec);
        put_be32(p + 20, sn->date_nsec);
        put_be64(p + 24, sn->vm_clock_nsec);
        put_be32(p + 32, sn->vm_state_size > UINT32_MAX ? 0 : (uint32_t)sn->vm_state_size);
        put_be32(p + 36, (uint32_t)ex);
        put_be64(p + SN_HEADER, sn->vm_state_size);
        put_be64(p + SN_HEADER + 8, sn->disk_size);
        put_be64(p + SN_HEADER + 16, sn->icount);
        if (sn->extra_size > 24)
            memcpy(p + SN_HEADER + 24, sn->extra + 24, sn->extra_size - 24);
        memcpy(p + SN_HEADER + ex, sn->id, id_len);
        memcpy(p + SN_HEADER + ex + id_len, sn->name, name_len);
        off += SN_HEADER + ex + id_len + name_len;
    }
    int64_t table = 0;
    int ret = 0;
    if (size) {
        /* as qemu: allocate, make the refcounts stable, then refuse to write over metadata
         * (a broken image may have metadata where its refcounts say the space is free) */
        s->alloc_skip_overlap = true;
        table = qcow2_alloc_clusters(s, (size + s->cluster_size - 1) >> s->cluster_bits);
        s->alloc_skip_overlap = false;
        if (table < 0) {
            free(buf);
            return (int)table;
        }
        if ((ret = qcow2_flush_metadata(s)) < 0 || (ret = node_flush(s->node->file)) < 0 ||
            (ret = qcow2_pre_write_overlap_check(s, 0, (uint64_t)table, size)) < 0)
            goto out;
        /* entry by entry, as qemu writes them: the padding between entries is left as it was */
        uint64_t at = 0;
        for (uint32_t i = 0; i < count && ret == 0; i++) {
            at = (at + 7) & ~7ull;
            uint64_t len = SN_HEADER + extra_len(&snaps[i]) + strlen(snaps[i].id) +
                           strlen(snaps[i].name);
            ret = node_pwrite(s->node->file, (uint64_t)table + at, len, buf + at);
            at += len;
        }
        if (ret < 0)
            goto out;
    }
    if ((ret = node_flush(s->node->file)) < 0)
        goto out;
    uint8_t h[12];
    put_be32(h, count);
    put_be64(h + 4, (uint64_t)table);
    if ((ret = node_pwrite(s->node->file, 60, 12, h)) < 0 || (ret = node_flush(s->node->file)) < 0)
        goto out;
    uint64_t old = s->snapshots_offset, old_size = s->snapshots_size;
    s->snapshots_offset = (uint64_t)table;
    s->snapshots_size = size;
    if (old_size)
        free_old_table(s, old >> s->cluster_bits, (old + old_size - 1) >> s->cluster_bits);
out:
    free(buf);
    return ret;
}

int qcow2_write_snapshot_table(struct qcow2 *s)
{
    return write_table(s, s->snaps, s->nb_snapshots);
}

static int find_snapshot(struct qcow2 *s, const char *id, const char *name)
{
    for (uint32_t i = 0; i < s->nb_snapshots; i++) {
        if (id && strcmp(s->snaps[i].id, id))
            continue;
        if (name && strcmp(s->snaps[i].name, name))
            continue;
        return (int)i;
    }
    return -1;
}

static int find_by_id_or_name(struct qcow2 *s, const char *id_or_name)
{
    int i = find_snapshot(s, id_or_name, NULL);
    return i >= 0 ? i : find_snapshot(s, NULL, id_or_name);
}

static char *new_id(struct qcow2 *s)
{
    unsigned long max = 0;
    for (uint32_t i = 0; i < s->nb_snapshots; i++) {
        unsigned long v = strtoul(s->snaps[i].id, NULL, 10);
        if (v > max)
            max = v;
    }
    char buf[32];
    snprintf(buf, sizeof(buf), "%lu", max + 1);
    return strdup(buf);
}

static int do_create(struct node *n, struct qcow2 *s, const struct snapshot_info *info,
                     struct error **errp)
{
    if (s->nb_snapshots >= QCOW2_MAX_SNAPSHOTS) {
        error_setg(errp, "Too many snapshots");
        return -EFBIG;
    }
    if (info->id && info->id[0] && find_snapshot(s, info->id, NULL) >= 0) {
        error_setg(errp, "Snapshot with id '%s' already exists", info->id);
        return -EEXIST;
    }
    int ret = qcow2_flush_metadata(s);
    if (ret == 0)
        ret = check_headroom(s);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "Could not create the snapshot");
        return ret;
    }
    struct qcow2_snapshot sn = { 0 };
    sn.id = info->id && info->id[0] ? strdup(info->id) : new_id(s);
    sn.name = strdup(info->name ? info->name : "");
    sn.date_sec = info->date_sec;
    sn.date_nsec = info->date_nsec;
    sn.vm_clock_nsec = info->vm_clock_nsec;
    sn.vm_state_size = info->vm_state_size;
    sn.disk_size = n->size;
    sn.icount = info->icount;
    sn.l1_size = s->l1_size;
    sn.extra_size = 24;
    sn.extra = calloc(1, 24);
    if (!sn.id || !sn.name || !sn.extra) {
        ret = -ENOMEM;
        goto fail;
    }
    put_be64(sn.extra, sn.vm_state_size);
    put_be64(sn.extra + 8, sn.disk_size);
    put_be64(sn.extra + 16, sn.icount);
    int64_t l1 = qcow2_alloc_clusters(s, ((uint64_t)s->l1_size * 8 + s->cluster_size - 1) >>
                                             s->cluster_bits);
    if (l1 < 0) {
        ret = (int)l1;
        goto fail;
    }
    sn.l1_offset = s->l1_size ? (uint64_t)l1 : 0;
    bool modified;
    if ((ret = cache_flush(s->rc_cache)) < 0 ||
        (ret = write_l1(s, (uint64_t)l1, s->l1, s->l1_size)) < 0 ||
        (ret = update_snapshot_refcount(s, s->l1, s->l1_size, 1, &modified)) < 0 ||
        (ret = qcow2_flush_metadata(s)) < 0 ||
        (ret = write_l1(s, s->l1_offset, s->l1, s->l1_size)) < 0)
        goto fail;
    struct qcow2_snapshot *all = realloc(s->snaps, (s->nb_snapshots + 1) * sizeof(*all));
    if (!all) {
        ret = -ENOMEM;
        goto fail;
    }
    s->snaps = all;
    all[s->nb_snapshots] = sn;
    if ((ret = write_table(s, all, s->nb_snapshots + 1)) < 0) {
        free(sn.id);
        free(sn.name);
        free(sn.extra);
        error_setg_errno(errp, -ret, "Could not write the snapshot table");
        return ret;
    }
    s->nb_snapshots++;
    return qcow2_flush_metadata(s);
fail:
    free(sn.id);
    free(sn.name);
    free(sn.extra);
    error_setg_errno(errp, -ret, "Could not create the snapshot");
    return ret;
}

int qcow2_snapshot_create(struct node *n, struct snapshot_info *info, struct error **errp)
{
    struct qcow2 *s = qcow2_state(n);
    pthread_mutex_lock(&s->lock);
    int ret = s->incompat & INCOMPAT_CORRUPT ? -EIO : do_create(n, s, info, errp);
    pthread_mutex_unlock(&s->lock);
    return ret;
}

static int do_goto(struct node *n, struct qcow2 *s, int idx, struct error **errp)
{
    struct qcow2_snapshot *sn = &s->snaps[idx];
    if (sn->disk_size != n->size) {
        error_setg(errp, "qcow2: Loading snapshots with different disk size is not supported "
                         "by flatimg yet");
        return -ENOTSUP;
    }
    if ((uint64_t)sn->l1_size > QCOW2_MAX_L1_BYTES / 8 || sn->l1_offset % s->cluster_size) {
        error_setg(errp, "Snapshot L1 table offset invalid");
        return -EFBIG;
    }
    int ret = qcow2_flush_metadata(s);
    if (ret == 0 && sn->l1_size > s->l1_size)
        ret = qcow2_grow_l1(s, sn->l1_size);
    if (ret == 0)
        ret = qcow2_flush_metadata(s);
    uint64_t *snl1 = NULL, *old = calloc(s->l1_size + 1, 8);
    uint8_t *raw = malloc((size_t)sn->l1_size * 8 + 1);
    if (ret < 0 || !old || !raw)
        goto out;
    if (sn->l1_size && (ret = node_pread(s->node->file, sn->l1_offset, (uint64_t)sn->l1_size * 8,
                                         raw)) < 0)
        goto out;
    memcpy(old, s->l1, (size_t)s->l1_size * 8);
    snl1 = calloc(s->l1_size + 1, 8);
    if (!snl1) {
        ret = -ENOMEM;
        goto out;
    }
    for (uint32_t i = 0; i < sn->l1_size; i++)
        snl1[i] = get_be64(raw + (uint64_t)i * 8);
    bool modified;
    /* the snapshot's references first, then drop the old active ones: a crash only leaks */
    if ((ret = update_snapshot_refcount(s, snl1, s->l1_size, 1, &modified)) < 0 ||
        (ret = qcow2_flush_metadata(s)) < 0)
        goto out;
    memcpy(s->l1, snl1, (size_t)s->l1_size * 8);
    if ((ret = write_l1(s, s->l1_offset, s->l1, s->l1_size)) < 0 ||
        (ret = node_flush(s->node->file)) < 0 ||
        (ret = update_snapshot_refcount(s, old, s->l1_size, -1, &modified)) < 0 ||
        (ret = update_snapshot_refcount(s, s->l1, s->l1_size, 0, &modified)) < 0 ||
        (ret = qcow2_flush_metadata(s)) < 0)
        goto out;
    ret = write_l1(s, s->l1_offset, s->l1, s->l1_size);
out:
    if (ret < 0)
        error_setg_errno(errp, -ret, "Could not apply the snapshot");
    free(old);
    free(snl1);
    free(raw);
    return ret;
}

int qcow2_snapshot_goto(struct node *n, const char *id_or_name, struct error **errp)
{
    struct qcow2 *s = qcow2_state(n);
    pthread_mutex_lock(&s->lock);
    int idx = find_by_id_or_name(s, id_or_name), ret;
    if (idx < 0) {
        error_setg(errp, "Can't find snapshot");
        ret = -ENOENT;
    } else {
        ret = s->incompat & INCOMPAT_CORRUPT ? -EIO : do_goto(n, s, idx, errp);
    }
    pthread_mutex_unlock(&s->lock);
    return ret;
}

static int do_delete(struct qcow2 *s, int idx, struct error **errp)
{
    struct qcow2_snapshot sn = s->snaps[idx];
    int ret = qcow2_flush_metadata(s);
    if (ret < 0)
        return ret;
    memmove(&s->snaps[idx], &s->snaps[idx + 1],
            (s->nb_snapshots - (uint32_t)idx - 1) * sizeof(sn));
    if ((ret = write_table(s, s->snaps, s->nb_snapshots - 1)) < 0) {
        memmove(&s->snaps[idx + 1], &s->snaps[idx],
                (s->nb_snapshots - (uint32_t)idx - 1) * sizeof(sn));
        s->snaps[idx] = sn;
        error_setg_errno(errp, -ret, "Failed to remove snapshot from snapshot list");
        return ret;
    }
    s->nb_snapshots--;
    uint64_t *l1 = calloc(sn.l1_size + 1, 8);
    uint8_t *raw = malloc((size_t)sn.l1_size * 8 + 1);
    bool modified;
    if (!l1 || !raw) {
        ret = -ENOMEM;
        goto out;
    }
    if (sn.l1_size &&
        (ret = node_pread(s->node->file, sn.l1_offset, (uint64_t)sn.l1_size * 8, raw)) < 0)
        goto out;
    for (uint32_t i = 0; i < sn.l1_size; i++)
        l1[i] = get_be64(raw + (uint64_t)i * 8);
    if ((ret = update_snapshot_refcount(s, l1, sn.l1_size, -1, &modified)) < 0)
        goto out;
    for (uint64_t c = 0; sn.l1_size && ret == 0 &&
                         c < ((uint64_t)sn.l1_size * 8 + s->cluster_size - 1) >> s->cluster_bits;
         c++)
        ret = qcow2_update_refcount(s, (sn.l1_offset >> s->cluster_bits) + c, -1);
    if (ret == 0)
        ret = update_snapshot_refcount(s, s->l1, s->l1_size, 0, &modified);
    if (ret == 0)
        ret = qcow2_flush_metadata(s);
    if (ret == 0 && modified)
        ret = write_l1(s, s->l1_offset, s->l1, s->l1_size);
out:
    if (ret < 0)
        error_setg_errno(errp, -ret, "Failed to free the snapshot's clusters");
    free(sn.id);
    free(sn.name);
    free(sn.extra);
    free(l1);
    free(raw);
    return ret;
}

int qcow2_snapshot_delete(struct node *n, const char *id, const char *name, struct error **errp)
{
    struct qcow2 *s = qcow2_state(n);
    pthread_mutex_lock(&s->lock);
    int idx = find_snapshot(s, id, name), ret;
    if (idx < 0) {
        error_setg(errp, "Can't find the snapshot");
        ret = -ENOENT;
    } else {
        ret = s->incompat & INCOMPAT_CORRUPT ? -EIO : do_delete(s, idx, errp);
    }
    pthread_mutex_unlock(&s->lock);
    return ret;
}

/* Read-only view of a snapshot: the active L1 is replaced in memory only. */
int qcow2_snapshot_load_tmp(struct node *n, const char *id, const char *name,
                            struct error **errp)
{
    struct qcow2 *s = qcow2_state(n);
    if (s->writable) {
        error_setg(errp, "Device '%s' is writable", node_name(n));
        return -EINVAL;
    }
    pthread_mutex_lock(&s->lock);
    int idx = find_snapshot(s, id, name), ret = 0;
    if (idx < 0) {
        error_setg(errp, "Can't find snapshot");
        ret = -ENOENT;
        goto out;
    }
    struct qcow2_snapshot *sn = &s->snaps[idx];
    if ((uint64_t)sn->l1_size > QCOW2_MAX_L1_BYTES / 8 || sn->l1_offset % s->cluster_size) {
        error_setg(errp, "Snapshot L1 table offset invalid");
        ret = -EFBIG;
        goto out;
    }
    uint64_t per_l1 = 1ull << (s->cluster_bits + s->l2_bits);
    if (sn->disk_size / per_l1 + (sn->disk_size % per_l1 != 0) > sn->l1_size) {
        error_setg(errp, "Snapshot L1 table too small");
        ret = -EINVAL;
        goto out;
    }
    uint64_t *l1 = calloc(sn->l1_size + 1, 8);
    uint8_t *raw = malloc((size_t)sn->l1_size * 8 + 1);
    if (!l1 || !raw) {
        free(l1);
        free(raw);
        ret = -ENOMEM;
        goto out;
    }
    ret = sn->l1_size ? node_pread(s->node->file, sn->l1_offset, (uint64_t)sn->l1_size * 8, raw)
                      : 0;
    for (uint32_t i = 0; ret == 0 && i < sn->l1_size; i++)
        l1[i] = get_be64(raw + (uint64_t)i * 8);
    free(raw);
    if (ret < 0) {
        free(l1);
        error_setg_errno(errp, -ret, "Failed to load snapshot L1 table");
        goto out;
    }
    free(s->l1);
    s->l1 = l1;
    s->l1_size = sn->l1_size;
    s->l1_offset = sn->l1_offset; /* as qemu's load_tmp: the view's table is the snapshot's */
    n->size = sn->disk_size;
out:
    pthread_mutex_unlock(&s->lock);
    return ret;
}
