/* Errors that carry a message built where the context is known, printed once by the program
 * in qemu-img's style ("prog: message"). Modelled on qemu's Error API semantics. */
#ifndef FLATIMG_ERROR_H
#define FLATIMG_ERROR_H

#include <stdarg.h>
#include <stdbool.h>

struct error;

#define PRINTF_FMT(a, b) __attribute__((format(printf, a, b)))

/* Set *errp to a new error (if errp is NULL the message is dropped; if *errp is already set, the
 * first error wins). */
void error_setg(struct error **errp, const char *fmt, ...) PRINTF_FMT(2, 3);
/* Same, with ": strerror(errnum)" appended; errnum is positive or negative. */
void error_setg_errno(struct error **errp, int errnum, const char *fmt, ...) PRINTF_FMT(3, 4);
/* Prefix an existing error's message. */
void error_prepend(struct error **errp, const char *fmt, ...) PRINTF_FMT(2, 3);
/* Add to the hint printed after the message by error_report_err (qemu's error_append_hint). */
void error_append_hint(struct error **errp, const char *fmt, ...) PRINTF_FMT(2, 3);
/* Move src into *dst (or free it when dst is NULL or already set). */
void error_propagate(struct error **dst, struct error *src);
const char *error_msg(const struct error *err);
void error_free(struct error *err);

/* Program name used in messages: basename(argv[0]). Set once at start-up. */
void error_set_progname(const char *argv0);
const char *error_progname(void);

/* "prog: message\n" on stderr. */
void error_report(const char *fmt, ...) PRINTF_FMT(1, 2);
void error_vreport(const char *fmt, va_list ap);
/* "prog: warning: message\n" on stderr. */
void warn_report(const char *fmt, ...) PRINTF_FMT(1, 2);
/* Messages for a long-running program's log (flatimgfs sends them to syslog, or stderr with -f
 * or -d): log_message hands the text to the handler set once at start-up, or prints it as a
 * warning when there is none. */
void error_set_log_handler(void (*fn)(void *opaque, const char *msg), void *opaque);
void log_message(const char *fmt, ...) PRINTF_FMT(1, 2);
/* Print an error as error_report does, then free it. */
void error_report_err(struct error *err);

#endif
