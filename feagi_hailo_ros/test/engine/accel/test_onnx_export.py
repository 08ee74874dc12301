"""ONNX export: valid static graphs, exact counts in ONNX Runtime, calibration sets, manifest."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from strategies import area, brain, proj

from feagi_hailo_ros.engine.accel.manifest import Manifest
from feagi_hailo_ros.engine.accel.numpy_integrator import NumpyIntegrator
from feagi_hailo_ros.engine.accel.onnx_export import (
    IR_VERSION,
    OPSET,
    ExportError,
    export,
    record_calibration,
)
from feagi_hailo_ros.engine.accel.placement import PlacementRules, place
from feagi_hailo_ros.engine.core.connectome import Connectome
from feagi_hailo_ros.engine.genome.brains import load_brain

onnx = pytest.importorskip("onnx", reason="onnx is not installed")
ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed")

ALL_ON = PlacementRules(min_synapses=0, min_dst_neurons=0, keep_sensory_motor_on_cpu=False)
CALIB = 24


def mixed_brain() -> Connectome:
    """Conv and dense partitions, a delay-2 projection and a fan-in > 255 (16-bit output)."""
    a = area(dims=(4, 3, 2), cid="c_src")
    b = area(dims=(4, 3, 1), cid="c_dst")
    wide = area(dims=(300, 1, 1), cid="c_wid")
    sink = area(dims=(1, 1, 2), cid="c_snk")
    idx = np.arange(24)
    x, y, z = idx // 6, (idx // 2) % 3, idx % 2
    ok = x + 1 < 4
    return brain([a, b, wide, sink], [
        proj(0, 0, 1, idx, (x * 3 + y)),                                 # conv: z folds
        proj(1, 0, 0, ((x[ok] + 1) * 3 + y[ok]) * 2 + z[ok], idx[ok]),   # conv: +x shift
        proj(2, 0, 1, idx, x * 3 + y, delay=2),                          # conv, delay 2
        proj(3, 2, 3, np.repeat(np.arange(300), 2), np.tile([0, 1], 300)),  # dense, fan-in 300
        proj(4, 0, 3, idx, idx % 2),                                     # dense, weight 0/1
    ])


@pytest.fixture(scope="module")
def exports(tmp_path_factory) -> dict[str, tuple[Connectome, Manifest, Path]]:
    out = {}
    cases = {
        "mixed": (mixed_brain(), ALL_ON),
        "obstacle": (load_brain("obstacle_avoidance")[0], ALL_ON),
        "vision": (load_brain("vision")[0], PlacementRules()),
    }
    for name, (c, rules) in cases.items():
        d = tmp_path_factory.mktemp(name)
        out[name] = (c, export(c, d, rules=rules, calib_bursts=CALIB, seed=3), d)
    return out


CASES = ["mixed", "obstacle", "vision"]


@pytest.mark.parametrize("case", CASES)
def test_models_are_valid_static_and_plain(exports, case):
    connectome, manifest, d = exports[case]
    assert manifest.partitions
    for part in manifest.partitions:
        model = onnx.load(str(d / part.files["onnx"]))
        onnx.checker.check_model(model, full_check=True)
        assert model.ir_version == IR_VERSION
        assert [(o.domain, o.version) for o in model.opset_import] == [("", OPSET)]
        ops = {n.op_type for n in model.graph.node}
        assert ops == ({"Conv"} if part.layout == "conv" else {"MatMul"})
        assert len(model.graph.node) == len(part.outputs)
        for vi in [*model.graph.input, *model.graph.output]:
            dims = vi.type.tensor_type.shape.dim
            assert all(dim.HasField("dim_value") and dim.dim_value > 0 for dim in dims), vi.name
        (inp,) = model.graph.input
        shape = [dim.dim_value for dim in inp.type.tensor_type.shape.dim]
        if part.layout == "conv":
            x, y, c = part.input_shape
            assert shape == [1, c, x, y]  # NCHW for the parser
        else:
            assert shape == [1, *part.input_shape]
        assert [o.name for o in model.graph.output] == [o.name for o in part.outputs]
        for init in model.graph.initializer:
            w = onnx.numpy_helper.to_array(init)
            assert set(np.unique(w)) <= {0.0, 1.0}, init.name
            assert w.any()


@pytest.mark.parametrize("case", CASES)
def test_onnx_runtime_counts_equal_the_reference(exports, case):
    """Every model, on recorded spike frames, gives exactly NumpyIntegrator's counts."""
    connectome, manifest, d = exports[case]
    ref = NumpyIntegrator()
    ref.prepare(connectome, [p for part in manifest.partitions for p in part.projections])
    for part in manifest.partitions:
        session = ort.InferenceSession(str(d / part.files["onnx"]),
                                       providers=["CPUExecutionProvider"])
        calib = np.load(d / part.files["calib"])
        frames = calib.reshape(len(calib), -1).astype(np.uint8)
        # The recorded frames, plus all-ones (largest counts) and all-zeros.
        frames = np.concatenate([frames, np.ones_like(frames[:1]), np.zeros_like(frames[:1])])
        expected = ref.integrate({p: frames for p in part.projections})
        for g, frame in enumerate(frames):
            if part.layout == "conv":
                feed = frame.reshape(part.input_shape).transpose(2, 0, 1)[None]
            else:
                feed = frame[None]
            outs = session.run(None, {part.input_name: feed.astype(np.float32)})
            for o, value in zip(part.outputs, outs, strict=True):
                got = value[0].transpose(1, 2, 0).reshape(-1) if part.layout == "conv" \
                    else value.reshape(-1)
                np.testing.assert_array_equal(got, expected[o.projection][g],
                                              err_msg=f"{o.name} frame {g}")
                assert got.max() <= o.max_fan_in


