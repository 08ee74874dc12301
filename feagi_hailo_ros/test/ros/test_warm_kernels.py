"""The node's per-burst kernels outside the engine are compiled when a brain is built (configure,
upload, ``make setup``'s cache warming), not in its first burst: compiled there, motor decoding
stalled the first burst after ``make setup`` for 0.8 s and tripped the watchdog."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parents[2]

# A fresh interpreter: this test process may have compiled the kernels already.
_PROBE = """
import json
from feagi_hailo_ros.ros import fired, motor_kernels, messages
from feagi_hailo_ros.ros.brain_runner import BrainRunner, BrainSource, build_brain

def counts():
    return [len(motor_kernels._decode.signatures), len(fired._columns.signatures)]

runner = BrainRunner(build_brain(BrainSource(genome_path="obstacle_avoidance")),
                     motor_area="o__mot")
built = counts()
for _ in range(3):
    result = runner.step()
    messages.firing_events(result.connectome, result.fired, result.burst, coordinates=True)
print(json.dumps({"built": built, "after_bursts": counts(), "twist": result.twist is not None}))
"""


def test_a_built_brain_has_its_burst_kernels_compiled_for_the_bursts_types() -> None:
    done = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True,
                          timeout=300, cwd=PACKAGE_ROOT)
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got["twist"]
    assert got["built"] == [1, 1], got  # compiled (or loaded) when the runner was built
    assert got["after_bursts"] == got["built"], got  # no new variant in the bursts
