/* qcow2 image creation as qemu-img 7.2 does it: validate the options with qemu's messages, write a
 * three-cluster image (header, refcount table, refcount block), then open it and grow it to the
 * requested size so that the L1 table lands where qemu puts it, and record backing and data file. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "bswap.h"
#include "file.h"
#include "qcow2.h"

const struct opt_desc qcow2_create_opts[] = {
    { "encryption", OPT_BOOL,
      "Encrypt the image with format 'aes'. (Deprecated in favor of encrypt.format=aes)", NULL },
    { "encrypt.format", OPT_STRING, "Encrypt the image, format choices: 'aes', 'luks'", NULL },
    { "encrypt.key-secret", OPT_STRING, "ID of secret providing qcow AES key or LUKS passphrase",
      NULL },
    { "encrypt.cipher-alg", OPT_STRING, "Name of encryption cipher algorithm", NULL },
    { "encrypt.cipher-mode", OPT_STRING, "Name of encryption cipher mode", NULL },
    { "encrypt.ivgen-alg", OPT_STRING, "Name of IV generator algorithm", NULL },
    { "encrypt.ivgen-hash-alg", OPT_STRING, "Name of IV generator hash algorithm", NULL },
    { "encrypt.hash-alg", OPT_STRING, "Name of encryption hash algorithm", NULL },
    { "encrypt.iter-time", OPT_NUMBER, "Time to spend in PBKDF in milliseconds", NULL },
    { "cluster_size", OPT_SIZE, "qcow2 cluster size", "65536" },
    { "extended_l2", OPT_BOOL, "Extended L2 tables", "off" },
    { "preallocation", OPT_STRING, "Preallocation mode (allowed values: off, metadata, falloc, full)",
      NULL },
    { "compression_type", OPT_STRING, "Compression method used for image cluster compression",
      "zlib" },
    { "size", OPT_SIZE, "Virtual disk size", NULL },
    { "compat", OPT_STRING, "Compatibility level (v2 [0.10] or v3 [1.1])", NULL },
    { "backing_file", OPT_STRING, "File name of a base image", NULL },
    { "backing_fmt", OPT_STRING, "Image format of the base image", NULL },
    { "data_file", OPT_STRING, "File name of an external data file", NULL },
    { "data_file_raw", OPT_BOOL, "The external data file must stay valid as a raw image", NULL },
    { "lazy_refcounts", OPT_BOOL, "Postpone refcount updates", "off" },
    { "refcount_bits", OPT_NUMBER, "Width of a reference count entry in bits", "16" },
    { NULL, 0, NULL, NULL },
};

/* What `amend -o` accepts (qemu 7.2's qcow2 amend option list). */
const struct opt_desc qcow2_amend_opts[] = {
    { "encrypt.keyslot", OPT_NUMBER, "Select a single keyslot to modify explicitly", NULL },
    { "encrypt.state", OPT_STRING, "Select new state of affected keyslots (active/inactive)", NULL },
    { "encrypt.old-secret", OPT_STRING, "Select all keyslots that match this password", NULL },
    { "encrypt.new-secret", OPT_STRING,
      "New secret to set in the matching keyslots. Empty string to erase", NULL },
    { "encrypt.iter-time", OPT_NUMBER, "Time to spend in PBKDF in milliseconds", NULL },
    { "size", OPT_SIZE, "Virtual disk size", NULL },
    { "compat", OPT_STRING, "Compatibility level (v2 [0.10] or v3 [1.1])", NULL },
    { "backing_file", OPT_STRING, "File name of a base image", NULL },
    { "backing_fmt", OPT_STRING, "Image format of the base image", NULL },
    { "data_file", OPT_STRING, "File name of an external data file", NULL },
    { "data_file_raw", OPT_BOOL, "The external data file must stay valid as a raw image", NULL },
    { "lazy_refcounts", OPT_BOOL, "Postpone refcount updates", NULL },
    { "refcount_bits", OPT_NUMBER, "Width of a reference count entry in bits", NULL },
    { NULL, 0, NULL, NULL },
};

struct create_params {
    uint64_t size, cluster_size, refcount_bits;
    uint32_t version;
    bool ext_l2, lazy, data_raw;
    uint8_t compression;
    enum prealloc prealloc;
    const char *backing, *backing_fmt, *data_file;
    struct qcow2_crypt_params crypt;
};

