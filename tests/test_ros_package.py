"""The generated ROS 2 package: package.xml, launch files, params, colcon build, vendored core."""

from __future__ import annotations

import ast
import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from ros_bridge import load_profile
from ros_bridge.package import PackageError, generate_package
from ros_bridge.params import EXECUTABLE, declared_parameters, flatten
from tests.colcon import colcon_build, run_installed
from tests.test_ros_fixtures import arm_bundle, hover_bundle, hover_run

__all__ = ["arm_bundle", "hover_bundle", "hover_run"]

PKG = "dronehover_px4_policy"


@pytest.fixture(scope="module")
def package(hover_bundle, tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("ws") / "src"
    return generate_package(hover_bundle, "px4", src, goal=[0.0, 0.0, 1.0])


def test_package_xml_is_valid_format_3(package):
    from catkin_pkg.package import parse_package

    pkg = parse_package(str(package / "package.xml"))
    pkg.validate()
    assert pkg.package_format == 3 and pkg.name == PKG == package.name
    assert pkg.get_build_type() == "ament_python"
    deps = {d.name for d in pkg.exec_depends}
    assert {
        "rclpy",
        "px4_msgs",
        "geometry_msgs",
        "diagnostic_msgs",
        "std_srvs",
        "python3-numpy",
    } <= deps


def _console_scripts(setup_py: Path) -> dict[str, str]:
    for node in ast.walk(ast.parse(setup_py.read_text())):
        if isinstance(node, ast.keyword) and node.arg == "entry_points":
            entries = ast.literal_eval(
                ast.unparse(node.value).replace("package_name", repr(setup_py.parent.name))
            )
            return dict(e.replace(" ", "").split("=") for e in entries["console_scripts"])
    raise AssertionError("setup.py has no entry_points")


def _check_launch(path: Path, package: Path, share: Path, executables: set[str]) -> list[str]:
    """Node pkg/exec/params of a launch file against the package; returns the execs used."""
    root = ET.parse(path).getroot()
    args = {a.get("name"): a.get("default") for a in root.iter("arg")}
    used = set(re.findall(r"\$\(var (\w+)\)", path.read_text()))
    assert used <= set(args), f"{path.name} uses undeclared args {used - set(args)}"
    declared = set(declared_parameters(load_profile("px4"))) | {"use_sim_time"}
    execs = []
    for node in root.iter("node"):
        assert node.get("pkg") == package.name
        assert node.get("exec") in executables
        execs.append(node.get("exec"))
        for param in node.iter("param"):
            if param.get("from"):
                source = param.get("from")
                source = re.sub(r"\$\(var (\w+)\)", lambda m: args[m.group(1)], source)
                source = source.replace(f"$(find-pkg-share {package.name})", str(share))
                params = yaml.safe_load(Path(source).read_text())["/**"]["ros__parameters"]
                unknown = set(flatten(params)) - declared
                assert not unknown, f"{path.name}: params file sets undeclared {unknown}"
            else:
                assert param.get("name") in declared
    return execs


def test_launch_files_start_the_packaged_node_with_declared_parameters(package):
    scripts = _console_scripts(package / "setup.py")
    assert scripts == {EXECUTABLE: f"{package.name}.node:main"}
    launches = sorted((package / "launch").glob("*.launch.xml"))
    assert {p.name for p in launches} == {"policy.launch.xml", "bag_check.launch.xml"}
    for path in launches:
        assert "@PACKAGE@" not in path.read_text()
        assert _check_launch(path, package, package, set(scripts)) == [EXECUTABLE]


def test_params_file_holds_the_profile_and_goal(package):
    params = yaml.safe_load((package / "config" / "params.yaml").read_text())["/**"][
        "ros__parameters"
    ]
    flat = flatten(params)
    assert flat["profile"] == "px4" and flat["goal"] == [0.0, 0.0, 1.0]
    assert flat["topics.odometry"] == "/fmu/out/vehicle_odometry"
    assert flat["qos.odometry.reliability"] == "best_effort"
    assert flat["safety.staleness_s"] == 0.2


def test_readme_gives_the_exact_commands(package):
    text = (package / "README.md").read_text()
    assert f"colcon build --packages-select {PKG}" in text
    assert f"ros2 launch {PKG} policy.launch.xml" in text
    assert "std_srvs/srv/SetBool" in text and "`px4_msgs`" in text


def test_generator_refuses_bad_names_and_existing_folders(hover_bundle, package, tmp_path):
    with pytest.raises(PackageError, match="not a valid ROS package name"):
        generate_package(hover_bundle, "px4", tmp_path, package_name="Bad-Name")
    with pytest.raises(PackageError, match="not empty"):
        generate_package(hover_bundle, "px4", package.parent)


def test_node_uses_only_humble_rclpy_apis():
    # rclpy names (modules, classes, Node methods) the node and its harness use, all of which
    # exist in Humble's rclpy (docs.ros.org/en/humble/p/rclpy); newer-only ones (e.g. Node
    # type hints from rclpy.type_support, Jazzy's rclpy.event_handler) must not creep in.
    humble = {
        "rclpy", "rclpy.node", "rclpy.qos", "init", "ok", "shutdown", "spin", "spin_once", "Node",
        "QoSProfile", "DurabilityPolicy", "HistoryPolicy", "ReliabilityPolicy", "KEEP_LAST",
        "RELIABLE", "BEST_EFFORT", "VOLATILE", "TRANSIENT_LOCAL", "create_publisher",
        "create_subscription", "create_timer", "create_service", "create_client", "get_clock",
        "get_logger", "declare_parameter", "get_parameter", "destroy_node", "call_async",
        "service_is_ready", "get_fully_qualified_name", "get_subscription_count", "now",
        "nanoseconds", "publish", "info", "error", "value", "srv_name", "done", "result",
        "rclpy.executors", "ExternalShutdownException", "count_publishers",
    }  # fmt: skip
    root = Path(__file__).resolve().parent.parent / "ros_bridge"
    used: set[str] = set()
    for name in ("node.py", "live_check.py"):
        tree = ast.parse((root / name).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("rclpy"):
                used |= {node.module, *(a.name for a in node.names)}
            elif isinstance(node, ast.Import):
                used |= {a.name for a in node.names if a.name.startswith("rclpy")}
        for call in ast.walk(tree):
            if (
                isinstance(call, ast.Attribute)
                and isinstance(call.value, ast.Name)
                and call.value.id in ("rclpy", "node", "harness", "client", "log", "fut")
            ):
                used.add(call.attr)
    assert used and used <= humble, used - humble


@pytest.mark.slow
def test_colcon_build_installs_the_node_models_and_launch_files(package, tmp_path):
    prefix = colcon_build(package, tmp_path / "ws")
    share = prefix / "share" / package.name
    exe = prefix / "lib" / package.name / EXECUTABLE
    assert exe.is_file() and os.access(exe, os.X_OK)
    assert (
        prefix / "share" / "ament_index" / "resource_index" / "packages" / package.name
    ).is_file()
    for rel in ("package.xml", "README.md", "config/params.yaml", "models/policy.onnx",
                "models/bundle.json", "models/golden.npz", "launch/policy.launch.xml"):  # fmt: skip
        assert (share / rel).is_file(), rel
    site = next((prefix / "lib").glob("python3*/site-packages"))
    assert (site / package.name / "node.py").is_file()
    assert (site / package.name / "profiles" / "px4.yaml").is_file()
    for launch in (share / "launch").glob("*.launch.xml"):
        _check_launch(launch, package, share, {p.name for p in exe.parent.iterdir()})
    # The vendored runtime runs from the install tree alone: no ros_bridge, no agentic_rl.
    code = (
        "import sys, importlib.util; sys.path[:0] = [sys.argv[1]];"
        "dev = importlib.util.find_spec('pybullet') is not None;"
        f"from {package.name} import bundle, profiles, runtime;"
        f"rt = runtime.Runtime(bundle.load_bundle(sys.argv[2]), profiles.load_profile('px4'));"
        "ok, why = rt.self_test(); assert ok, why;"
        "assert not any(m.split('.')[0] in ('ros_bridge', 'agentic_rl', 'torch') for m in sys.modules);"
        # where the simulator is installed (this dev venv) the task's own sims may be used;
        # otherwise only the bundle's vendored observe modules (the live test runs that case)
        "assert dev or '/models/tasklib/' in sys.modules['sims'].__file__;"
        "print('vendored ok', rt.policy.backend)"
    )
    out = run_installed(code, site, share / "models")
    assert out.returncode == 0 and "vendored ok" in out.stdout, out.stderr[-3000:]


def test_cli_package_command(hover_bundle, tmp_path):
    from typer.testing import CliRunner

    from agentic_rl.cli import app

    runner = CliRunner()
    args = ["ros", "package", "--bundle", str(hover_bundle), "--out", str(tmp_path)]
    r = runner.invoke(app, [*args, "--profile", "mavros", "--name", "hover_mavros", "--goal", "0,0,1.2",
                            "--set", "topics.odometry=/uav1/mavros/local_position/odom"])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "colcon build --packages-select hover_mavros" in r.output
    params = yaml.safe_load((tmp_path / "hover_mavros" / "config" / "params.yaml").read_text())
    flat = flatten(params["/**"]["ros__parameters"])
    assert flat["topics.odometry"] == "/uav1/mavros/local_position/odom"
    assert flat["goal"] == [0.0, 0.0, 1.2]
    r = runner.invoke(app, [*args, "--profile", "arm_jtc"])
    text = " ".join(re.sub("[\u2500-\u257f]", " ", r.output).split())  # drop rich's box lines
    assert r.exit_code == 2 and "supports action modes" in text


@pytest.mark.parametrize(
    ("profile", "phrases"),
    [
        ("px4", ["VEHICLE_CMD_NAV_LAND", "armed and\n  Offboard", "Taking over"]),
        ("mavros", ["/mavros/state", "offboard-loss failsafe", "Taking over"]),
        ("crazyflie", ["notify_setpoints_stop", "rad/s", "Taking over"]),
        ("generic_drone", ["FALLBACK"]),
    ],
)
def test_readme_documents_the_failsafe_chain_with_real_settings(
    hover_bundle, tmp_path, profile, phrases
):
    import re

    from ros_bridge import load_profile

    root = generate_package(hover_bundle, profile, tmp_path)
    text = (root / "README.md").read_text()
    for phrase in phrases:
        assert phrase in text, phrase
    assert "Input checks" in text
    # every setting the text names is one the node really declares for this profile
    flat = load_profile(profile).flat()
    named = set(re.findall(r"`((?:params|safety)\.\w+)`", text))
    assert named and named <= set(flat), named - set(flat)


def test_generated_text_reads_cleanly(hover_bundle, tmp_path, monkeypatch):
    """Maintainer from git's config (never a placeholder address); no doubled punctuation."""
    gitconfig = tmp_path / "gitconfig"
    gitconfig.write_text("[user]\n\tname = Ada Lovelace\n\temail = ada@lab.example.org\n")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(gitconfig))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    pkg = generate_package(hover_bundle, "px4", tmp_path / "src", goal=[0.0, 0.0, 1.0])
    xml_text = (pkg / "package.xml").read_text()
    assert '<maintainer email="ada@lab.example.org">Ada Lovelace</maintainer>' in xml_text
    readme = (pkg / "README.md").read_text()
    assert "user@example.com" not in xml_text + readme
    assert not re.search(r"[.)]\)?\.\)|\.\)\.", readme), "doubled punctuation in the README"
    explicit = generate_package(
        hover_bundle,
        "px4",
        tmp_path / "src2",
        maintainer="Grace Hopper",
        maintainer_email="grace@navy.example.org",
    )
    assert "Grace Hopper" in (explicit / "package.xml").read_text()
