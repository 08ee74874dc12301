# feagi_hailo_ros development workspace.
#
#   make run                   set up what is missing, then run the node with the default brain
#                              driving the simulated robot for RUN_SECONDS (default 20)
#   make test                  set up what is missing, then lint + pytest + colcon install check
#   make test ROS_DISTRO=kilted  the same on the ROS 2 Kilted wheels
#   make setup                 only create/refresh the venv and build the interfaces
#   make test-aarch64          engine + HailoRT-binding tests and a brain record on arm64 Debian
#                              under qemu-user-static (root; not part of `make test`; tools/test_aarch64.sh)
#   make clean                 remove build products (keeps the venv); make distclean removes it too
#
# Everything lives under the repo: the venv in .venv/$(ROS_DISTRO), builds in build/.
# Stamp files make a second run do no network work.

ROS_DISTRO ?= jazzy
PYTHON ?= python3
VENV := .venv/$(ROS_DISTRO)
PY := $(VENV)/bin/python
REQS := requirements/$(ROS_DISTRO).txt
DEPS_STAMP := $(VENV)/.deps.stamp
PKG_STAMP := $(VENV)/.pkg.stamp
# Parallel runs on one machine must not see each other's DDS traffic (DESIGN §3).
TEST_ENV := ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST

RUN_SECONDS ?= 20
RUN_RATE ?= 100
RUN_OUT ?= out/run.png

.PHONY: setup run test lint pytest colcon-check clean distclean

ifeq ($(wildcard $(REQS)),)
$(error unknown ROS_DISTRO '$(ROS_DISTRO)': expected jazzy or kilted)
endif

setup: $(PKG_STAMP) msgs numba-cache

$(VENV)/bin/python:
	@$(PYTHON) -c 'import sys; v = sys.version_info[:2]; sys.exit(0 if (3, 10) <= v <= (3, 13) else "the ROS 2 wheels need CPython 3.10-3.13, $(PYTHON) is %d.%d" % v)'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=24" setuptools wheel

$(DEPS_STAMP): $(VENV)/bin/python $(REQS) requirements/common.txt
	$(PY) -m pip install --quiet -r $(REQS)
	@touch $@

# The python package, editable, so tests and `make run` use the working tree.
$(PKG_STAMP): $(DEPS_STAMP) feagi_hailo_ros/setup.py feagi_hailo_ros/setup.cfg
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e feagi_hailo_ros
	@touch $@

# The engine's Numba kernels compiled into their cache now, not in the node's first configure
# (tools/warm_numba_cache.py; with the cache already warm this takes about a second).
.PHONY: numba-cache
numba-cache: $(PKG_STAMP)
	$(PY) tools/warm_numba_cache.py

.PHONY: msgs
msgs: $(DEPS_STAMP)
	$(PY) tools/build_interfaces.py --build-base build/$(ROS_DISTRO)

run: setup
	$(TEST_ENV) ROS_DOMAIN_ID=$$(( $$$$ % 90 + 10 )) $(PY) -m feagi_hailo_ros.ros.demo \
		--seconds $(RUN_SECONDS) --rate $(RUN_RATE) --out $(RUN_OUT)

lint: $(DEPS_STAMP)
	$(VENV)/bin/ruff check .

pytest: setup
	$(TEST_ENV) ROS_DOMAIN_ID=$$(( $$$$ % 90 + 10 )) $(PY) -m pytest

colcon-check: setup
	$(PY) tools/colcon_check.py

test: setup lint pytest colcon-check

# Not part of `make test`: builds an arm64 rootfs (cached in build/aarch64) and runs under
# emulation for tens of minutes. The host venv makes the x86 record the arm64 one is compared with.
.PHONY: test-aarch64
test-aarch64: $(PKG_STAMP)
	HOST_PYTHON=$(abspath $(PY)) tools/test_aarch64.sh

clean:
	rm -rf build log install
	find . -name __pycache__ -prune -exec rm -rf {} +

distclean: clean
	rm -rf .venv
