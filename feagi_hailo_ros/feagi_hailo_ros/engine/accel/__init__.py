"""Accelerators: placement rules, the partition manifest, quantization, ONNX export and the
integrators (NumPy, ONNX Runtime, Hailo). Uses ``core`` and the ``hailo`` binding.

Must not import: engine.genome, ros, cli, rclpy
"""
