"""FEAGI genomes in, connectomes out: parsers, morphologies, the builder, the connectome file.
Imports ``core``'s model only; never ``accel``, ``ros`` or rclpy."""
