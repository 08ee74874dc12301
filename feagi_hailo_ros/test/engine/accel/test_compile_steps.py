"""Following COMPILE.md ends with a manifest the Hailo integrator runs, with no edit.

``feagi-hailo export`` lists each partition's HEF (``<partition>.hef``) in the manifest, and
COMPILE.md's commands must produce exactly those files. Hailo's Dataflow Compiler is not
available here (x86-only, not redistributable), so the test walks COMPILE.md's shell lines with
a stand-in for the ``hailo`` command: ``parser`` records the ``--net-name`` in the HAR it
writes, ``optimize`` carries it to the optimized HAR, ``compiler`` writes the stand-in's HEF
format for that network into ``--output-dir`` under ``<net-name>.hef`` (which is how the DFC
names its output; the one fact here that only a real DFC can confirm). Then the node's Hailo
integrator runs the exported brain on the libhailort stand-in: no partition may fall back and
the raster must be the CPU engine's.
"""

from __future__ import annotations

import importlib
import re
import shlex
from pathlib import Path

import pytest
from hailo_partitions import hf, network_group
from strategies import assert_same_run

from feagi_hailo_ros.engine.accel.hailo_integrator import HailoIntegrator
from feagi_hailo_ros.engine.accel.manifest import Manifest
from feagi_hailo_ros.engine.accel.placement import PlacementRules, accelerator_projections, place
from feagi_hailo_ros.engine.core.connectome import Connectome
from feagi_hailo_ros.engine.core.engine import Engine
from feagi_hailo_ros.engine.genome.brains import load_brain
from feagi_hailo_ros.hailo import HailoRT

pytest.importorskip("onnx", reason="exporting needs the onnx package")
from feagi_hailo_ros.engine.accel.onnx_export import export  # noqa: E402

standin_conftest = importlib.import_module("hailo.conftest")
standin = standin_conftest.standin


@pytest.fixture(params=["4.23"])
def standin_version(request: pytest.FixtureRequest) -> str:
    return request.param


ALL_ON = PlacementRules(min_synapses=0, min_dst_neurons=0, keep_sensory_motor_on_cpu=False)


class FakeDFC:
    """Runs ``hailo parser|optimize|compiler`` lines of COMPILE.md against the stand-in format.

    It knows nothing of the manifest: what it writes follows only from the command lines, so a
    name that COMPILE.md gets wrong ends as a HEF the manifest does not list.
    """

    def __init__(self, cwd: Path, connectome: Connectome, manifest: Manifest) -> None:
        self.cwd = cwd
        self.connectome = connectome
        self.by_net = {p.name: p for p in manifest.partitions}  # what the ONNX file describes
        self.ran: list[str] = []

    def run(self, line: str) -> None:
        argv = shlex.split(line, comments=True)
        assert argv[0] == "hailo", line
        opts = {argv[i]: argv[i + 1] for i in range(2, len(argv) - 1) if argv[i].startswith("--")}
        step = argv[1]
        if step == "parser":
            assert argv[2] == "onnx" and (self.cwd / argv[3]).is_file(), line
            net = opts["--net-name"]
            assert argv[3] == f"{net}.onnx"  # the network the ONNX file holds
            (self.cwd / opts["--har-path"]).write_text(net)
        elif step == "optimize":
            net = (self.cwd / argv[2]).read_text()
            assert (self.cwd / opts["--calib-set-path"]).is_file(), line
            assert (self.cwd / opts["--model-script"]).is_file(), line
            (self.cwd / opts["--output-har-path"]).write_text(net)
        elif step == "compiler":
            net = (self.cwd / argv[2]).read_text()
            out = self.cwd / opts["--output-dir"] / f"{net}.hef"
            hf.write_hef(out, [network_group(self.connectome, self.by_net[net])])
        else:
            raise AssertionError(f"unknown DFC step in COMPILE.md: {line}")
        self.ran.append(step)


def test_following_compile_md_gives_the_hefs_the_manifest_lists(standin, tmp_path) -> None:
    connectome = load_brain("obstacle_avoidance")[0]
    manifest = export(connectome, tmp_path, rules=ALL_ON, calib_bursts=4, seed=1)
    assert manifest.partitions
    dfc = FakeDFC(tmp_path, connectome, manifest)
    compile_md = (tmp_path / "COMPILE.md").read_text()
    for block in re.findall(r"```bash\n(.*?)```", compile_md, flags=re.S):
        for line in block.splitlines():
            if line.strip():
                dfc.run(line)
    assert dfc.ran == ["parser", "optimize", "compiler"] * len(manifest.partitions)
    listed = sorted(p.files["hef"] for p in Manifest.read(tmp_path / "manifest.json").partitions)
    assert sorted(f.name for f in tmp_path.glob("*.hef")) == listed

    projections = accelerator_projections(place(connectome, ALL_ON))
    integ = HailoIntegrator(tmp_path / "manifest.json", rt=HailoRT(standin.path), required=True)
    engine = Engine(connectome, "cpu", integrators={p: integ for p in projections})
    try:
        assert sorted(integ.on_device) == sorted(p.name for p in manifest.partitions)
        assert integ.degraded == {}
        assert assert_same_run([Engine(connectome, "cpu"), engine], connectome, 100, 3) > 100
        assert integ.stats()["frames"] > 0
    finally:
        engine.close()
