"""The acceptance story: only curl, against a real server, from components to write-up."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from conftest import Persona

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "curl-story.sh"


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_a_curl_script_runs_an_incident_to_its_write_up(live_url: str, alice: Persona) -> None:
    env = {**os.environ, "TOCSIN_URL": live_url, "TOCSIN_KEY": alice.key, "PAGE_ID": alice.page.id}
    result = subprocess.run(
        ["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    incident_id = result.stdout.strip()

    summary = httpx.get(f"{live_url}/api/v2/summary.json").json()
    assert summary["status"]["description"] == "All Systems Operational"
    assert summary["incidents"] == []
    incidents = httpx.get(f"{live_url}/api/v2/incidents.json").json()["incidents"]
    [incident] = [i for i in incidents if i["id"] == incident_id]
    assert incident["status"] == "postmortem"
    assert [u["status"] for u in incident["incident_updates"]] == [
        "resolved",
        "monitoring",
        "monitoring",
        "identified",
        "investigating",
    ]
    page = httpx.get(f"{live_url}/incidents/{incident_id}").text
    assert "Write-up published" in page
    assert "<code>payments-edge</code>" in page
    assert httpx.get(f"{live_url}/incidents/{incident_id}/write-up").status_code == 200
