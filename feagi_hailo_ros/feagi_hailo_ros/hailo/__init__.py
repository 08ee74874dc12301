"""ctypes binding to HailoRT 4.x (libhailort): no FEAGI knowledge here."""
