"""Running notebook-style cells in a real InteractiveShell."""

import tensorflow as tf


def run(shell, code: str):
    """Run ``code`` as a notebook cell (numbered, with the cell events)."""
    return shell.run_cell(code, store_history=True)


def ok(shell, code: str):
    """Run a cell that must succeed; return its displayed value."""
    result = run(shell, code)
    assert result.success, repr(result.error_in_exec or result.error_before_exec)
    return result.result


def ops_count(graph: tf.Graph) -> int:
    return len(graph.get_operations())
