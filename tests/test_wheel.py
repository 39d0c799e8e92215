"""The wheel ships schemas/ and policies/ and works from outside the checkout."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from tests.conftest import ROOT
from tests.plans import NOW, config, plan, write_yaml


def test_wheel_installs_and_validates_outside_checkout(tmp_path: Path,
                                                      git_env: dict[str, str]) -> None:
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist),
                    str(ROOT)], check=True, cwd=tmp_path, env=git_env, timeout=300)
    wheel = next(dist.glob("changeguard-*.whl"))
    import zipfile

    names = zipfile.ZipFile(wheel).namelist()
    assert "changeguard/_data/schemas/changeplan.schema.json" in names
    assert "changeguard/_data/policies/default.yaml" in names
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "-q", str(wheel)], check=True,
                   env=git_env, timeout=600)
    work = tmp_path / "elsewhere"
    work.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=work, check=True, env=git_env)
    write_yaml(work / ".changeguard.yaml", config())
    write_yaml(work / "changes" / "p.yaml", plan())
    env = {k: v for k, v in git_env.items() if k != "PYTHONPATH"}
    r = subprocess.run([str(venv / "bin" / "changeguard"), "validate", "changes/p.yaml",
                        "--now", NOW, "--format", "json"], cwd=work, env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert yaml.safe_load(r.stdout)["ok"] is True
    where = subprocess.run([str(py), "-c", "from changeguard.resources import data_dir;"
                            "print(data_dir('schemas'))"], cwd=work, env=env,
                           capture_output=True, text=True, check=True).stdout.strip()
    assert "site-packages" in where and not where.startswith(str(ROOT))
    assert os.path.isfile(os.path.join(where, "changeplan.schema.json"))
