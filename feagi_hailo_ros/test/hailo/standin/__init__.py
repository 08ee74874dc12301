"""A C stand-in of libhailort (HailoRT 4.x) and the writer of its test-only HEF format."""
