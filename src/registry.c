/* The driver registry: the one table naming every driver, in the order qemu-img's "Supported
 * formats:" line lists them. Drivers add themselves through drivers/list.h. */
#include "config.h"

#include <string.h>

#include "file.h"
#include "node.h"

#define DRIVER(name) extern const struct driver driver_##name;
#include "../drivers/list.h"
#undef DRIVER

static const struct driver *const drivers[] = {
#define DRIVER(name) &driver_##name,
#include "../drivers/list.h"
#undef DRIVER
    &driver_file,
    NULL,
};

const struct driver *const *driver_list(void)
{
    return drivers;
}

const struct driver *driver_find(const char *name)
{
    for (const struct driver *const *d = drivers; *d; d++)
        if (!strcmp((*d)->name, name))
            return *d;
    if (!strcmp(name, "host_device"))
        return &driver_file;
    return NULL;
}
