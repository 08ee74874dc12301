"""ament_python build of feagi_hailo_ros (colcon on a robot, pip in the development venv)."""

from glob import glob

from setuptools import find_packages, setup

PACKAGE = "feagi_hailo_ros"

# Console scripts land in lib/feagi_hailo_ros (setup.cfg) where `ros2 run` and
# launch look for executables.
ENTRY_POINTS = {
    "console_scripts": [
        "hybrid_node = feagi_hailo_ros.ros.entry:hybrid_node",
        "sim_robot = feagi_hailo_ros.ros.entry:sim_robot",
        "feagi-hailo = feagi_hailo_ros.cli:main",
    ],
}

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test", "test.*"]),
    package_data={PACKAGE: ["genomes/*.json"]},
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", glob("launch/*.launch.py")),
        (f"share/{PACKAGE}/config", glob("config/*.yaml")),
    ],
    install_requires=["setuptools"],
    zip_safe=False,
    maintainer="feagi_hailo_ros maintainers",
    maintainer_email="maintainers@feagi-hailo-ros.invalid",
    description="FEAGI brains as spiking networks on CPU (Numba) and Hailo-8, driven by ROS 2.",
    license="Apache-2.0",
    entry_points=ENTRY_POINTS,
)
