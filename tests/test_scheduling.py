"""Test files start longest first under --dist loadfile, each file's tests together and in order."""

from __future__ import annotations

from dataclasses import dataclass

from tests.support.scheduling import longest_files_first


@dataclass
class Item:
    nodeid: str


def test_the_longest_file_starts_first_and_unknown_files_keep_their_order() -> None:
    items = [
        Item("tests/a.py::one"),
        Item("tests/a.py::two"),
        Item("tests/b.py::one"),
        Item("tests/walk.py::one"),
        Item("tests/walk.py::two"),
        Item("tests/c.py::one"),
    ]
    ordered = longest_files_first(items, {"tests/walk.py": 300.0, "tests/b.py": 5.0})
    assert [i.nodeid for i in ordered] == [
        "tests/walk.py::one",
        "tests/walk.py::two",
        "tests/b.py::one",
        "tests/a.py::one",
        "tests/a.py::two",
        "tests/c.py::one",
    ]
