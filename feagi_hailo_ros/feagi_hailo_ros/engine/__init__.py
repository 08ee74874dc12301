"""The FEAGI engine without ROS: ``genome`` reads genomes and builds connectomes, ``core`` runs
bursts, ``accel`` places projections on accelerators. Never imports rclpy or ``ros``."""
