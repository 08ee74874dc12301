"""FEAGI genomes in, connectomes out: parsers, morphologies, the builder, the connectome file,
brain names. Of ``core`` it uses the connectome model only.

Must not import: engine.accel, hailo, ros, cli, rclpy
From engine.core imports only: engine.core.connectome
"""
