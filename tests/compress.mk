# Compressed cluster writes (convert -c) for qcow2 (zlib, zstd) and qcow.
COMPRESS_TESTS = \
	tests/cli/compress-qcow2.sh \
	tests/cli/compress-zstd.sh \
	tests/cli/compress-qcow.sh \
	tests/cli/compress-parallel.sh \
	tests/cli/compress-errors.sh
TESTS += $(COMPRESS_TESTS)
EXTRA_DIST += $(COMPRESS_TESTS) tests/compress-lib.sh
