"""Tests of the ctypes HailoRT binding, run against a C stand-in of libhailort."""
