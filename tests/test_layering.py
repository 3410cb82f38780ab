"""The project's structure: no import circles, primitives that load nothing heavy, what is installed,
the README's module map, and how the suite treats missing data."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tools.layout import import_cycles, import_graph

from .conftest import ROOT


def test_the_package_has_no_import_circle_not_even_through_type_only_or_deferred_imports():
    graph = import_graph(ROOT)
    assert {"xlmr_demo.readers", "xlmr_demo.table", "finetune.loop"} <= set(graph)
    assert "xlmr_demo.table" in graph["xlmr_demo.writers"]  # the graph sees what it must
    assert import_cycles(graph) == []


def test_a_planted_circle_is_found():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert import_cycles(graph) == [["a", "b", "c"]]


def test_fine_tuning_uses_the_library_not_the_command_line():
    graph = import_graph(ROOT)
    for module, deps in graph.items():
        if module.startswith("finetune"):
            assert "xlmr_demo.cli" not in deps, module


@pytest.mark.parametrize(
    "module", ["xlmr_demo.table", "xlmr_demo.paths", "xlmr_demo.models", "xlmr_demo.limits", "xlmr_demo.readers",
               "xlmr_demo.writers", "xlmr_demo.columns", "xlmr_demo.progress"],
)  # fmt: skip
def test_primitives_load_nothing_heavy(module):
    code = f"import sys, {module}; print(sorted(m for m in ('numpy', 'torch', 'gradio', 'pandas') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_readme_module_map_is_drawn_from_the_code():
    from tools.layout import MAP_END, MAP_START, module_map

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    drawn = readme[readme.index(MAP_START) : readme.index(MAP_END) + len(MAP_END)]
    assert drawn == module_map(ROOT), "the module map is stale: run python tools/layout.py"


def test_every_package_folder_is_installed():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    declared = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for pkg in ("xlmr_demo", "finetune")
             for p in (ROOT / pkg).rglob("__init__.py")}  # fmt: skip
    assert declared == found


def test_missing_shared_data_skips_on_a_laptop_and_fails_in_ci(monkeypatch, tmp_path):
    from .conftest import missing_shared_data

    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception):
        missing_shared_data(tmp_path / "absent")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must run the tests that read it"):
        missing_shared_data(tmp_path / "absent")
