"""deploy/image_build.py, the Dockerfile's build helper, run here on real files (the image build runs it too).

What it reads from pyproject.toml decides what the image installs, and what it strips or compiles decides
what the image carries: both are checked without building an image (`make image-test` does that).
"""

from __future__ import annotations

import importlib
import importlib.util
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
HELPER = ROOT / "deploy" / "image_build.py"
PYPROJECT = ROOT / "pyproject.toml"


def load_helper() -> ModuleType:
    spec = importlib.util.spec_from_file_location("image_build", HELPER)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ib = load_helper()


def run(*args: str) -> str:
    proc = subprocess.run(
        [sys.executable, str(HELPER), *args, str(PYPROJECT)], capture_output=True, text=True, timeout=30
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_the_torch_pin_is_the_one_in_pyproject() -> None:
    deps = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    (pin,) = [d for d in deps if d.startswith("torch")]
    assert run("torch").strip() == pin == "torch==2.13.0"


def test_every_runtime_requirement_is_installed_and_no_extra() -> None:
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    lines = run("requirements").splitlines()
    assert lines == project["dependencies"]
    dev = {ib.requirement_name(r) for r in project["optional-dependencies"]["dev"]}
    assert not dev & {ib.requirement_name(r) for r in lines}


def test_build_requires_come_from_the_build_system_table() -> None:
    assert (
        run("build-requires").splitlines() == tomllib.loads(PYPROJECT.read_text())["build-system"]["requires"]
    )


@pytest.mark.parametrize(
    ("requirement", "name"),
    [
        ("torch==2.13.0", "torch"),
        ("Sentence_Transformers>=3.0", "sentence-transformers"),
        ("pydantic-settings[yaml]>=2 ; python_version >= '3.11'", "pydantic-settings"),
    ],
)
def test_requirement_names_are_normalised(requirement: str, name: str) -> None:
    assert ib.requirement_name(requirement) == name


def test_a_pyproject_without_exactly_one_torch_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "pyproject.toml"
    bad.write_text('[project]\nname = "x"\ndependencies = ["numpy"]\n')
    with pytest.raises(SystemExit, match="torch exactly once"):
        ib.torch_requirement(bad)


def make_site(root: Path) -> Path:
    files = [
        "torch/__init__.py",
        "torch/include/ATen/ATen.h",
        "torch/test/Dict_test",
        "torch/share/cmake/Torch/TorchConfig.cmake",
        "torch/bin/torch_shm_manager",
        "torch/bin/test_api",
        "torch/bin/protoc",
        "torch/testing/__init__.py",
        "scipy/stats/tests/test_stats.py",
        "scipy/stats/_stats.py",
        "networkx/algorithms/tests/test_cycles.py",
        "torch-2.13.0+cpu.dist-info/licenses/third_party/json/tests/LICENSE",
    ]
    for name in files:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"x" * 100)
    return root


def test_strip_drops_headers_test_binaries_and_tests_packages_only(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site-packages")
    freed = ib.strip([site])
    left = sorted(str(p.relative_to(site)) for p in site.rglob("*") if p.is_file())
    assert left == [
        "scipy/stats/_stats.py",
        "torch-2.13.0+cpu.dist-info/licenses/third_party/json/tests/LICENSE",
        "torch/__init__.py",
        "torch/bin/torch_shm_manager",
        "torch/testing/__init__.py",
    ]
    assert freed == 7 * 100


@pytest.fixture
def importable(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "lib"
    (root / "imgpkg").mkdir(parents=True)
    (root / "imgpkg" / "__init__.py").write_text("from imgpkg import used\n")
    (root / "imgpkg" / "used.py").write_text("VALUE = 42\n")
    (root / "imgpkg" / "unused.py").write_text("VALUE = 0\n")
    sys.path.insert(0, str(root))
    try:
        yield root
    finally:
        sys.path.remove(str(root))
        for name in [m for m in sys.modules if m == "imgpkg" or m.startswith("imgpkg.")]:
            del sys.modules[name]


def test_compile_loaded_writes_unchecked_hash_bytecode_for_imported_modules_only(importable: Path) -> None:
    importlib.import_module("imgpkg")
    count, size = ib.compile_loaded([importable])
    package = importable / "imgpkg"
    compiled = {p.name.split(".")[0] for p in (package / "__pycache__").glob("*.pyc")}
    assert count == 2 and compiled == {"__init__", "used"} and size > 0
    pyc = importlib.util.cache_from_source(str(package / "used.py"))
    flags = int.from_bytes(Path(pyc).read_bytes()[4:8], "little")
    # PEP 552: bit 0 = hash-based, bit 1 = check the source; unchecked-hash is 0b01.
    assert flags == 0b01
