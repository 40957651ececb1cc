"""Every state the pipeline reports, as enums: a run's outcome, a deployment record, a stage.

Members are strings (StrEnum) whose values are the words run.json, the deployment records, the
JSON lines and `$GITHUB_OUTPUT` have always carried, so old records and reports still read. A
run's status knows its exit code (the shared table in `commandline.exitcodes`): the pipeline
sets the status and the exit code follows, so the two can never disagree.
"""

from __future__ import annotations

from enum import StrEnum

from commandline.exitcodes import ExitCode


class RunStatus(StrEnum):
    """How a command ended; `exit_code` is what the process exits with."""

    exit_code: ExitCode
    icon: str

    def __new__(cls, value: str, exit_code: ExitCode, icon: str) -> RunStatus:
        member = str.__new__(cls, value)
        member._value_ = value
        member.exit_code = exit_code
        member.icon = icon  # the job summary's heading
        return member

    SUCCEEDED = "succeeded", ExitCode.OK, "✅"
    FAILED = "failed", ExitCode.FAILED, "❌"
    ROLLED_BACK = "rolled_back", ExitCode.ROLLED_BACK, "↩️"
    NOT_RECOVERED = "not_recovered", ExitCode.NOT_RECOVERED, "🚨"
    NOTHING_TO_ROLL_BACK = "nothing_to_roll_back", ExitCode.NOTHING_TO_ROLL_BACK, "⚠️"
    BLOCKED = "blocked", ExitCode.BLOCKED, "🚨"
    #: SIGINT's code; a SIGTERM run exits 143 (`PipelineResult.interrupt` says which).
    INTERRUPTED = "interrupted", ExitCode.INTERRUPTED, "⏹️"


class RecordStatus(StrEnum):
    """Where one deployment record stands; `verified` is what a rollback may return to."""

    IN_PROGRESS = "in_progress"
    DEPLOYED = "deployed"  # by `up` alone: serving, never verified (not a rollback target)
    VERIFIED = "verified"
    VERIFY_FAILED = "verify_failed"
    DEPLOY_FAILED = "deploy_failed"
    ROLLED_BACK = "rolled_back"  # a failed deploy whose rollback verified
    BLOCKED = "blocked"  # deployed; verification waits on a named manual step
    INTERRUPTED = "interrupted"
    CANARY_ABORTED = "canary_aborted"  # the judge aborted the traffic split; the old one serves


class RecordKind(StrEnum):
    DEPLOY = "deploy"
    ROLLBACK = "rollback"


class StageStatus(StrEnum):
    """A stage's result, and the other words a stage-log line may carry."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    # events that are not a stage's result
    STARTED = "started"
    WAITING = "waiting"  # for another update's lock
    RETRYING = "retrying"  # after a transient error
    NOTE = "note"  # something the operator should know (what was cleaned)
