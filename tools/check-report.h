/* The JSON and human forms of a check result (qemu's ImageCheck), used by `flatimg check --output=json`. */
#ifndef FLATIMG_TOOLS_CHECK_REPORT_H
#define FLATIMG_TOOLS_CHECK_REPORT_H

#include <json-c/json.h>
#include <stdio.h>

#include "node.h"

json_object *check_result_to_json(const char *filename, const char *format,
                                  const struct check_result *r);

/* qemu-img's human report: the verdict, cluster statistics and the image end offset. */
void check_result_print_human(FILE *out, const struct check_result *r);

#endif
