"""The deployment files (Dockerfile, compose.yaml, docs/deploy.md) name real `htx` commands and settings.

Docker itself is not run here (the test machines have no engine): these checks catch a renamed command, flag or
setting."""

from __future__ import annotations

import contextlib
import io
import json
import re
import shlex
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.cli import main
from bot.i18n import LOCALES, SUPPORTED

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = {
    line.split("=", 1)[0]
    for line in (ROOT / ".env.example").read_text(encoding="utf-8").splitlines()
    if re.match(r"[A-Z_]+=", line)
}
# A name with one of our prefixes (HTX_, TELEGRAM_, ZALO_ ...) must be a real setting; others (PYTHON*, POSTGRES_*)
# belong to Python or to the images.
PREFIXES = tuple({name.split("_", 1)[0] + "_" for name in EXAMPLE})


def help_text(*args: str) -> str:
    """What `htx ARGS --help` prints."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as exit_:
        main([*args, "--help"])
    assert exit_.value.code == 0
    return out.getvalue()


def assert_real_command(command: list[str]) -> None:
    """`command` is `htx SUB-COMMAND [--option ...]` with a sub-command and options `htx --help` knows."""
    assert command[0] == "htx", command
    sub, *options = command[1:]
    assert re.search(rf"\b{sub}\b", help_text()), f"htx has no sub-command {sub}"
    usage = help_text(sub)
    for option in options:
        if option.startswith("--"):
            assert option in usage, f"htx {sub} has no option {option}"


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    return loaded


def dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text(encoding="utf-8")


def test_compose_runs_postgres_16_with_a_volume_and_a_healthcheck():
    db = compose()["services"]["db"]
    assert db["image"] == "postgres:16"
    assert any(volume.endswith(":/var/lib/postgresql/data") for volume in db["volumes"])
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])


def test_compose_runs_the_service_in_its_web_and_workers_roles():
    services = compose()["services"]
    assert services["web"]["command"] == ["htx", "serve", "--web-only"]
    assert services["workers"]["command"] == ["htx", "serve", "--workers-only"]
    for name in ("migrate", "web", "workers"):
        assert_real_command(services[name]["command"])
        assert services[name]["environment"]["HTX_DATABASE_URL"].startswith("postgresql+asyncpg://")
    for name in ("web", "workers"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_compose_sets_only_settings_that_exist():
    for name, service in compose()["services"].items():
        ours = {key for key in service.get("environment", {}) if key.startswith(PREFIXES)}
        assert ours <= EXAMPLE, (name, ours - EXAMPLE)


def test_the_dockerfile_builds_from_python_311_slim_as_a_user_and_runs_htx_serve():
    text = dockerfile()
    assert re.search(r"^FROM python:3\.11-slim\b", text, re.MULTILINE)
    user = re.findall(r"^USER (\S+)", text, re.MULTILINE)
    assert user and user[-1] not in ("root", "0")
    assert "pip install ." in text
    (cmd,) = re.findall(r"^CMD (.+)$", text, re.MULTILINE)
    command = json.loads(cmd)
    assert command == ["htx", "serve"]
    assert_real_command(command)


def test_the_dockerfile_sets_only_settings_that_exist():
    block = " ".join(re.findall(r"^ENV ((?:.*\\\n)*.*)$", dockerfile(), re.MULTILINE)).replace("\\\n", " ")
    names = {word.split("=", 1)[0] for word in block.split()}
    ours = {name for name in names if name.startswith(PREFIXES)}
    assert ours and ours <= EXAMPLE, ours - EXAMPLE


def test_the_deploy_guide_runs_real_commands():
    guide = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    commands = {line.split("htx ", 1)[1] for line in re.findall(r"ExecStart=\S*htx [^\n]+", guide)}
    assert any("--web-only" in c for c in commands) and any("--workers-only" in c for c in commands)
    for command in commands:
        words = [w for w in shlex.split(command) if not w.startswith("%")]
        assert_real_command(["htx", words[0], *[w for w in words[1:] if w.startswith("--")]])
    settings = set(re.findall(r"\b((?:HTX|TELEGRAM|MESSENGER|ZALO|SEPAY|CASSO)_[A-Z_]+)=", guide))
    assert settings <= EXAMPLE, settings - EXAMPLE


# What a checkout holds besides its tracked files (.gitignore), left out of the copy a wheel is built from.
UNTRACKED = (".git", ".venv", "build", "*.egg-info", "__pycache__", "*_cache", "htx.db*", ".env")


def test_the_built_package_carries_the_translations_where_i18n_reads_them(tmp_path):
    """A plain `pip install .` (the Dockerfile's) must chat in Vietnamese: without the catalogues beside the installed
    packages every reply would be the English source text."""
    # Built from a copy: setuptools would reuse whatever an earlier build left in the checkout's build/.
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*UNTRACKED))
    wheel_command = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(tmp_path), "."]
    subprocess.run(wheel_command, cwd=source, check=True, capture_output=True)
    (wheel,) = tmp_path.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "bot/i18n.py" in names
    for locale in SUPPORTED:
        assert f"{LOCALES.relative_to(ROOT)}/{locale}/LC_MESSAGES/messages.po" in names
