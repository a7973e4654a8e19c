"""The policy library: add from run folders and bundles, figures, scene images, list, remove."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

import sims
from agentic_rl.cli import app
from agentic_rl.library import Library, LibraryError
from tests.test_ros_fixtures import const_bundle, hover_run

__all__ = ["hover_run"]  # fixture used here

runner = CliRunner()


@pytest.fixture(scope="module")
def gates_bundle(tmp_path_factory):
    return const_bundle(tmp_path_factory, "DroneGates", [0.0, 0.0, 0.0, 0.0])


@pytest.fixture
def refine_run(tmp_path, gates_bundle):
    """A refinement run folder: summary.json and best/ with a robustness report."""
    run = tmp_path / "runs" / "DroneGates-v0" / "20250101-000000"
    shutil.copytree(gates_bundle, run / "best")
    (run / "summary.json").write_text(json.dumps({"final": {"cid": "i1/c0", "success_rate": 0.75}}))
    report = {
        "version": "1",
        "task_id": "agentic_rl/DroneGates-v0",
        "sweep": {
            "nominal_success": 0.8,
            "params": [
                {"name": "mass", "safe_range": [0.7, 1.3]},
                {"name": "wind", "safe_range": [0.0, 0.05]},
            ],
            "joint": [{"success_rate": 0.6}],
        },
        "transfer": {"rows": [{"config": {"name": "heavy"}, "success_rate": 0.5}]},
    }
    (run / "best" / "robustness").mkdir()
    (run / "best" / "robustness" / "robustness.json").write_text(json.dumps(report))
    return run


def test_add_a_refine_run_keeps_bundle_figures_and_scene_images(tmp_path, refine_run):
    lib = Library(tmp_path / "lib")
    entry = lib.add(refine_run, scene_images=2)
    spec = sims.get_spec("DroneGates")
    assert entry.name == "DroneGates" and entry.task_id == spec.id
    assert entry.description == spec.description and entry.success_criterion == spec.success
    assert entry.success_rate == 0.75
    r = entry.robustness
    assert r is not None and r.nominal_success == 0.8 and r.joint_success == 0.6
    assert r.safe_ranges == {"mass": (0.7, 1.3), "wind": (0.0, 0.05)}
    assert r.transfer == {"heavy": 0.5}
    assert entry.quality == 0.6  # robust success ranks policies of one task
    bundle = lib.bundle_dir("DroneGates")
    assert (bundle / "policy.onnx").is_file() and (
        bundle / "robustness" / "robustness.json"
    ).is_file()
    assert len(entry.scenes) == 2
    for rel in entry.scenes:
        img = np.asarray(Image.open(lib.entry_dir("DroneGates") / rel))
        assert img.shape == (240, 320, 3) and img.std() > 5  # a rendered scene, not a blank
    card = entry.card_text()
    assert (
        "DroneGates" in card and "success 75%" in card and "randomized-physics success 60%" in card
    )
    # reopening the folder reads the same entry back
    assert Library(tmp_path / "lib").get("DroneGates") == entry


def test_add_a_train_run_exports_its_bundle(tmp_path, hover_run):
    lib = Library(tmp_path / "lib")
    entry = lib.add(hover_run, scene_images=1, notes="indoor hover, small room")
    assert entry.task_id == "agentic_rl/DroneHover-v0" and entry.robustness is None
    meta = json.loads((lib.bundle_dir(entry.name) / "bundle.json").read_text())
    assert meta["task"]["id"] == entry.task_id
    assert entry.notes == "indoor hover, small room"


def test_duplicates_names_and_bad_sources_are_refused(tmp_path, refine_run, gates_bundle):
    lib = Library(tmp_path / "lib")
    lib.add(refine_run, scene_images=0)
    with pytest.raises(LibraryError, match="already in the library as 'DroneGates'"):
        lib.add(gates_bundle, scene_images=0)
    with pytest.raises(LibraryError, match="holds no policy"):
        lib.add(tmp_path, scene_images=0)
    with pytest.raises(LibraryError, match="does not exist"):
        lib.add(tmp_path / "nope", scene_images=0)
    with pytest.raises(LibraryError, match=r"no policy .Nope.*DroneGates"):
        lib.get("Nope")
    assert [e.name for e in lib.entries()] == ["DroneGates"]
    assert not list(lib.root.glob(".add-*"))  # failed adds leave nothing behind


def test_second_policy_of_a_task_gets_a_free_name_and_remove_deletes_it(
    tmp_path, tmp_path_factory, refine_run
):
    lib = Library(tmp_path / "lib")
    lib.add(refine_run, scene_images=0)
    other = const_bundle(tmp_path_factory, "DroneGates", [0.0, 0.0, 0.1, 0.0])
    assert lib.add(other, scene_images=0).name == "DroneGates-2"
    with pytest.raises(LibraryError, match="invalid"):
        lib.add(other, name="../escape", scene_images=0)
    lib.remove("DroneGates")
    assert [e.name for e in lib.entries()] == ["DroneGates-2"]
    assert not (lib.entries_dir / "DroneGates").exists()


def test_a_foreign_folder_is_not_taken_for_a_library(tmp_path):
    (tmp_path / "stuff.txt").write_text("mine")
    with pytest.raises(LibraryError, match="not a policy library"):
        Library(tmp_path)


def test_cli_add_list_remove(tmp_path, refine_run):
    lib = str(tmp_path / "lib")
    res = runner.invoke(app, ["library", "add", str(refine_run), "--images", "0", "--library", lib])
    assert res.exit_code == 0, res.output
    assert "added DroneGates" in res.output and "train-selector" in res.output
    res = runner.invoke(app, ["library", "list", "--json", "--library", lib])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)
    assert [r["name"] for r in rows] == ["DroneGates"] and rows[0]["success_rate"] == 0.75
    res = runner.invoke(app, ["library", "remove", "Nope", "--library", lib])
    assert res.exit_code == 1 and "no policy 'Nope'" in res.output
    res = runner.invoke(app, ["library", "remove", "DroneGates", "--library", lib])
    assert res.exit_code == 0 and "removed DroneGates" in res.output
    res = runner.invoke(app, ["library", "list", "--library", lib])
    assert "empty" in res.output
