"""Roll back by running a configured command (``kubectl rollout undo``, ``vercel rollback`` …)."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from datetime import timedelta
from pathlib import Path

import attrs

from incidentkit.errors import ValidationError
from incidentkit.mitigation._base import ActionPlugin, Verify
from incidentkit.mitigation._model import MitigationContext, MitigationResult

__all__ = ["RollbackAction", "RollbackParams"]

_TAIL_CHARS = 2000


def _check_target(_inst: object, _attr: object, value: str | None) -> None:
    if value is None:
        return
    if not value.strip() or value != value.strip():
        raise ValidationError("target", "must be a non-empty name without surrounding spaces")
    if value.startswith("-"):
        raise ValidationError("target", "must not start with '-' (it is passed as an argument)")
    if "\x00" in value or "\n" in value:
        raise ValidationError("target", "must not contain NUL or newline characters")


def _check_reason(_inst: object, _attr: object, value: str) -> None:
    if "\x00" in value:
        raise ValidationError("reason", "must not contain NUL characters")
    if len(value) > 1000:
        raise ValidationError("reason", "must be at most 1000 characters")


@attrs.frozen
class RollbackParams:
    """What to roll back.

    ``target`` (a revision, release or deployment name) is appended to the
    configured command as its last argument when given; it may not start
    with ``-``, so it can never be read as an option. ``reason`` is passed
    only through the environment (``INCIDENTKIT_ROLLBACK_REASON``), never as
    an argument.
    """

    target: str | None = attrs.field(default=None, validator=_check_target)
    reason: str = attrs.field(default="", validator=_check_reason)


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _tail(stdout: object, stderr: object) -> str:
    combined = _text(stdout) + _text(stderr)
    combined = combined.strip()
    return combined if len(combined) <= _TAIL_CHARS else "…" + combined[-(_TAIL_CHARS - 1) :]


class RollbackAction(ActionPlugin):
    """Run ``command`` (an argument list, never a shell string) to roll back.

    The command runs with stdin closed, output captured, and ``timeout``;
    on timeout its whole process group is killed. Its environment is the
    host's, plus ``env``, plus ``INCIDENTKIT_INCIDENT_ID``,
    ``INCIDENTKIT_REQUESTED_BY``, ``INCIDENTKIT_ROLLBACK_TARGET`` and
    ``INCIDENTKIT_ROLLBACK_REASON``. Exit status 0 is applied; anything else,
    or a timeout, fails with the tail of the output.

    >>> import sys
    >>> rollback = RollbackAction([sys.executable, "-c", "print('rolled back')"])
    >>> [a.name for a in rollback.incidentkit_mitigation_actions()]
    ['rollback']
    """

    params_type = RollbackParams
    description = "Roll back the last deployment by running a configured command."

    def __init__(
        self,
        command: Sequence[str],
        *,
        timeout: timedelta = timedelta(minutes=5),
        cwd: str | os.PathLike[str] | None = None,
        env: Mapping[str, str] | None = None,
        name: str = "rollback",
        verify: Verify | None = None,
        description: str | None = None,
    ) -> None:
        # the outer bound (execute_action) leaves room for the kill and the output read
        super().__init__(
            name=name,
            timeout=timeout + timedelta(seconds=15) if isinstance(timeout, timedelta) else timeout,
            verify=verify,
            description=description,
        )
        if isinstance(command, str | bytes):
            raise ValidationError("command", "expected an argument list, not a shell string")
        self.command = tuple(command)
        if not self.command or not all(isinstance(a, str) and a for a in self.command):
            raise ValidationError("command", "expected a non-empty list of non-empty strings")
        self.command_timeout = timeout
        self.cwd = None if cwd is None else Path(cwd)
        self.env = dict(env or {})
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in self.env.items()):
            raise ValidationError("env", "expected a mapping of strings to strings")

    def argv(self, params: RollbackParams) -> list[str]:
        """The argument list run for ``params``."""
        return [*self.command, *((params.target,) if params.target else ())]

    def execute(self, context: MitigationContext, params: RollbackParams) -> MitigationResult:
        """Run the command and report its exit status and output tail."""
        env = {
            **os.environ,
            **self.env,
            "INCIDENTKIT_INCIDENT_ID": context.incident_id,
            "INCIDENTKIT_REQUESTED_BY": context.requested_by,
            "INCIDENTKIT_ROLLBACK_TARGET": params.target or "",
            "INCIDENTKIT_ROLLBACK_REASON": params.reason,
        }
        argv = self.argv(params)
        shown = " ".join(argv)
        try:
            process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=self.cwd,
                env=env,
                start_new_session=os.name == "posix",
            )
        except OSError as err:
            return MitigationResult.failed(f"could not start {shown}: {err}", command=shown)
        try:
            stdout, stderr = process.communicate(timeout=self.command_timeout.total_seconds())
        except subprocess.TimeoutExpired:
            self._kill(process)
            try:
                stdout, stderr = process.communicate(timeout=5)
            except subprocess.TimeoutExpired:
                stdout, stderr = b"", b""
            return MitigationResult.failed(
                f"{shown} timed out after {self.command_timeout}",
                command=shown,
                output=_tail(stdout, stderr),
            )
        tail = _tail(stdout, stderr)
        if process.returncode != 0:
            return MitigationResult.failed(
                f"{shown} exited with status {process.returncode}",
                command=shown,
                exit_code=str(process.returncode),
                output=tail,
            )
        return MitigationResult.applied(
            f"{shown} succeeded", command=shown, exit_code="0", output=tail
        )

    @staticmethod
    def _kill(process: subprocess.Popen[bytes]) -> None:
        try:
            if os.name == "posix":
                os.killpg(process.pid, signal.SIGKILL)
            else:  # pragma: no cover - exercised on Windows only
                process.kill()
        except ProcessLookupError:
            pass
