"""Scenario results as JUnit XML, which every CI server reads (``simulate --junit FILE``)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any


def write(path: Path, results: list[Any], *, url: str, seconds: float) -> None:
    """One ``testsuite`` of one ``testcase`` per scenario: a failure with every unmet
    requirement (request and answer included), or a skip with its reason."""
    failed = sum(1 for r in results if r.failures)
    skipped = sum(1 for r in results if r.skips and not r.failures)
    suite = ET.Element(
        "testsuite",
        name="kassa24-simulate",
        tests=str(len(results)),
        failures=str(failed),
        skipped=str(skipped),
        errors="0",
        time=f"{seconds:.3f}",
    )
    ET.SubElement(ET.SubElement(suite, "properties"), "property", name="merchant", value=url)
    for result in results:
        case = ET.SubElement(suite, "testcase", classname="kassa24.scenarios", name=result.name)
        if result.failures:
            failure = ET.SubElement(case, "failure", message=result.failures[0].splitlines()[0])
            failure.text = "\n\n".join(result.failures)
        elif result.skips:
            ET.SubElement(case, "skipped", message="; ".join(result.skips))
        ET.SubElement(case, "system-out").text = result.requires
    tree = ET.ElementTree(suite)
    ET.indent(tree)
    tree.write(path, encoding="utf-8", xml_declaration=True)
