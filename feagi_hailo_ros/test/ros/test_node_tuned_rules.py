"""The node runs with the placement rules `feagi-hailo tune` writes (its ``placement_config``)."""

from __future__ import annotations

import pytest

pytest.importorskip("rclpy", reason="rclpy is not installed in this environment")
pytest.importorskip("feagi_hailo_msgs.msg", reason="feagi_hailo_msgs is not built (make setup)")
pytest.importorskip("onnxruntime", reason="onnxruntime is not installed")

from rclpy.parameter import Parameter  # noqa: E402

from feagi_hailo_ros.cli import main  # noqa: E402
from feagi_hailo_ros.engine.accel.placement import PlacementRules, place  # noqa: E402
from feagi_hailo_ros.engine.accel.tune import (  # noqa: E402
    candidate_partitions,
    rules_for,
    write_rules,
)
from feagi_hailo_ros.engine.genome.brains import load_brain  # noqa: E402
from feagi_hailo_ros.genomes import example_genome_path  # noqa: E402

GENOME = str(example_genome_path("obstacle_avoidance"))  # the harness's genome


def measured(path):
    """Rules from a real `feagi-hailo tune` run (on this machine: probably all on the CPU)."""
    assert main(["tune", GENOME, "--integrator", "onnxruntime", "--out", str(path),
                 "--bursts", "5", "--warmup", "1", "--repeats", "1", "--json"]) == 0


def every_candidate(path):
    """Rules as tune writes them when every candidate partition wins (a machine where the
    accelerator is cheap), so the node has something to put on it."""
    connectome = load_brain(GENOME)[0]
    base = PlacementRules()
    parts = candidate_partitions(connectome, base)
    assert parts
    write_rules(rules_for(connectome, base, parts, [p.name for p in parts]), path, "test")


@pytest.mark.parametrize("make_rules", [measured, every_candidate])
def test_node_configures_and_bursts_with_tuned_rules(harness, tmp_path, make_rules) -> None:
    rules = tmp_path / "tuned.yaml"
    make_rules(rules)
    h = harness([Parameter("accelerator", value="onnxruntime"),
                 Parameter("placement_config", value=str(rules))])
    h.configure_and_activate()
    runner = h.node.runner
    assert runner.choice.status.startswith("onnxruntime")
    # The node placed every projection as the tuned rules say.
    expected = {pl.projection: pl.backend
                for pl in place(runner.choice.engine.connectome, PlacementRules.load(rules))}
    assert {r["projection"]: r["backend"] for r in runner.choice.placement_rows} == expected
    if make_rules is every_candidate:
        assert "accelerator" in expected.values()
    before = runner.choice.engine.burst
    runner.step()
    assert runner.choice.engine.burst == before + 1
