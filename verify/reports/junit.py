"""junit.xml in the shape GitHub test reporters (and Jenkins, GitLab) read.

One <testsuite> per run, one <testcase> per check; FAILED → <failure>, ERROR → <error>,
SKIPPED → <skipped>. Built with ElementTree so escaping is never hand-rolled.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from verify.model import Report, Status

#: Characters XML 1.0 forbids even escaped; an app's error body can contain them.
_INVALID_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: str) -> str:
    return _INVALID_XML.sub("\ufffd", text)


def render_junit(report: Report) -> bytes:
    totals = report.totals
    suite_name = f"verify {report.stack}" if report.stack else "verify"
    suites = ET.Element(
        "testsuites",
        name="passport-verify",
        tests=str(totals["total"]),
        failures=str(totals["FAILED"]),
        errors=str(totals["ERROR"]),
        skipped=str(totals["SKIPPED"]),
        time=f"{report.wall_s:.3f}",
    )
    suite = ET.SubElement(
        suites,
        "testsuite",
        name=suite_name,
        tests=str(totals["total"]),
        failures=str(totals["FAILED"]),
        errors=str(totals["ERROR"]),
        skipped=str(totals["SKIPPED"]),
        time=f"{report.wall_s:.3f}",
        timestamp=report.started_at,
    )
    for result in report.results:
        case = ET.SubElement(
            suite,
            "testcase",
            name=xml_text(result.name),
            classname=f"verify.{result.name}",
            time=f"{result.duration_s:.3f}",
        )
        message = xml_text(result.message)
        first_line = message.split("; ")[0][:500]
        if result.status is Status.FAILED:
            node = ET.SubElement(case, "failure", message=first_line, type="CheckFailed")
            node.text = message
        elif result.status is Status.ERROR:
            node = ET.SubElement(case, "error", message=first_line, type="CheckError")
            node.text = message + "\n" + xml_text(str(result.details.get("traceback", "")))
        elif result.status is Status.SKIPPED:
            ET.SubElement(case, "skipped", message=first_line)
        elif result.status is Status.BLOCKED:  # JUnit has no "blocked": not a failure either
            ET.SubElement(case, "skipped", message=f"blocked on a manual step: {first_line}")
        out = ET.SubElement(case, "system-out")
        out.text = xml_text(json.dumps(result.details, default=str)[:20000])
    ET.indent(suites)
    return ET.tostring(suites, encoding="utf-8", xml_declaration=True)


def write_junit(report: Report, path: Path) -> Path:
    path.write_bytes(render_junit(report))
    return path
