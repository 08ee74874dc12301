"""Engine tests: this folder holds the shared test helpers (``strategies``, ``genome_factory``,
``hailo_partitions``); pytest puts a conftest's folder on ``sys.path``, so the tests in
``genome/``, ``core/`` and ``accel/`` import them by name."""