#define V3_HINT " (use version=v3 or greater)"

static int parse_enums(struct opts *o, struct create_params *p, struct error **errp)
{
    const char *v = opts_get(o, "compat");
    p->version = 3;
    if (v && (!strcmp(v, "0.10") || !strcmp(v, "v2"))) {
        p->version = 2;
    } else if (v && strcmp(v, "1.1") && strcmp(v, "v3")) {
        error_setg(errp, "Parameter 'version' does not accept value '%s'", v);
        return -EINVAL;
    }
    v = opts_get(o, "compression_type");
    p->compression = COMPRESSION_ZLIB;
    bool have_zstd = false;
#ifdef HAVE_ZSTD
    have_zstd = true; /* a build without libzstd knows no zstd, as qemu built without it */
#endif
    if (v && have_zstd && !strcmp(v, "zstd")) {
        p->compression = COMPRESSION_ZSTD;
    } else if (v && strcmp(v, "zlib")) {
        error_setg(errp, "Parameter 'compression-type' does not accept value '%s'", v);
        return -EINVAL;
    }
    v = opts_get(o, "preallocation");
    p->prealloc = PREALLOC_OFF;
    if (v && prealloc_parse(v, &p->prealloc) < 0) {
        error_setg(errp, "Parameter 'preallocation' does not accept value '%s'", v);
        return -EINVAL;
    }
    return qcow2_crypt_parse_create(o, &p->crypt, errp);
}

static int parse_params(struct opts *o, struct create_params *p, struct error **errp)
{
    memset(p, 0, sizeof(*p));
    p->cluster_size = 65536;
    p->refcount_bits = 16;
    if (opts_get_size(o, "size", &p->size, errp) < 0 ||
        opts_get_size(o, "cluster_size", &p->cluster_size, errp) < 0 ||
        opts_get_number(o, "refcount_bits", &p->refcount_bits, errp) < 0 ||
        opts_get_bool(o, "extended_l2", &p->ext_l2, errp) < 0 ||
        opts_get_bool(o, "lazy_refcounts", &p->lazy, errp) < 0 ||
        opts_get_bool(o, "data_file_raw", &p->data_raw, errp) < 0)
        return -EINVAL;
    if (p->size % 512)
        p->size = (p->size | 511) + 1; /* qemu rounds up to whole sectors */
    int ret = parse_enums(o, p, errp);
    if (ret < 0)
        return ret;
    p->backing = opts_get(o, "backing_file");
    p->backing_fmt = opts_get(o, "backing_fmt");
    p->data_file = opts_get(o, "data_file");
    return 0;
}

static int validate(const struct create_params *p, struct error **errp)
{
    uint64_t cs = p->cluster_size;
    if (cs < 512 || cs > (2u << 20) || (cs & (cs - 1))) {
        error_setg(errp, "Cluster size must be a power of two between 512 and 2048k");
        return -EINVAL;
    }
    if (p->version < 3 && p->lazy) {
        error_setg(errp, "Lazy refcounts only supported with compatibility level 1.1 and above"
                         V3_HINT);
        return -EINVAL;
    }
    if (p->refcount_bits > 64 || !p->refcount_bits || (p->refcount_bits & (p->refcount_bits - 1))) {
        error_setg(errp, "Refcount width must be a power of two and may not exceed 64 bits");
        return -EINVAL;
    }
    if (p->version < 3 && p->refcount_bits != 16) {
        error_setg(errp, "Different refcount widths than 16 bits require compatibility level 1.1 "
                         "or above" V3_HINT);
        return -EINVAL;
    }
    if (p->version < 3 && p->ext_l2) {
        error_setg(errp, "Extended L2 entries are only supported with compatibility level 1.1 "
                         "and above" V3_HINT);
        return -EINVAL;
    }
    if (p->ext_l2 && cs < 16384) {
        error_setg(errp, "Extended L2 entries are only supported with cluster sizes of at least "
                         "16384 bytes");
        return -EINVAL;
    }
    if (p->version < 3 && p->data_file) {
        error_setg(errp, "External data files are only supported with compatibility level 1.1 "
                         "and above" V3_HINT);
        return -EINVAL;
    }
    if (p->data_raw && !p->data_file) {
        error_setg(errp, "data-file-raw requires data-file");
        return -EINVAL;
    }
    if (p->data_raw && p->backing) {
        error_setg(errp, "Backing file and data-file-raw cannot be used at the same time");
        return -EINVAL;
    }
    if (p->version < 3 && p->compression != COMPRESSION_ZLIB) {
        error_setg(errp, "Non-zlib compression type is only supported with compatibility level "
                         "1.1 and above" V3_HINT);
        return -EINVAL;
    }
    if (p->backing && p->prealloc != PREALLOC_OFF && !p->ext_l2) {
        error_setg(errp, "Backing file and preallocation can only be used at the same time if "
                         "extended_l2 is on");
        return -EINVAL;
    }
    return 0;
}

