"""benchmarks/_bench.py: the one writer of RESULTS.md sections that every benchmark uses."""

from __future__ import annotations

import re
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCH))

from _bench import merge_blocks, read_section, write_section  # noqa: E402


def test_rewriting_every_section_of_results_md_with_itself_changes_nothing(tmp_path):
    path = tmp_path / "RESULTS.md"
    original = (BENCH / "RESULTS.md").read_text()
    path.write_text(original)
    names = re.findall(r"<!-- ([\w-]+):begin -->", original)
    assert {"learning", "sb3", "refine", "designer_learning"} <= set(names)
    for name in names:
        write_section(name, read_section(name, path), path)
    assert path.read_text() == original


def test_a_section_is_replaced_in_place_or_appended_under_its_heading(tmp_path):
    path = tmp_path / "RESULTS.md"
    write_section("a", "## A\n\nfirst", path)
    write_section("b", "## B", path, heading="## The B benchmark")
    write_section("a", "## A\n\nsecond", path)
    assert path.read_text() == (
        "# Benchmark results\n\n<!-- a:begin -->\n## A\n\nsecond\n<!-- a:end -->\n\n"
        "## The B benchmark\n\n<!-- b:begin -->\n## B\n<!-- b:end -->\n"
    )
    assert read_section("a", path) == "## A\n\nsecond" and read_section("c", path) is None


def test_merge_blocks_keeps_the_blocks_a_run_did_not_redo():
    old = "\n### x 1\nold x\n\n### y 2\nold y\n"
    assert merge_blocks(old, {"### y": "### y 2\nnew y"}) == "### x 1\nold x\n\n### y 2\nnew y"
    exact = merge_blocks(old, {"### y": "### y\nnew"}, same=lambda line, title: line == title)
    assert exact.count("### y") == 2  # "### y 2" is another block under exact matching
    assert merge_blocks(None, {"### z": "### z"}) == "### z"
