/* Error objects and reporting, following qemu-img's message conventions: one line per error,
 * prefixed by the program name, with context prepended as the error travels up. */
#include "config.h"
#include "error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct error {
    char *msg;
    char *hint; /* printed after the message by error_report_err, as qemu does */
};

/* The process-wide settings besides the driver registry: written once in main(). */
static const char *progname = "flatimg";
static void (*log_handler)(void *opaque, const char *msg);
static void *log_opaque;

static char *vformat(const char *fmt, va_list ap)
{
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        abort();
    return s;
}

static void error_set_msg(struct error **errp, char *msg)
{
    if (!errp || *errp) {
        free(msg);
        return;
    }
    struct error *err = malloc(sizeof(*err));
    if (!err)
        abort();
    err->msg = msg;
    err->hint = NULL;
    *errp = err;
}

void error_setg(struct error **errp, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = vformat(fmt, ap);
    va_end(ap);
    error_set_msg(errp, msg);
}

void error_setg_errno(struct error **errp, int errnum, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *base = vformat(fmt, ap);
    va_end(ap);
    char *msg = NULL;
    if (asprintf(&msg, "%s: %s", base, strerror(errnum < 0 ? -errnum : errnum)) < 0)
        abort();
    free(base);
    error_set_msg(errp, msg);
}

void error_prepend(struct error **errp, const char *fmt, ...)
{
    if (!errp || !*errp)
        return;
    va_list ap;
    va_start(ap, fmt);
    char *prefix = vformat(fmt, ap);
    va_end(ap);
    char *msg = NULL;
    if (asprintf(&msg, "%s%s", prefix, (*errp)->msg) < 0)
        abort();
    free(prefix);
    free((*errp)->msg);
    (*errp)->msg = msg;
}

void error_append_hint(struct error **errp, const char *fmt, ...)
{
    if (!errp || !*errp)
        return;
    va_list ap;
    va_start(ap, fmt);
    char *more = vformat(fmt, ap);
    va_end(ap);
    char *hint = NULL;
    if (asprintf(&hint, "%s%s", (*errp)->hint ? (*errp)->hint : "", more) < 0)
        abort();
    free(more);
    free((*errp)->hint);
    (*errp)->hint = hint;
}

void error_propagate(struct error **dst, struct error *src)
{
    if (!src)
        return;
    if (!dst || *dst) {
        error_free(src);
        return;
    }
    *dst = src;
}

const char *error_msg(const struct error *err)
{
    return err ? err->msg : "";
}

void error_free(struct error *err)
{
    if (!err)
        return;
    free(err->msg);
    free(err->hint);
    free(err);
}

void error_set_progname(const char *argv0)
{
    const char *slash = argv0 ? strrchr(argv0, '/') : NULL;
    progname = slash ? slash + 1 : (argv0 ? argv0 : "flatimg");
}

const char *error_progname(void)
{
    return progname;
}

void error_vreport(const char *fmt, va_list ap)
{
    fprintf(stderr, "%s: ", progname);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void error_report(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    error_vreport(fmt, ap);
    va_end(ap);
}

void warn_report(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: warning: ", progname);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void error_set_log_handler(void (*fn)(void *opaque, const char *msg), void *opaque)
{
    log_handler = fn;
    log_opaque = opaque;
}

void log_message(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = vformat(fmt, ap);
    va_end(ap);
    if (log_handler)
        log_handler(log_opaque, msg);
    else
        warn_report("%s", msg);
    free(msg);
}

void error_report_err(struct error *err)
{
    if (!err)
        return;
    error_report("%s", err->msg);
    if (err->hint)
        fputs(err->hint, stderr);
    error_free(err);
}
