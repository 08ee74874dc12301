"""Services that cannot hurt the node (issue 11, item 2): every request is answered, a failing
one with ``success=false`` and the reason, and the node keeps bursting; genome text is never a
path and is decoded with limits; pending and replaced engines are closed; checkpoint paths are
resolved against ``state_dir``. The runner parts use fake engines; the node parts run the node
in-process over DDS like test_node.py, with bursts counted by an observer (no wall-clock rate
is assumed, only generous timeouts)."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

rclpy = pytest.importorskip("rclpy", reason="rclpy is not installed in this environment")
pytest.importorskip("feagi_hailo_msgs.msg", reason="feagi_hailo_msgs is not built (make setup)")

from rclpy.parameter import Parameter  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402
from test_node import Harness  # noqa: E402

from feagi_hailo_msgs.srv import Checkpoint, Upload  # noqa: E402
from feagi_hailo_ros.engine.core.connectome import Connectome  # noqa: E402
from feagi_hailo_ros.genomes import example_genome_path  # noqa: E402
from feagi_hailo_ros.ros import brain_runner  # noqa: E402
from feagi_hailo_ros.ros import node as node_module  # noqa: E402
from feagi_hailo_ros.ros.areas import OFF  # noqa: E402
from feagi_hailo_ros.ros.brain_runner import (  # noqa: E402
    BrainLoadError,
    BrainRunner,
    BrainSource,
    PreparedBrain,
    build_brain,
)

DEEP = '{"version": "2.1", "blueprint": ' + "[" * 200_000 + "]" * 200_000 + "}"


# -- the runner, with fake engines ---------------------------------------------------------


class FakeEngine:
    """Counts ``close`` calls; nothing else of an engine is used by a pending swap."""

    def __init__(self) -> None:
        self.closed = 0

    def close(self) -> None:
        self.closed += 1


def fake_prepared(runner: BrainRunner) -> tuple[PreparedBrain, FakeEngine]:
    engine = FakeEngine()
    return PreparedBrain(SimpleNamespace(engine=engine), runner.areas), engine


@pytest.fixture(scope="module")
def shipped_brain() -> Connectome:
    return build_brain(BrainSource(genome_path="obstacle_avoidance"))


def test_a_second_swap_before_a_burst_closes_the_first_pending_engine(shipped_brain) -> None:
    runner = BrainRunner(shipped_brain)
    first, first_engine = fake_prepared(runner)
    second, second_engine = fake_prepared(runner)
    runner.swap(first)
    assert first_engine.closed == 0
    runner.swap(second)
    assert (first_engine.closed, second_engine.closed) == (1, 0)
    runner.close()  # a cleanup with a swap pending
    assert (first_engine.closed, second_engine.closed) == (1, 1)


def test_a_swap_into_a_closed_runner_is_refused_and_closed(shipped_brain) -> None:
    runner = BrainRunner(shipped_brain)
    runner.close()
    prepared, engine = fake_prepared(runner)
    with pytest.raises(BrainLoadError, match="released"):
        runner.swap(prepared)
    assert engine.closed == 1


def test_a_brain_without_areas_is_refused_before_an_engine_is_made(shipped_brain) -> None:
    runner = BrainRunner(shipped_brain, motor_area=OFF)
    with pytest.raises(BrainLoadError, match="no areas or no neurons"):
        runner.prepare_swap(Connectome(areas=[], projections=[]))
    with pytest.raises(BrainLoadError, match="no areas or no neurons"):
        BrainRunner(Connectome(areas=[], projections=[]), motor_area=OFF)


def test_genome_json_is_always_text_never_a_path() -> None:
    path = str(example_genome_path("obstacle_avoidance"))
    with pytest.raises(BrainLoadError, match="GenomeSyntaxError"):
        build_brain(BrainSource(genome_json=path))
    with pytest.raises(BrainLoadError, match="GenomeSyntaxError"):
        build_brain(BrainSource(genome_json="/etc/hostname"))
    assert build_brain(BrainSource(genome_json=Path(path).read_text())).neuron_count > 0


def test_deep_genome_json_is_refused_with_the_depth_limit() -> None:
    with pytest.raises(BrainLoadError, match="deeper than"):
        build_brain(BrainSource(genome_json=DEEP))


def test_any_exception_while_building_becomes_a_brain_load_error(monkeypatch) -> None:
    def explode(*args: object, **kwargs: object) -> None:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(brain_runner, "build_connectome", explode)
    with pytest.raises(BrainLoadError, match="RecursionError"):
        build_brain(BrainSource(genome_json=example_genome_path("vision").read_text()))


# -- the live node ---------------------------------------------------------------------------


class Counted(Harness):
    """A Harness whose node counts its bursts, and that waits for more of them."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.bursts = 0
        self.node.burst_observers.append(self._count)

    def _count(self, result: object) -> None:
        self.bursts += 1

    def assert_bursting(self) -> None:
        before = self.bursts
        assert self.spin_until(self.executor, lambda: self.bursts > before + 2, timeout=30.0), \
            "the node stopped bursting"
        assert self.node._state_machine.current_state[1] == "active"


