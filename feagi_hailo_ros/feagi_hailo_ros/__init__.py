"""Run FEAGI brains as spiking networks on a robot: CPU (Numba) plus Hailo-8, driven by ROS 2."""

__version__ = "0.1.0"
