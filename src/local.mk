# The core library (src/). Drivers are compiled into the same library (drivers/local.mk).
src_libflatimg_a_SOURCES += \
	%reldir%/bitmap.c %reldir%/bitmap.h \
	%reldir%/bswap.h \
	%reldir%/cache.c %reldir%/cache.h \
	%reldir%/create.c %reldir%/create.h \
	%reldir%/crypto.c %reldir%/crypto.h \
	%reldir%/error.c %reldir%/error.h \
	%reldir%/file.c %reldir%/file.h \
	%reldir%/hash.c \
	%reldir%/human.c %reldir%/human.h \
	%reldir%/info.c %reldir%/info.h \
	%reldir%/json.c %reldir%/json.h \
	%reldir%/luks.c %reldir%/luks.h \
	%reldir%/node.c %reldir%/node.h \
	%reldir%/object.c %reldir%/object.h \
	%reldir%/opts.c %reldir%/opts.h \
	%reldir%/progress.c %reldir%/progress.h \
	%reldir%/registry.c