@pytest.fixture
def live(ros_context: object, spin_until, tmp_path):
    made: list[Counted] = []

    def make(**params: object) -> Counted:
        overrides = [Parameter("state_dir", value=str(tmp_path / "states"))]
        overrides += [Parameter(k, value=v) for k, v in params.items()]
        made.append(Counted(ros_context, spin_until, overrides))
        made[-1].configure_and_activate(pause=False)
        made[-1].assert_bursting()
        return made[-1]

    yield make
    for h in made:
        h.close()


def test_every_service_answers_an_exception_and_the_node_keeps_bursting(live, monkeypatch) -> None:
    h = live()

    def explode(*args: object, **kwargs: object) -> None:
        raise RecursionError("deep inside")

    monkeypatch.setattr(h.node.runner, "reset", explode)
    monkeypatch.setattr(h.node.runner, "save_state", explode)
    monkeypatch.setattr(h.node.runner, "load_state", explode)
    monkeypatch.setattr(node_module, "build_brain", explode)
    answers = [h.call(Trigger, "/feagi_hailo/reset"),
               h.call(Upload, "/feagi_hailo/upload", genome_path="obstacle_avoidance"),
               h.call(Checkpoint, "/feagi_hailo/save_state", path="s.npz"),
               h.call(Checkpoint, "/feagi_hailo/load_state", path="s.npz")]
    for answer in answers:
        assert not answer.success
        assert "RecursionError: deep inside" in answer.message
    h.assert_bursting()


def test_deep_or_path_genome_json_is_refused_and_the_node_keeps_bursting(live) -> None:
    h = live()
    old = h.node.runner.connectome
    deep = h.call(Upload, "/feagi_hailo/upload", genome_json=DEEP)
    assert not deep.success and "deeper than" in deep.message
    path = h.call(Upload, "/feagi_hailo/upload", genome_json="/etc/hostname")
    assert not path.success and "invalid JSON" in path.message
    assert h.node.runner.connectome is old
    h.assert_bursting()


def test_checkpoint_paths_resolve_against_state_dir_not_cwd(live, tmp_path, monkeypatch) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    h = live()
    # state_dir (tmp_path/states) does not exist yet: the first save creates it.
    saved = h.call(Checkpoint, "/feagi_hailo/save_state", path="state.npz")
    assert saved.success, saved.message
    target = tmp_path / "states" / "state.npz"
    assert target.is_file() and str(target) in saved.message
    assert not any(cwd.iterdir())
    (tmp_path / "states" / "run1").mkdir()
    into = h.call(Checkpoint, "/feagi_hailo/save_state", path="run1/state.npz")
    assert into.success and (tmp_path / "states" / "run1" / "state.npz").is_file()
    loaded = h.call(Checkpoint, "/feagi_hailo/load_state", path="state.npz")
    assert loaded.success and loaded.burst == saved.burst
    empty = h.call(Checkpoint, "/feagi_hailo/save_state", path="")
    assert not empty.success and "empty" in empty.message
    assert h.node.state_path(str(tmp_path / "abs.npz")) == str(tmp_path / "abs.npz")
    assert h.node.state_path("~/x.npz") == os.path.expanduser("~/x.npz")


