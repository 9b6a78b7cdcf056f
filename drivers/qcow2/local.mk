# The qcow2 format driver, split by concern (see drivers/qcow2/qcow2.h).
src_libflatimg_a_SOURCES += \
	%reldir%/qcow2.h \
	%reldir%/qcow2.c \
	%reldir%/header.c \
	%reldir%/cluster.c \
	%reldir%/compress.c \
	%reldir%/refcount.c \
	%reldir%/snapshot.c \
	%reldir%/create.c \
	%reldir%/check.c \
	%reldir%/amend.c \
	%reldir%/bitmap.c \
	%reldir%/bitmap-track.c \
	%reldir%/zero.c \
	%reldir%/empty.c \
	%reldir%/crypt.c
