"""The burst engine: connectome and state model, backend and integrator contracts, Numba kernels,
CPU and reference backends, the ``Engine``, checkpoints, headless runs.

Must not import: engine.genome, engine.accel, hailo, ros, cli, rclpy
"""
