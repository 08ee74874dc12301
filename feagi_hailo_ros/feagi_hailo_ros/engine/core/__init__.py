"""The burst engine: connectome and state model, backend and integrator contracts, Numba kernels,
CPU and reference backends, the ``Engine``, checkpoints. Imports neither ``genome`` nor ``accel``."""