def test_a_save_into_a_missing_directory_is_refused_and_writes_nothing(live, tmp_path) -> None:
    h = live()
    before = sorted(tmp_path.rglob("*"))
    # Absolute paths under tmp_path only: a broken build must not leave /nonexistent behind.
    for path, missing in ((str(tmp_path / "typo" / "dir" / "x"), str(tmp_path / "typo" / "dir")),
                          ("run2/x.npz", str(tmp_path / "states" / "run2"))):
        answer = h.call(Checkpoint, "/feagi_hailo/save_state", path=path)
        assert not answer.success
        assert answer.message.startswith(f"save_state refused: directory {missing} does not "
                                         "exist; nothing saved"), answer.message
    # Nothing created or written anywhere; state_dir only appears with a save into it.
    assert sorted(tmp_path.rglob("*")) == before
    h.assert_bursting()


def test_default_state_dir_is_the_ros_log_directory(ros_context, spin_until, tmp_path,
                                                    monkeypatch) -> None:
    monkeypatch.setenv("ROS_LOG_DIR", str(tmp_path / "roslog"))
    h = Harness(ros_context, spin_until)
    try:
        assert h.node.state_path("s.npz") == str(tmp_path / "roslog" / "s.npz")
    finally:
        h.close()


# Hostile values: deep nesting, paths where text belongs, numbers and text no decoder likes,
# brains with other bindings or nothing to bind, NUL bytes, very long names.
HOSTILE_TEXT = st.sampled_from([
    "", " ", "{}", "[]", "null", "/etc/hostname", "/", "\x00", "a" * 5000, DEEP,
    "[" * 3000, '{"a": ' * 3000, "1e999999", "-" * 100, '{"version": "2.1", "blueprint": {}}',
    '{"version": "2.1", "blueprint": {"_____10c-i__pro-cx-___bbx-i": 0}}',
    "obstacle_avoidance", "vision", "/nonexistent/genome.json", "\ud800",
])
TEXT = st.one_of(HOSTILE_TEXT, st.text(max_size=40))
# Saves write files: relative names only (under state_dir), never out of it.
SAVE_PATH = st.one_of(
    st.sampled_from(["", "s.npz", "dir/s.npz", "a" * 300, "nul\x00byte", "."]),
    st.text(max_size=30).filter(lambda p: not p.startswith(("/", "~")) and ".." not in p))
LOAD_PATH = st.one_of(SAVE_PATH, st.sampled_from(["/etc/hostname", "/", "/nonexistent",
                                                  "/proc/self/status"]))


def upload(genome_path: str = "", genome_json: str = "", connectome_path: str = "") -> tuple:
    """An ``~/upload`` request as (service, fields)."""
    return ("upload", {"genome_path": genome_path, "genome_json": genome_json,
                       "connectome_path": connectome_path})


REQUEST = st.one_of(
    st.just(("reset", {})),
    # Mostly one source, as a client means it (two or three are refused before any parsing).
    st.builds(lambda j: upload(genome_json=j), TEXT),
    st.builds(lambda g: upload(genome_path=g), TEXT),
    st.builds(lambda c: upload(connectome_path=c), TEXT),
    st.builds(upload, TEXT, TEXT, TEXT),
    st.builds(lambda p: ("save_state", {"path": p}), SAVE_PATH),
    st.builds(lambda p: ("load_state", {"path": p}), LOAD_PATH),
)
TYPES = {"reset": Trigger, "upload": Upload, "save_state": Checkpoint, "load_state": Checkpoint}


