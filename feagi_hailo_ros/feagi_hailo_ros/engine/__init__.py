"""The FEAGI burst engine: genome import, connectome, kernels and backends. No rclpy here."""
