"""Accelerators: placement rules, the partition manifest, quantization, ONNX export and the
integrators (NumPy, ONNX Runtime, Hailo). Imports ``core`` and ``hailo``; never ``genome`` or ``ros``."""