def test_hostile_requests_to_every_service_are_answered_and_bursting_goes_on(live) -> None:
    h = live()
    seen: set[str] = set()

    @settings(max_examples=30, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(requests=st.lists(REQUEST, min_size=1, max_size=3))
    # Always tried, whatever the draw: the requests that killed or fooled the node before.
    @example(requests=[upload(genome_json=DEEP), upload(genome_json='{"a": ' * 3000)])
    @example(requests=[upload(genome_json="/etc/hostname"), upload(genome_path="\x00")])
    @example(requests=[upload(genome_json='{"version": "2.1", "blueprint": {}}'),
                       ("save_state", {"path": "a" * 300}), ("load_state", {"path": "/"})])
    def hostile(requests: list[tuple[str, dict[str, str]]]) -> None:
        for name, fields in requests:
            seen.add(name)
            # Strings a ROS message cannot carry (a lone surrogate) are the transport's
            # refusal, not the node's: send them as they would arrive, replaced.
            fields = {k: v.encode("utf-8", "replace").decode("utf-8") if isinstance(v, str)
                      else v for k, v in fields.items()}
            answer = h.call(TYPES[name], f"/feagi_hailo/{name}", **fields)
            assert answer is not None
            assert answer.success or answer.message, f"{name} refused without a reason"
        h.assert_bursting()

    hostile()
    assert seen == set(TYPES)


def test_a_file_that_is_no_checkpoint_is_refused_with_what_one_is(live, tmp_path) -> None:
    # ~/load_state /etc/passwd replied with NumPy's advice to load pickled data unsafely.
    h = live()
    ok = h.call(Checkpoint, "/feagi_hailo/save_state", path="ok.npz")
    assert ok.success, ok.message
    data = (tmp_path / "states" / "ok.npz").read_bytes()
    (tmp_path / "empty").write_bytes(b"")
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    (tmp_path / "adir").mkdir()
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as z:
        z.writestr("readme.txt", "not ours")
    for path, says in (("/etc/passwd", "no zip archive"), (str(tmp_path / "empty"), "empty"),
                       (str(tmp_path / "cut.npz"), "truncated"),
                       (str(tmp_path / "adir"), "a directory"),
                       (str(tmp_path / "other.zip"), "not an engine checkpoint")):
        before = h.node.runner.burst
        answer = h.call(Checkpoint, "/feagi_hailo/load_state", path=path)
        assert not answer.success
        assert answer.message.startswith(f"load_state refused, the brain keeps running: {path}: ")
        assert says in answer.message and node_module.CHECKPOINT_HELP in answer.message
        assert "pickle" not in answer.message, answer.message
        assert h.node.runner.burst >= before  # not rewound to the checkpoint's burst
    h.assert_bursting()


def test_an_empty_upload_is_refused_and_never_loads_the_default_brain(live) -> None:
    # README once said an empty genome_path means the default brain for ~/upload too; an
    # empty request (a client that left every field unset) must not replace a running,
    # perhaps trained, brain with obstacle_avoidance: it is refused, naming what to write.
    h = live()  # the default brain runs: a default upload would succeed and replace it
    running = h.node.runner.connectome
    answer = h.call(Upload, "/feagi_hailo/upload")
    assert not answer.success
    assert answer.message == ("upload refused, previous brain kept: empty request: give exactly "
                              "one of genome_path, genome_json, connectome_path (the default "
                              "brain is genome_path obstacle_avoidance; an empty upload never "
                              "replaces the running brain)")
    assert h.node.runner.connectome is running
    h.assert_bursting()
    assert h.node.runner.connectome is running


def test_a_brain_source_names_what_to_write_when_empty_or_doubled() -> None:
    with pytest.raises(BrainLoadError, match=r"^empty request: give exactly one of .*"
                                             r"genome_path obstacle_avoidance"):
        BrainSource()
    with pytest.raises(BrainLoadError, match=r"^give exactly one of genome_path, genome_json, "
                                             r"connectome_path \(got genome_path, genome_json\)$"):
        BrainSource(genome_path="vision", genome_json="{}")
