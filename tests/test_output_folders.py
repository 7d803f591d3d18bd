"""Output folders are created only when an output is written, never for a run refused for bad input."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from engine.cli import main
from engine.config import config_from_dict

from .conftest import base_dict


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture
def good_config(tmp_path):
    p = tmp_path / "co.toml"
    p.write_text(config_from_dict(base_dict()).to_toml())
    return p


@pytest.fixture
def bad_config(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text(config_from_dict(base_dict()).to_toml().replace("today = 0.1\n", 'today = "ten percent"\n', 1))
    return p


@pytest.fixture
def results(tmp_path, good_config):
    out = tmp_path / "run.nc"
    r = invoke("run", good_config, "--paths", 64, "--quiet", "--out", out)
    assert r.exit_code == 0, r.output
    return out


@pytest.fixture
def damaged(tmp_path):
    p = tmp_path / "damaged.nc"
    p.write_bytes(b"not a netcdf file")
    return p


def _refused_without_folder(r, folder):
    assert r.exit_code == 2, r.output
    assert r.output.startswith("error:") or "\nerror:" in r.output, r.output
    assert not folder.exists(), f"{folder} was created by a refused command"


def test_bad_config_is_refused_before_the_out_folder_exists(tmp_path, bad_config):
    r = invoke("run", bad_config, "--paths", 64, "--out", tmp_path / "new" / "x.nc")
    assert "ten percent" in r.output
    _refused_without_folder(r, tmp_path / "new")


def test_bad_config_with_a_zarr_out_leaves_no_folder(tmp_path, bad_config):
    _refused_without_folder(invoke("run", bad_config, "--paths", 64, "--out", tmp_path / "new" / "x.zarr"),
                            tmp_path / "new")


def test_bad_config_with_plot_leaves_no_folder(tmp_path, bad_config):
    _refused_without_folder(invoke("run", bad_config, "--paths", 64, "--plot", tmp_path / "new" / "figs"),
                            tmp_path / "new")


def test_bad_scenario_file_is_refused_before_the_out_folder_exists(tmp_path, good_config):
    scen = tmp_path / "scen.toml"
    scen.write_text('[[scenarios]]\nname = "a"\ndescription = "b"\nwhat = 1\n')
    r = invoke("stress", good_config, "--scenarios", scen, "--paths", 64, "--quiet", "--out",
               tmp_path / "new" / "s.nc")
    assert "unknown key 'what'" in r.output
    _refused_without_folder(r, tmp_path / "new")


def test_damaged_results_with_html_leave_no_folder(tmp_path, damaged):
    _refused_without_folder(invoke("report", damaged, "--html", tmp_path / "new" / "r.html"), tmp_path / "new")


def test_damaged_results_with_plot_output_leave_no_folder(tmp_path, damaged):
    _refused_without_folder(invoke("plot", damaged, "-o", tmp_path / "new" / "h.png"), tmp_path / "new")


def test_stress_file_given_to_plot_leaves_no_folder(tmp_path, good_config):
    scen = tmp_path / "scen.toml"
    scen.write_text('[[scenarios]]\nname = "a"\ndescription = "b"\nshift = { "margin.today" = 0.01 }\n')
    s = tmp_path / "s.nc"
    assert invoke("stress", good_config, "--scenarios", scen, "--paths", 64, "--quiet", "--out", s).exit_code == 0
    _refused_without_folder(invoke("plot", s, "-o", tmp_path / "new" / "h.png"), tmp_path / "new")


def test_a_file_in_the_path_is_still_refused_before_the_run(tmp_path, good_config):
    (tmp_path / "f").write_text("")
    r = invoke("run", good_config, "--paths", 64, "--out", tmp_path / "f" / "x.nc")
    assert r.exit_code == 2 and "is a file, not a folder" in r.output


def test_missing_folders_are_created_when_the_output_is_written(tmp_path, good_config, results):
    out = tmp_path / "a" / "b" / "x.nc"
    r = invoke("run", good_config, "--paths", 64, "--quiet", "--json", "--out", out)
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["paths"] == 64 and out.is_file()
    page = tmp_path / "c" / "r.html"
    assert invoke("report", results, "--html", page).exit_code == 0 and page.is_file()
    png = tmp_path / "d" / "h.png"
    assert invoke("plot", results, "-o", png).exit_code == 0 and png.is_file()
    assert sorted(p.name for p in (tmp_path / "a" / "b").iterdir()) == ["x.nc"]  # no probe or temporary left


def test_check_writable_creates_nothing(tmp_path):
    from engine._io import check_writable

    check_writable(tmp_path / "x" / "y" / "z.nc")
    assert list(tmp_path.iterdir()) == []
