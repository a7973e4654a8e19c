"""`TaskError`: a mistake in a task's own code or declarations, named by task, hook and field.

Raised when a spec's declarations name something that does not exist, when ``observe()``
returns fields that disagree with the spec, when a hook returns an unknown termination reason
or metric. The message always says which task, which hook (method or class attribute) and
which field, and what to do, so a task author never meets a bare ``KeyError`` or a numpy
broadcast error.
"""

from __future__ import annotations


class TaskError(Exception):
    """A broken task definition.

    Not a ``ValueError`` on purpose: pydantic would wrap a ``ValueError`` raised while a spec is
    validated into its own error and lose these attributes.

    Attributes:
        task: the task id (or class name when the id is unknown).
        hook: the method or class attribute at fault, e.g. ``"observe"`` or ``"HAZARDS"``.
        field: the state field, metric, constant or reason named in the error, if any.
        problem: what is wrong and what to do, in words.
    """

    def __init__(self, task: str, hook: str, field: str | None, problem: str) -> None:
        self.task, self.hook, self.field, self.problem = task, hook, field, problem
        where = f", field {field!r}" if field else ""
        super().__init__(f"task {task!r}, hook {hook}{where}: {problem}")

    def in_hook(self, hook: str) -> TaskError:
        """The same error attributed to another hook (e.g. the class attribute declaring it)."""
        return TaskError(self.task, hook, self.field, self.problem)
