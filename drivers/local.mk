# Format drivers: one file (or folder) per format, compiled into the core library.
# One line per driver so that drivers can be added independently.
src_libflatimg_a_SOURCES += %reldir%/list.h
src_libflatimg_a_SOURCES += %reldir%/raw.c
include drivers/qcow2/local.mk
src_libflatimg_a_SOURCES += %reldir%/qed.c
src_libflatimg_a_SOURCES += %reldir%/vdi.c
src_libflatimg_a_SOURCES += %reldir%/vmdk.c
src_libflatimg_a_SOURCES += %reldir%/vpc.c
src_libflatimg_a_SOURCES += %reldir%/parallels.c
src_libflatimg_a_SOURCES += %reldir%/qcow.c
src_libflatimg_a_SOURCES += %reldir%/vhdx.c
src_libflatimg_a_SOURCES += %reldir%/bochs.c
src_libflatimg_a_SOURCES += %reldir%/cloop.c
src_libflatimg_a_SOURCES += %reldir%/dmg.c
src_libflatimg_a_SOURCES += %reldir%/luks/luks.c
