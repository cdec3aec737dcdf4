"""Compose files as input (issue 15): load and merge a Compose project (`project.py`,
`load.py`), then map it onto the stack model (`to_stack.py`) so the stack pipeline checks,
normalizes and plans it like any stack file."""