static unsigned log2u(uint64_t v)
{
    unsigned b = 0;
    while ((1ull << b) < v)
        b++;
    return b;
}

/* Header, refcount table and refcount block of a size-0 image. */
static int write_skeleton(const char *filename, const struct create_params *p,
                          struct error **errp)
{
    uint64_t cs = p->cluster_size;
    uint8_t *buf = calloc(3, cs);
    if (!buf)
        return -ENOMEM;
    struct qcow2 s = { 0 };
    struct node fake = { 0 };
    s.node = &fake;
    s.version = p->version;
    s.cluster_bits = log2u(cs);
    s.cluster_size = cs;
    s.refcount_order = log2u(p->refcount_bits);
    s.rt_offset = cs;
    s.rt_clusters = 1;
    s.compression_type = p->compression;
    if (p->version >= 3) {
        s.incompat = (p->ext_l2 ? INCOMPAT_EXTL2 : 0) |
                     (p->compression ? INCOMPAT_COMPRESSION : 0) |
                     (p->data_file ? INCOMPAT_DATA_FILE : 0);
        s.compat = p->lazy ? COMPAT_LAZY_REFCOUNTS : 0;
        s.autoclear = p->data_raw ? AUTOCLEAR_DATA_FILE_RAW : 0;
    }
    s.data_file_name = (char *)p->data_file;
    s.backing_format = (char *)p->backing_fmt;
    put_be64(buf + cs, 2 * cs);
    s.refcount_bits = (uint32_t)p->refcount_bits;
    for (int i = 0; i < 3; i++)
        qcow2_refcount_set_entry(&s, buf + 2 * cs, (uint64_t)i, 1);
    struct opts *fo = opts_new();
    int ret = file_create(filename, 0, PREALLOC_OFF, errp);
    if (ret < 0)
        goto out;
    fake.file = node_open(filename, "file", fo, NODE_RDWR, errp);
    if (!fake.file) {
        ret = -EIO;
        goto out;
    }
    ret = node_pwrite(fake.file, cs, 2 * cs, buf + cs);
    if (ret == 0)
        ret = qcow2_write_header(&s, p->backing);
    node_close(fake.file);
    if (ret < 0)
        error_setg_errno(errp, ret, "Could not write qcow2 header");
out:
    opts_free(fo);
    free(buf);
    return ret;
}

int qcow2_create(const char *filename, struct opts *opts, struct error **errp)
{
    struct create_params p;
    int ret = parse_params(opts, &p, errp);
    if (ret < 0 || (ret = validate(&p, errp)) < 0)
        return ret;
    if (p.data_file && (ret = file_create(p.data_file, p.size,
                                          p.prealloc == PREALLOC_METADATA ? PREALLOC_OFF : p.prealloc,
                                          errp)) < 0)
        return ret;
    if ((ret = write_skeleton(filename, &p, errp)) < 0)
        return ret;
    struct opts *o = opts_new();
    if (p.data_file) {
        opts_set(o, "data-file.filename", p.data_file);
    }
    struct node *n = node_open(filename, "qcow2", o, NODE_RDWR | NODE_NO_BACKING, errp);
    opts_free(o);
    if (!n)
        return -EIO;
    enum prealloc pa = p.prealloc;
    if (p.data_raw && pa == PREALLOC_OFF)
        pa = PREALLOC_METADATA; /* the data file must stay valid as raw: map it all */
    if (p.size)
        ret = node_truncate(n, p.size, false, pa, errp);
    if (ret == 0)
        ret = qcow2_crypt_setup(n, &p.crypt, errp);
    node_close(n);
    return ret;
}