def test_calibration_sets_are_channels_last_recorded_frames(exports):
    connectome, manifest, d = exports["vision"]
    sources = sorted({connectome.area(p.src_area).index for p in manifest.partitions})
    frames = record_calibration(connectome, sources, CALIB, input_rate=0.05, seed=3)
    for part in manifest.partitions:
        calib = np.load(d / part.files["calib"])
        assert calib.dtype == np.float32
        assert calib.shape == (CALIB, *part.input_shape)
        assert set(np.unique(calib)) <= {0.0, 1.0}
        src = connectome.area(part.src_area)
        recorded = frames[src.index]
        assert recorded.any(), "the calibration run left the area silent"
        # Channels-last: frame[x, y, z*k + k'] is area-local neuron ((x*Y + y)*Z + z)*K + k'.
        np.testing.assert_array_equal(calib.reshape(CALIB, -1), recorded)
        n, xi, yi, ci = np.argwhere(calib)[0]
        _, big_y, c = part.input_shape
        assert recorded[n, (xi * big_y + yi) * c + ci] == 1


def test_manifest_round_trip_and_files(exports):
    for connectome, manifest, d in exports.values():
        assert Manifest.read(d / "manifest.json") == manifest
        assert manifest.genome_checksum == connectome.source_checksum
        for part in manifest.partitions:
            assert set(part.files) == {"onnx", "calib", "alls", "hef"}
            # Every file but the HEF exists now; the HEF is what COMPILE.md's last step makes.
            assert part.files["hef"] == f"{part.name}.hef"
            assert all((d / f).is_file() for k, f in part.files.items() if k != "hef")
            assert not (d / part.files["hef"]).exists()
        compile_md = (d / "COMPILE.md").read_text()
        for part in manifest.partitions:
            assert f"hailo parser onnx {part.files['onnx']} --hw-arch hailo8" in compile_md
            assert f"--calib-set-path {part.files['calib']}" in compile_md
            assert f"--model-script {part.files['alls']}" in compile_md
            assert f"hailo compiler {part.name}_optimized.har --hw-arch hailo8" in compile_md


