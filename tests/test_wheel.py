"""The wheel ships schemas/ and policies/ and works from outside the checkout."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests import smoke
from tests.conftest import ROOT
from tests.helpers.plans import NOW, config, plan, write_yaml


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
    # what a user meets: usage errors exit 2 with one `error:` line, everyday commands work,
    # in a venv holding only the runtime dependencies (no dev extra to hide a missing one)
    dev_only = subprocess.run([str(py), "-c", "import check_jsonschema"], capture_output=True)
    assert dev_only.returncode != 0, "the user venv must not hold the dev extra"
    problems = smoke.battery(str(venv / "bin" / "changeguard"))
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("example", ["github-actions.yml", "gitlab-ci.yml"])
def test_ci_examples_install_this_project(example: str, tmp_path: Path,
                                          git_env: dict[str, str]) -> None:
    """The examples' install line installs this project from its repository at a pinned rev."""
    doc = (ROOT / "examples" / "ci" / example).read_text()
    assert "pip install changeguard\n" not in doc  # PyPI's `changeguard` is another project
    line = next(ln for ln in doc.splitlines() if "pip install" in ln)
    command = shlex.split(line.split("pip install", 1)[1])
    assert "CHANGEGUARD_REPO" in doc and "CHANGEGUARD_TAG" in doc
    src = tmp_path / "src"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(src)], check=True, env=git_env)
    rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=src, check=True, env=git_env,
                         capture_output=True, text=True).stdout.strip()
    url = f"file://localhost{src}"
    spec = [c.replace("${CHANGEGUARD_REPO}", url).replace("${CHANGEGUARD_TAG}", rev)
            for c in command]
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps",
                    *spec], check=True, env=git_env, timeout=600)
    shown = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "show", "-f",
                            "changeguard"], capture_output=True, text=True, check=True).stdout
    assert "changeguard/_data/policies/default.yaml" in shown
