#!/usr/bin/env bash
# The scan gate's Trivy reports (one per platform: trivy-linux-amd64.txt, ...) as a section of
# the job summary, so a failed gate says why on the run's page. Long reports are cut; the full
# ones are the run's `trivy-reports` artifact.
#
# Usage: scripts/ci/scan-summary.sh REPORT...   (writes to $GITHUB_STEP_SUMMARY, else stdout)
set -euo pipefail

readonly MAX_LINES=200
out="${GITHUB_STEP_SUMMARY:-/dev/stdout}"

{
  echo "### Scan gate (Trivy: fixable CRITICAL/HIGH fail the run)"
  echo
  found=0
  for report in "$@"; do
    [[ -f $report ]] || continue
    found=1
    platform=${report#trivy-}
    platform=${platform%.txt}
    platform=${platform/-//}
    lines=$(wc -l <"$report")
    echo "#### ${platform}"
    echo
    if [[ $lines -eq 0 ]]; then
      echo "No findings at the gated severities."
    else
      echo '```'
      head -n "$MAX_LINES" "$report"
      echo '```'
      if ((lines > MAX_LINES)); then
        echo "(first ${MAX_LINES} of ${lines} lines: the full report is the trivy-reports artifact)"
      fi
    fi
    echo
  done
  if ((found == 0)); then
    echo "No scan report: the scan did not run (see the failed step above)."
  fi
} >>"$out"