def test_model_script_asks_16_bit_only_where_needed(exports):
    _, manifest, d = exports["mixed"]
    by_name = {p.name: p for p in manifest.partitions}
    wide = by_name["c_wid_d1_gemm"]
    assert wide.outputs[0].dtype == "uint16" and wide.outputs[0].max_fan_in == 300
    script = (d / wide.files["alls"]).read_text()
    assert "quantization_param(fc1, precision_mode=a16_w16)" in script
    assert "force_range_out=[0.0, 65535.0]" in script
    for part in manifest.partitions:
        if part is wide:
            continue
        script = "\n".join(line for line in (d / part.files["alls"]).read_text().splitlines()
                            if not line.startswith("#"))
        assert "a16_w16" not in script and "65535" not in script
        assert script.count("force_range_out=[0.0, 255.0]") == len(part.outputs)
        assert "compression_level=0" in script


def test_arch_and_calibration_options(tmp_path: Path):
    c = mixed_brain()
    manifest = export(c, tmp_path, rules=ALL_ON, arch="hailo8l", calib_bursts=0)
    assert manifest.arch == "hailo8l"
    assert all("calib" not in p.files for p in manifest.partitions)
    assert "--hw-arch hailo8l" in (tmp_path / "COMPILE.md").read_text()
    assert not list(tmp_path.glob("*.npy"))
    with pytest.raises(ExportError, match="hailo8"):
        export(c, tmp_path, rules=ALL_ON, arch="hailo10h")


def test_silent_source_gets_random_calibration(tmp_path: Path):
    # The calibration run injects into both areas, but neither can ever fire.
    c = brain([area(dims=(3, 1, 1), excitability=0.0), area(dims=(3, 1, 1), excitability=0.0)],
              [proj(0, 0, 1, [0, 1, 2], [0, 1, 2]), proj(1, 1, 0, [0], [0])])
    with pytest.warns(RuntimeWarning, match="never fired"):
        manifest = export(c, tmp_path, rules=ALL_ON, calib_bursts=200)
    calib = np.load(tmp_path / manifest.partitions[0].files["calib"])
    assert calib.any()


def test_oversized_partition_is_refused(tmp_path: Path):
    c = load_brain("vision")[0]
    rules = PlacementRules(overrides={"c_v1__->c_v2__#0": "accelerator"}, min_synapses=10**9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the budget warning comes first
        with pytest.raises(ExportError, match="2 GiB"):
            export(c, tmp_path, rules=rules, calib_bursts=0)
    assert [p.backend for p in place(c, rules)].count("accelerator") == 1


def test_engine_does_not_need_onnx():
    code = ("import sys; import feagi_hailo_ros.engine.core.engine, feagi_hailo_ros.engine.accel.placement,"
            " feagi_hailo_ros.engine.accel.onnx_export, feagi_hailo_ros.engine.accel.onnx_integrator;"
            " bad = [m for m in ('onnx', 'onnxruntime') if m in sys.modules];"
            " assert not bad, bad")
    root = Path(__file__).resolve().parents[3]
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root,
                   env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"})


def test_export_with_the_pipeline_rule_exports_the_pipelined_brain(tmp_path: Path) -> None:
    # export(rules=...) used to drop the pipeline rule: delay-1 partitions were written, and a
    # node running the same rules (which pipelines the brain) refused the manifest ("delay 1,
    # but projection 0 has delay 2"). The CLI pipelined the brain itself; the function must too.
    import dataclasses

    c = load_brain("obstacle_avoidance")[0]
    rules = dataclasses.replace(ALL_ON, pipeline=True)
    manifest = export(c, tmp_path, rules=rules, calib_bursts=0)
    assert manifest.partitions
    assert all(p.delay == 2 and "_d2_" in p.name for p in manifest.partitions), \
        [p.name for p in manifest.partitions]
    plain = export(c, tmp_path / "plain", rules=ALL_ON, calib_bursts=0)
    assert all(p.delay == 1 for p in plain.partitions)
