"""The FEAGI engine without ROS: ``genome`` reads genomes and builds connectomes, ``core`` runs
bursts, ``accel`` places projections on accelerators.

Must not import: ros, cli, rclpy, rcl_interfaces, *_msgs, *_srvs, launch, launch_ros
"""
